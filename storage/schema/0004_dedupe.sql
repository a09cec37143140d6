-- Reprint detection, second scheme: story canonicals are indexed by exact key, headline key
-- and LSH bands of two one-permutation MinHash signatures (character 7-grams of the body and
-- of its lead), each row carrying the canonical's day so lookups read only a time window.
-- Members record what differs from the canonical. Tables stay internal: see v_stories and
-- v_reprints.
--
-- Upgrading: band rows of the first scheme (word 3-gram MinHash) are dropped. Every stored
-- story is queued in story_index_backlog; the next dedupe step re-fingerprints those stories'
-- canonicals from their stored text and indexes them before it looks anything up, so stored
-- stories keep attracting their reprints. Existing memberships are kept as they were
-- (method 'minhash', no containment or differences).

DROP TABLE lsh_bands;
CREATE TABLE lsh_bands (
    band_key  BIGINT NOT NULL,               -- hash of one band of a canonical's signature (band number mixed in)
    day       INTEGER NOT NULL,              -- canonical's day: days since 1970-01-01 UTC, published else first seen
    story_key BIGINT NOT NULL                -- story_index.story_key of the canonical's story
);

CREATE TABLE story_index (
    story_id     VARCHAR NOT NULL,           -- a story new documents may join (boilerplate pages are never here)
    story_key    BIGINT NOT NULL,            -- 64-bit key of story_id, as lsh_bands stores it
    day          INTEGER NOT NULL,           -- as lsh_bands.day
    kind         VARCHAR NOT NULL,           -- full | short
    exact_key    BIGINT NOT NULL,            -- hash of the normalized body (full) or headline and body (short)
    headline_key BIGINT                      -- hash of the normalized headline of 4+ words, else NULL
);

CREATE TABLE story_index_backlog AS SELECT id AS story_id FROM stories;

ALTER TABLE stories ADD COLUMN kind VARCHAR DEFAULT 'full';           -- full | short | boilerplate
ALTER TABLE story_members ADD COLUMN containment DOUBLE;              -- share of the member found in the canonical
ALTER TABLE story_members ADD COLUMN coverage DOUBLE;                 -- share of the canonical found in the member
ALTER TABLE story_members ADD COLUMN differences VARCHAR[];           -- headline, truncated, added_text, edited, noisy
ALTER TABLE document_signatures ADD COLUMN scheme VARCHAR DEFAULT 'minhash-w3-128';
