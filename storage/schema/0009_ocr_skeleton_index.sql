-- Reprint detection, third scheme (oph-c7ocr-2x128): the LSH bands are taken from character
-- 7-grams of the text's OCR skeleton (words run together, confusable letters and digits folded,
-- doubled letters single; newsmon.dedupe.ocr_skeleton) instead of the space-joined words, so
-- that heavily misread copies still share bands with their original.
--
-- Upgrading: the index rows of the second scheme are dropped and every story is queued in
-- story_index_backlog, as migration 0004 did; the next dedupe step re-fingerprints those
-- stories' canonicals from their stored text, in batches, before it looks anything up.
-- Memberships and stored signatures are kept (document_signatures.scheme says which scheme
-- made each signature).

DELETE FROM lsh_bands;
DELETE FROM story_index;
INSERT INTO story_index_backlog
SELECT id FROM stories WHERE kind IS DISTINCT FROM 'boilerplate'
    AND id NOT IN (SELECT story_id FROM story_index_backlog);
