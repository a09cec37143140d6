-- A story's copies over time, in the order they appeared, with their sources and topics.
-- One row per document of a story, in the order they appeared (publication, or first sighting
-- when earlier or undated), with the delay after the story's first copy, the source and the
-- topics each copy is tagged with.
CREATE OR REPLACE VIEW v_story_timeline AS
WITH copies AS (
    SELECT
        d.*,
        least(coalesce(d.published_at, d.first_seen_at), d.first_seen_at) AS appeared_at
    FROM v_documents d
    WHERE d.story_id IS NOT NULL
)
SELECT
    c.story_id,
    s.canonical_title,
    row_number() OVER (PARTITION BY c.story_id ORDER BY c.appeared_at, c.first_seen_at, c.id) AS copy_number,
    c.id AS document_id,
    c.is_canonical,
    c.title,
    c.source,
    c.url,
    c.appeared_at,
    c.published_at,
    c.first_seen_at,
    round(epoch(c.appeared_at - min(c.appeared_at) OVER (PARTITION BY c.story_id)) / 3600, 2) AS hours_after_first,
    c.similarity,
    coalesce(t.topics, []) AS topics
FROM copies c
JOIN v_stories s ON s.story_id = c.story_id
LEFT JOIN (
    SELECT document_id, list(topic ORDER BY topic) AS topics FROM v_document_topics GROUP BY document_id
) t ON t.document_id = c.id;
