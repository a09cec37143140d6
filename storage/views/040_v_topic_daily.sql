-- Per day (of publication, else first sighting, in UTC) and topic: documents and unique stories.
CREATE OR REPLACE VIEW v_topic_daily AS
SELECT
    CAST(timezone('UTC', coalesce(d.published_at, d.first_seen_at)) AS DATE) AS day,
    t.topic,
    count(DISTINCT d.id) AS documents,
    count(DISTINCT d.story_id) AS stories
FROM v_document_topics t
JOIN v_documents d ON d.id = t.document_id
GROUP BY ALL;
