-- One row per failed fetch of a run (a feed's poll or an article page), with its failure class.
CREATE OR REPLACE VIEW v_failures AS
SELECT
    x.run_id,
    r.started_at AS run_started_at,
    x.scope,
    x.kind,
    x.url,
    x.feed_url,
    f.name AS feed_name,
    x.status,
    x.message,
    x.failed_at
FROM fetch_failures x
LEFT JOIN runs r ON r.id = x.run_id
LEFT JOIN feeds f ON f.url = coalesce(x.feed_url, CASE WHEN x.scope = 'feed' THEN x.url END);
