-- (topic, story) pairs in staged_pairs: the canonical headline and link, copies, sources, first
-- sighting, the canonical's publication time, the latest copy's (published, else first seen), and the evidence of the story's best current tag for
-- the topic (the canonical's first).
WITH tagged AS (
    SELECT p.topic, p.story_id, t.evidence, t.score, s.canonical_document_id = t.document_id AS canonical
    FROM staged_pairs p
    JOIN stories s ON s.id = p.story_id
    JOIN story_members m ON m.story_id = p.story_id
    JOIN document_topics t ON t.document_id = m.document_id AND t.topic = p.topic
    JOIN topic_versions v ON v.topic = t.topic AND v.version = t.topic_version AND v.is_current
),
best AS (
    SELECT topic, story_id, arg_max(evidence, (canonical, score)) AS evidence, max(score) AS score
    FROM tagged GROUP BY ALL
),
spread AS (
    SELECT p.topic, p.story_id, count(*) AS documents,
        list(DISTINCT d.source ORDER BY d.source) AS sources, min(d.first_seen_at) AS first_seen_at,
        max(coalesce(d.published_at, d.first_seen_at)) AS latest_at
    FROM staged_pairs p
    JOIN story_members m ON m.story_id = p.story_id
    JOIN documents d ON d.id = m.document_id
    GROUP BY ALL
)
SELECT sp.topic, sp.story_id, c.title AS headline, c.url, sp.documents, sp.sources,
    coalesce(b.evidence, '') AS evidence, coalesce(b.score, 0.0) AS score, sp.first_seen_at, c.published_at,
    sp.latest_at
FROM spread sp
JOIN stories s ON s.id = sp.story_id
JOIN documents c ON c.id = s.canonical_document_id
LEFT JOIN best b ON b.topic = sp.topic AND b.story_id = sp.story_id
