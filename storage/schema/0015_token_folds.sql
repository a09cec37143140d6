-- Reprint index, token folds: since this release a copy's words are read with ё as е, without
-- soft hyphens, word joiners or zero-width no-break spaces, and with ʻ ʼ ` ´ ′ as an apostrophe
-- (newsmon.dedupe._TOKEN_FOLD). Stories whose canonical holds one of those characters were
-- indexed with the old reading, so a copy printed the other way (a headline with е for ё) could
-- miss them by its exact or headline key.
--
-- Upgrading: those stories' index rows are dropped and the stories queued in
-- story_index_backlog (as migrations 0004 and 0009 did for every story); the next dedupe step
-- indexes them again from their stored text before it looks anything up.

CREATE TEMPORARY TABLE refolded AS
SELECT s.id AS story_id
FROM stories s
JOIN documents d ON d.id = s.canonical_document_id
WHERE s.kind IS DISTINCT FROM 'boilerplate'
    AND regexp_matches(d.title || ' ' || d.body, '[ёЁ\x{00AD}\x{2060}\x{FEFF}ʻʼ`´′]');
DELETE FROM lsh_bands
WHERE story_key IN (SELECT story_key FROM story_index WHERE story_id IN (SELECT story_id FROM refolded));
DELETE FROM story_index WHERE story_id IN (SELECT story_id FROM refolded);
INSERT INTO story_index_backlog
SELECT story_id FROM refolded WHERE story_id NOT IN (SELECT story_id FROM story_index_backlog);
DROP TABLE refolded;
