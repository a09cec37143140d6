-- Provenance of the dedupe index and of feed silences: like every other table, each row now
-- carries the id of the run that inserted it.
--
-- story_index.run_id: the run that indexed the story (a story indexed again, because its
-- canonical was stored again with another text, gets the run that re-indexed it).
-- lsh_bands has no run_id of its own: its rows (84 per full story) are keyed by story_key and
-- are written and deleted together with the story_index row of the same story_key, so they
-- take their provenance from that row (join on story_key).
-- feed_silences.run_id: the run that found the feed silent (the run of its alert).
--
-- Rows written before this migration: feed silences take the run of their alert; index rows
-- keep a NULL run_id (the run that indexed them was not recorded).

ALTER TABLE story_index ADD COLUMN run_id VARCHAR;
ALTER TABLE feed_silences ADD COLUMN run_id VARCHAR;

UPDATE feed_silences SET run_id = (SELECT a.run_id FROM alerts a WHERE a.id = feed_silences.alert_id);
