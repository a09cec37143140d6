-- One row per story: its canonical (earliest) document, how far it spread and where.
-- kind: full (article text), short (feed summary or a few words: joined by headline) or
-- boilerplate (a paywall, cookie wall or bot check page: a story of its own, never joined).
-- origin: the publisher the canonical names as its source, else the first one a copy names.
-- spread: from the canonical's time (publication, else first sighting) to the latest copy's.
CREATE OR REPLACE VIEW v_stories AS
WITH spread AS (
    SELECT
        m.story_id,
        count(*) AS documents,
        count(DISTINCT d.source) AS sources,
        min(d.first_seen_at) AS first_seen_at,
        max(d.first_seen_at) AS last_seen_at,
        list(DISTINCT d.source ORDER BY d.source) AS source_list,
        arg_min(d.origin, coalesce(d.published_at, d.first_seen_at)) FILTER (WHERE d.origin IS NOT NULL) AS origin,
        max(coalesce(d.published_at, d.first_seen_at)) AS latest_at,
        min(m.similarity) FILTER (WHERE m.method <> 'new') AS min_similarity
    FROM story_members m
    JOIN documents d ON d.id = m.document_id
    GROUP BY m.story_id
)
SELECT
    s.id AS story_id,
    c.title AS canonical_title,
    s.canonical_document_id,
    p.documents,
    p.sources,
    p.first_seen_at,
    p.last_seen_at,
    p.documents - 1 AS reprints,
    p.source_list,
    c.source AS canonical_source,
    c.url AS canonical_url,
    coalesce(c.origin, p.origin) AS origin,
    coalesce(c.published_at, c.first_seen_at) AS canonical_at,
    p.latest_at - coalesce(c.published_at, c.first_seen_at) AS spread,
    p.min_similarity,
    coalesce(s.kind, 'full') AS kind
FROM stories s
JOIN spread p ON p.story_id = s.id
JOIN documents c ON c.id = s.canonical_document_id;
