-- One row per feed: is it healthy, when did it last work, when is it polled next.
CREATE OR REPLACE VIEW v_feed_health AS
SELECT
    f.name,
    f.url,
    f.active,
    CASE
        WHEN f.consecutive_failures = 0 AND f.last_success_at IS NOT NULL THEN 'ok'
        WHEN f.last_polled_at IS NULL THEN 'new'
        WHEN f.consecutive_failures < 3 THEN 'failing'
        ELSE 'broken'
    END AS status,
    f.last_success_at,
    f.last_polled_at,
    f.last_status,
    f.last_error_kind,
    f.last_error,
    f.last_error_at,
    f.consecutive_failures,
    f.next_poll_at,
    f.validators_trusted,
    f.interval_s,
    f.items_total,
    (SELECT count(*) FROM feed_items i WHERE i.feed_url = f.url) AS items_stored
FROM feeds f;
