-- One row per feed: is it healthy, when did it last work, when is it polled next, what is it.
-- items_per_day: items first seen over the 7 days before the latest run (else now), per day.
CREATE OR REPLACE VIEW v_feed_health AS
WITH ref AS (SELECT coalesce(max(started_at), now()) AS now FROM runs),
recent AS (
    SELECT i.feed_url, count(*) AS items
    FROM feed_items i, ref r
    WHERE i.first_seen_at > r.now - INTERVAL 7 DAY AND i.first_seen_at <= r.now
    GROUP BY i.feed_url
),
stored AS (
    SELECT feed_url, count(*) AS items FROM feed_items GROUP BY feed_url
)
SELECT
    f.name,
    f.url,
    f.active,
    CASE
        WHEN f.consecutive_failures = 0 AND f.last_success_at IS NOT NULL THEN 'ok'
        WHEN f.last_polled_at IS NULL OR f.consecutive_failures = 0 THEN 'new'  -- not polled yet, or reset
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
    coalesce(s.items, 0) AS items_stored,
    round(coalesce(r.items, 0) / 7.0, 2) AS items_per_day,
    f.title,
    f.site_url,
    f.language,
    f.format,
    f.tags
FROM feeds f
LEFT JOIN stored s ON s.feed_url = f.url
LEFT JOIN recent r ON r.feed_url = f.url;
