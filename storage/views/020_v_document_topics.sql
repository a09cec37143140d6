-- Tags made by the topic definitions in force (older versions stay in the table, not here).
CREATE OR REPLACE VIEW v_document_topics AS
SELECT
    t.document_id,
    t.topic,
    t.score,
    t.evidence,
    t.topic_version,
    t.clause,
    t.tagged_at,
    t.run_id
FROM document_topics t
JOIN topic_versions v ON v.topic = t.topic AND v.version = t.topic_version AND v.is_current;
