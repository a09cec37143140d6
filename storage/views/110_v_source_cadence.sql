-- Per feed: items in the last 24 hours against its quietest recent day, and the silent-feed test.
-- Relative to the latest run's clock: items first seen in the last 24 hours against the
-- 24-hour buckets of the days before (quietest and mean), and the silent-feed test of
-- newsmon.trends: with enough days of history, a feed is silent when it delivered at most a
-- share of its quietest day and P(X <= last_24h) is small at the quietest day's Poisson rate.
-- A bucket in which no monitor run started and no feed item was first seen (an outage) is left
-- out of the history: nobody looked, so it is not an empty day. history_days counts the buckets
-- kept.
-- The {{...}} numbers are newsmon.models.SilenceParams, filled in when the views are created.
CREATE OR REPLACE VIEW v_source_cadence AS
WITH ref AS (SELECT max(started_at) AS now FROM runs WHERE kind = 'monitor'),
feed_age AS (
    SELECT f.url, f.name, f.active, min(i.first_seen_at) AS first_seen_at, max(i.first_seen_at) AS last_seen_at
    FROM feeds f
    LEFT JOIN feed_items i ON i.feed_url = f.url
    GROUP BY ALL
),
hist AS (
    SELECT
        a.*,
        CASE
            WHEN a.first_seen_at IS NULL OR r.now IS NULL THEN 0
            ELSE least({{silence_window_days}}, greatest(0, CAST(floor(epoch(r.now - a.first_seen_at) / 86400) AS INTEGER)))
        END AS history_days
    FROM feed_age a, ref r
),
buckets AS (
    SELECT i.feed_url, CAST(floor(epoch(r.now - i.first_seen_at) / 86400) AS INTEGER) AS bucket, count(*) AS items
    FROM feed_items i, ref r
    WHERE i.first_seen_at <= r.now
    GROUP BY ALL
),
looked AS (  -- the buckets in which someone looked: a monitor run started or an item was first seen
    SELECT DISTINCT CAST(floor(epoch(r.now - s.seen) / 86400) AS INTEGER) AS bucket
    FROM (SELECT started_at AS seen FROM runs WHERE kind = 'monitor' UNION ALL SELECT first_seen_at FROM feed_items) s,
        ref r
    WHERE s.seen <= r.now
),
grid AS (
    SELECT h.url, b.bucket, coalesce(c.items, 0) AS items
    FROM hist h
    CROSS JOIN range(1, {{silence_window_days}} + 1) AS b(bucket)
    LEFT JOIN buckets c ON c.feed_url = h.url AND c.bucket = b.bucket
    WHERE b.bucket <= h.history_days AND b.bucket IN (SELECT bucket FROM looked)
),
stats AS (
    SELECT url, min(items) AS quietest, avg(items) AS mean, count(*) AS observed_days FROM grid GROUP BY url
),
tested AS (
    SELECT
        h.*,
        coalesce(b0.items, 0) AS last_24h,
        s.mean,
        s.quietest,
        coalesce(s.observed_days, 0) AS observed_days,
        CASE
            WHEN coalesce(s.observed_days, 0) < {{silence_min_history_days}} THEN NULL
            WHEN s.quietest <= 0 THEN 1.0
            ELSE least(1.0, list_sum(list_transform(
                range(coalesce(b0.items, 0) + 1),
                lambda i: exp(-s.quietest + i * ln(s.quietest) - lgamma(i + 1))
            )))
        END AS p_value
    FROM hist h
    LEFT JOIN stats s ON s.url = h.url
    LEFT JOIN buckets b0 ON b0.feed_url = h.url AND b0.bucket = 0
)
SELECT
    t.name,
    t.url,
    t.active,
    t.first_seen_at,
    t.last_seen_at,
    t.observed_days AS history_days,
    t.last_24h,
    t.mean,
    t.quietest,
    t.p_value,
    coalesce(
        t.active AND t.observed_days >= {{silence_min_history_days}} AND t.quietest > 0
        AND t.last_24h <= {{silence_max_share}} * t.quietest AND t.p_value <= {{silence_alpha}},
        false
    ) AS is_silent,
    h.status AS feed_status,
    h.last_error_kind
FROM tested t
LEFT JOIN v_feed_health h ON h.url = t.url;
