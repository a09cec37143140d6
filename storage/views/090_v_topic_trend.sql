-- Unique stories per topic and day against the trailing baseline, with the spike test.
-- Per topic and day since monitoring began (the first sighting of any document) up to the latest
-- run's day; days without items are zero. Unique stories (a backlog left out: backlog_stories, see
-- v_topic_daily) against the trailing baseline, with the spike test of newsmon.trends (same windows
-- and thresholds):
--   baseline  = mean stories a day over the 14 days before yesterday (a one-day guard band);
--   expected  = greatest(baseline, 0.5), only with at least 3 baseline days;
--   p_value   = P(X >= stories) under a negative binomial with the baseline's mean and variance
--               (a Poisson when the baseline is not over-dispersed);
--   score     = -log10(p_value), at most 15;
--   is_spike  = stories >= 3 and stories >= 2 * expected and p_value <= 0.01.
-- The {{...}} numbers are newsmon.models.SpikeParams, filled in when the views are created.
CREATE OR REPLACE VIEW v_topic_trend AS
WITH bounds AS (
    SELECT
        (SELECT CAST(timezone('UTC', min(first_seen_at)) AS DATE) FROM documents) AS first_day,
        greatest(
            (SELECT CAST(timezone('UTC', max(started_at)) AS DATE) FROM runs WHERE kind = 'monitor'),
            (SELECT CAST(timezone('UTC', max(first_seen_at)) AS DATE) FROM documents)
        ) AS last_day
),
days AS (
    SELECT CAST(g.day AS DATE) AS day
    FROM bounds b, generate_series(b.first_day, b.last_day, INTERVAL 1 DAY) AS g(day)
    WHERE b.first_day IS NOT NULL
),
series AS (
    SELECT
        t.topic, d.day, coalesce(c.stories, 0) AS stories, coalesce(c.documents, 0) AS documents,
        coalesce(c.backlog_stories, 0) AS backlog_stories
    FROM (SELECT topic FROM topic_versions WHERE is_current) t
    CROSS JOIN days d
    LEFT JOIN v_topic_daily c ON c.topic = t.topic AND c.day = d.day
),
windowed AS (
    SELECT
        *,
        count(*) OVER w AS baseline_days,
        avg(stories) OVER w AS baseline_mean,
        var_samp(stories) OVER w AS baseline_variance
    FROM series
    WINDOW w AS (PARTITION BY topic ORDER BY day ROWS BETWEEN {{spike_window_start}} PRECEDING AND {{spike_window_end}} PRECEDING)
),
expected AS (
    SELECT
        *,
        CASE WHEN baseline_days >= {{spike_min_history_days}} THEN baseline_mean END AS baseline,
        CASE WHEN baseline_days >= {{spike_min_history_days}} THEN baseline_variance END AS variance,
        CASE WHEN baseline_days >= {{spike_min_history_days}} THEN greatest(baseline_mean, {{spike_floor}}) END AS expected
    FROM windowed
),
shaped AS (
    SELECT
        *,
        CASE WHEN variance > expected THEN expected * expected / (variance - expected) END AS size
    FROM expected
),
tested AS (
    SELECT
        *,
        CASE
            WHEN expected IS NULL THEN NULL
            WHEN stories <= 0 THEN 1.0
            WHEN size IS NULL OR size > 1e6 THEN 1.0 - coalesce(list_sum(list_transform(
                range(stories),
                lambda i: exp(-expected + i * ln(expected) - lgamma(i + 1))
            )), 0.0)
            ELSE 1.0 - coalesce(list_sum(list_transform(
                range(stories),
                lambda i: exp(
                    lgamma(i + size) - lgamma(size) - lgamma(i + 1)
                    + size * ln(size / (size + expected)) + i * ln(1 - size / (size + expected))
                )
            )), 0.0)
        END AS raw_p
    FROM shaped
)
SELECT
    day,
    topic,
    stories,
    documents,
    backlog_stories,
    baseline_days,
    baseline,
    variance,
    expected,
    stories / expected AS ratio,
    CASE WHEN raw_p IS NOT NULL THEN least(1.0, greatest(0.0, raw_p)) END AS p_value,
    CASE WHEN expected IS NULL THEN 0.0 ELSE greatest(0.0, least(15.0, -log10(greatest(least(1.0, raw_p), 1e-15)))) END
        AS score,
    coalesce(expected IS NOT NULL AND stories >= {{spike_min_stories}} AND stories >= {{spike_min_ratio}} * expected AND raw_p <= {{spike_alpha}}, false) AS is_spike
FROM tested;
