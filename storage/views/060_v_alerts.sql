-- Alert summaries, newest first.
CREATE OR REPLACE VIEW v_alerts AS
SELECT id AS alert_id, run_id, topic, created_at, document_count, story_count, markdown, path
FROM alerts
ORDER BY created_at DESC, topic;
