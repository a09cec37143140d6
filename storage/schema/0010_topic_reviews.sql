-- Reviews of a topic's tags by a reader (`newsmon topics review | judge | score`): a seeded,
-- stratified sample of the stored documents, the reader's labels, and what each stratum held
-- when it was drawn, so that the labels can be weighted back to the whole store.
-- Draws and judgements carry ids of their own, not rows of `runs`: the trend views take the
-- latest run as "today", and a review made on a replayed past must not move it.

CREATE TABLE topic_reviews (
    id            VARCHAR PRIMARY KEY,         -- rv-<topic>-<date>-<hex>
    topic         VARCHAR NOT NULL,
    topic_version VARCHAR NOT NULL,            -- the version whose tags were sampled
    seed          BIGINT NOT NULL,
    drawn_at      TIMESTAMPTZ NOT NULL,
    run_id        VARCHAR NOT NULL             -- the id of the `topics review` that drew it (review-…)
);

-- Keyed by review: written once with it, and its provenance is the review's run.
CREATE TABLE review_strata (
    review_id  VARCHAR NOT NULL,
    stratum    VARCHAR NOT NULL,               -- tagged | near | rest
    population BIGINT NOT NULL,                -- stored documents in the stratum when drawn
    drawn      INTEGER NOT NULL,
    PRIMARY KEY (review_id, stratum)
);

CREATE TABLE review_items (
    review_id   VARCHAR NOT NULL,
    document_id VARCHAR NOT NULL,
    stratum     VARCHAR NOT NULL,
    position    INTEGER NOT NULL,              -- the order the reader sees (shuffled)
    label       VARCHAR,                       -- yes | no | unsure; NULL until judged
    note        VARCHAR,
    judged_at   TIMESTAMPTZ,
    run_id      VARCHAR NOT NULL,              -- the draw's id, then that of the `topics judge` that labelled it (judge-…)
    PRIMARY KEY (review_id, document_id)
);
