-- Alert digests, newest first: one row per run and topic (or the run's silent feeds).
-- With what triggered it (JSON), its Markdown and HTML sections and its files.
CREATE OR REPLACE VIEW v_digests AS
SELECT
    id AS alert_id,
    run_id,
    created_at,
    day,
    kind,
    topic,
    new_stories,
    document_count,
    story_count,
    coalesce(spike, false) AS spike,
    triggers,
    title,
    markdown,
    html,
    path,
    digest_path,
    notify_held  -- waiting for a readable notify file
FROM alerts
ORDER BY created_at DESC, kind DESC, topic;
