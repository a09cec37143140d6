-- Stories for the dashboard's lists: those with a document tagged (current topic versions) on a
-- day in [$since, $until], for $topic (or any topic when NULL), with a copy from $source (or any
-- source when NULL). One row per story: its canonical headline and link, copies, reprints,
-- sources, first sighting, the topics it is tagged with, and its best evidence sentence; total:
-- how many stories the filters give, before the limit.
WITH hits AS (
    SELECT t.topic, t.story_id, t.document_id, t.score, t.evidence, t.is_canonical
    FROM v_topic_documents t
    WHERE t.story_id IS NOT NULL
      AND ($topic IS NULL OR t.topic = $topic)
      AND ($since IS NULL OR t.day >= $since)
      AND ($until IS NULL OR t.day <= $until)
),
chosen AS (
    SELECT
        story_id,
        list(DISTINCT topic ORDER BY topic) AS topics,
        arg_max(evidence, (is_canonical, score)) AS evidence,
        max(score) AS score
    FROM hits
    GROUP BY story_id
)
SELECT
    s.story_id,
    s.canonical_title AS title,
    s.canonical_source,
    s.canonical_url,
    s.documents,
    s.reprints,
    s.sources,
    s.source_list,
    s.first_seen_at,
    s.canonical_at,
    s.kind,
    c.topics,
    coalesce(c.evidence, '') AS evidence,
    coalesce(c.score, 0.0) AS score,
    count(*) OVER () AS total
FROM chosen c
JOIN v_stories s ON s.story_id = c.story_id
WHERE $source IS NULL OR list_contains(s.source_list, $source)
ORDER BY s.first_seen_at DESC, s.story_id
LIMIT $limit
