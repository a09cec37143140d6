-- One row per feed: is it healthy, when did it last work, when is it polled next, what is it.
-- items_per_day: the feed's items dated (published, else first seen) in the 7 days before the latest
-- run (else now), divided by the days its items cover in that window (at least 1): a feed added an
-- hour ago that lists 30 items of the last 30 hours posts 24 a day, not 30/7.
CREATE OR REPLACE VIEW v_feed_health AS
WITH ref AS (SELECT coalesce(max(started_at), now()) AS now FROM runs WHERE kind = 'monitor'),
dated AS (
    SELECT i.feed_url, least(coalesce(d.published_at, i.first_seen_at), i.first_seen_at) AS at
    FROM feed_items i
    LEFT JOIN documents d ON d.id = i.document_id
),
recent AS (
    SELECT
        t.feed_url,
        count(*) FILTER (WHERE t.at > r.now - INTERVAL 7 DAY AND t.at <= r.now) AS items,
        greatest(1.0, least(7.0, epoch(r.now - min(t.at)) / 86400.0)) AS days
    FROM dated t, ref r
    GROUP BY t.feed_url, r.now
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
    round(coalesce(r.items / r.days, 0), 2) AS items_per_day,
    f.title,
    f.site_url,
    f.language,
    f.format,
    f.tags
FROM feeds f
LEFT JOIN stored s ON s.feed_url = f.url
LEFT JOIN recent r ON r.feed_url = f.url;
