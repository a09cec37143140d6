-- What a changed topic definition is scored against (`newsmon topics score --topics FILE`):
-- the stored documents of a review's tagged and near strata when it was drawn (the rest
-- stratum is every other document stored by then), so that its tags can be counted per
-- stratum; the latest run the drawn snapshot held, so that documents stored since are left
-- out; and the text each drawn document had, so that a label given to a text that has
-- changed since is not counted for it. Reviews drawn before this migration have none of
-- these, and cannot score a changed definition (`topics score` says so; the version reviewed
-- still scores). IF NOT EXISTS: development builds of 0010 already held some of them.

ALTER TABLE review_items ADD COLUMN IF NOT EXISTS text_hash VARCHAR;  -- the document's text_hash when drawn
ALTER TABLE topic_reviews ADD COLUMN IF NOT EXISTS store_run_at TIMESTAMPTZ;  -- the latest run in the drawn snapshot

-- Keyed by review: written once with it, its provenance is the review's (run_id there).
CREATE TABLE IF NOT EXISTS review_members (
    review_id   VARCHAR NOT NULL,
    document_id VARCHAR NOT NULL,
    stratum     VARCHAR NOT NULL,              -- tagged | near
    PRIMARY KEY (review_id, document_id)
);

-- Development builds recorded draws and judgements as runs, which moved the trend views' "today".
DELETE FROM runs WHERE id LIKE 'review-%' OR id LIKE 'judge-%';
