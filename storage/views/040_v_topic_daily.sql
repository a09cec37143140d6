-- Tagged documents (current topic versions) with their story and the day they were first seen.
-- The day (UTC) is that of first sighting, the day newsmon learned of the document: trends and
-- digests count what arrived that day, so items published earlier (a feed's backlog, a late
-- reprint) count on the day they arrived, never on a past day the digest of that day missed.
-- published_at keeps the publication time.
CREATE OR REPLACE VIEW v_topic_documents AS
SELECT
    t.topic,
    CAST(timezone('UTC', d.first_seen_at) AS DATE) AS day,
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

-- Per day and topic: documents, unique stories, reprints and distinct sources.
-- reprints: documents beyond one per story that day. The day is the day of first sighting (see
-- v_topic_documents). Days without tagged documents have no row (see v_topic_trend).
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
