-- Tagged documents (current topic versions) with their story and day. The day (UTC) is that of
-- publication, or of first sighting when that is earlier or the date is missing, so a wrong
-- future date never moves a document ahead of when it was seen.
CREATE OR REPLACE VIEW v_topic_documents AS
SELECT
    t.topic,
    CAST(timezone('UTC', least(coalesce(d.published_at, d.first_seen_at), d.first_seen_at)) AS DATE) AS day,
    d.id AS document_id,
    d.story_id,
    d.is_canonical,
    d.source,
    d.title,
    d.url,
    d.published_at,
    d.first_seen_at,
    t.score,
    t.evidence
FROM v_document_topics t
JOIN v_documents d ON d.id = t.document_id;

-- Per day and topic: documents, unique stories, reprints (documents beyond one per story that
-- day) and distinct sources. Days without tagged documents have no row (see v_topic_trend).
CREATE OR REPLACE VIEW v_topic_daily AS
SELECT
    day,
    topic,
    count(DISTINCT document_id) AS documents,
    count(DISTINCT story_id) AS stories,
    count(DISTINCT document_id) - count(DISTINCT story_id) AS reprints,
    count(DISTINCT source) AS sources
FROM v_topic_documents
GROUP BY ALL;
