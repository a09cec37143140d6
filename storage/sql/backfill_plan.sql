-- What a backfill from ? re-processes, in replay order (time, url, id): the documents first seen
-- or published since then, and every member of a story whose canonical is one of them.
WITH picked AS (
    SELECT id FROM documents WHERE first_seen_at >= ? OR published_at >= ?
),
stories_of AS (
    SELECT s.id FROM stories s JOIN picked p ON p.id = s.canonical_document_id
),
wanted AS (
    SELECT id FROM picked
    UNION
    SELECT m.document_id FROM story_members m JOIN stories_of s ON s.id = m.story_id
)
SELECT d.id, coalesce(d.published_at, d.first_seen_at) AS "at", d.url, d.first_seen_at, d.text_hash, m.story_id
FROM documents d
JOIN wanted USING (id)
LEFT JOIN story_members m ON m.document_id = d.id
ORDER BY "at", d.url, d.id
