-- One row per story: its canonical (earliest) document and how far it spread.
CREATE OR REPLACE VIEW v_stories AS
SELECT
    s.id AS story_id,
    c.title AS canonical_title,
    s.canonical_document_id,
    count(*) AS documents,
    count(DISTINCT d.source) AS sources,
    min(d.first_seen_at) AS first_seen_at,
    max(d.first_seen_at) AS last_seen_at
FROM stories s
JOIN story_members m ON m.story_id = s.id
JOIN documents d ON d.id = m.document_id
JOIN documents c ON c.id = s.canonical_document_id
GROUP BY ALL;
