-- What a changed topic definition is scored against (`newsmon topics score --topics FILE`):
-- the stored documents of a review's tagged and near strata when it was drawn (the rest
-- stratum is every other document), so that its tags can be counted per stratum; and the
-- text each drawn document had, so that a label given to a text that has changed since is not
-- counted for it. Reviews drawn before this migration have neither, and cannot score a
-- changed definition (`topics score` says so; the version reviewed still scores).

ALTER TABLE review_items ADD COLUMN text_hash VARCHAR;  -- the document's text_hash when drawn

-- Keyed by review: written once with it, its provenance is the review's (run_id there).
CREATE TABLE review_members (
    review_id   VARCHAR NOT NULL,
    document_id VARCHAR NOT NULL,
    stratum     VARCHAR NOT NULL,              -- tagged | near
    PRIMARY KEY (review_id, document_id)
);
