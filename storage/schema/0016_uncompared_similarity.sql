-- Reprint similarity, not compared: a feed item joined to a story by its headline, when one of
-- the two has no text to compare (a headline-only entry), was stored with similarity 0, which
-- read as "nothing alike". Since this release its similarity is NULL (not compared), and the
-- views and the dashboard say "headline only".

ALTER TABLE story_members ALTER COLUMN similarity DROP NOT NULL;
UPDATE story_members SET similarity = NULL WHERE method = 'headline' AND containment IS NULL;
