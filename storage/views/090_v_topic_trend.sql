-- Unique stories per topic and day against the trailing baseline, with the spike test.
-- Per topic and day since monitoring began (the first sighting of any document) up to the latest
-- run's day; days without items are zero. Unique stories (a backlog left out: backlog_stories, see
-- v_topic_daily) against the trailing baseline, with the spike test of newsmon.trends (same windows
-- and thresholds):
--   observed  = a monitor run started that day (UTC) or a document was first seen on it; a day
--               nobody looked at (an outage) is not a day without news: it is in no baseline
--               and not tested;
--   gap_days  = the unobserved days right before this one, whose news arrives on this day;
--   baseline  = mean stories a day over the observed days among the 14 before yesterday (a
--               one-day guard band), a day right after unobserved ones at its rate a day (its
--               stories over 1 + least(gap_days, {{spike_backlog_days}}): several days' news);
--   expected  = greatest(baseline, 0.5) * (1 + least(gap_days, {{spike_backlog_days}})), only with at
--               least 3 observed baseline days (after a gap, the news of the days missed counts);
--   p_value   = P(X >= stories) under a negative binomial with the baseline's mean and variance,
--               both scaled like expected (a Poisson when the baseline is not over-dispersed);
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
looked AS (  -- the days someone looked: a monitor run started, or a document was first seen
    SELECT CAST(timezone('UTC', started_at) AS DATE) AS day FROM runs WHERE kind = 'monitor'
    UNION
    SELECT CAST(timezone('UTC', first_seen_at) AS DATE) FROM documents
),
days AS (
    SELECT CAST(g.day AS DATE) AS day, l.day IS NOT NULL AS observed
    FROM bounds b
    CROSS JOIN generate_series(b.first_day, b.last_day, INTERVAL 1 DAY) AS g(day)
    LEFT JOIN looked l ON l.day = CAST(g.day AS DATE)
    WHERE b.first_day IS NOT NULL
),
series AS (
    SELECT
        t.topic, d.day, d.observed, coalesce(c.stories, 0) AS stories, coalesce(c.documents, 0) AS documents,
        coalesce(c.backlog_stories, 0) AS backlog_stories
    FROM (SELECT topic FROM topic_versions WHERE is_current) t
    CROSS JOIN days d
    LEFT JOIN v_topic_daily c ON c.topic = t.topic AND c.day = d.day
),
gapped AS (
    SELECT
        *,
        coalesce(day - max(CASE WHEN observed THEN day END) OVER (
            PARTITION BY topic ORDER BY day ROWS BETWEEN UNBOUNDED PRECEDING AND 1 PRECEDING
        ) - 1, 0) AS gap_days
    FROM series
),
windowed AS (  -- a baseline day: observed; the day after a gap at its rate a day (several days' news)
    SELECT
        *,
        count(CASE WHEN observed THEN 1 END) OVER w AS baseline_days,
        avg(CASE WHEN observed THEN stories / (1 + least(gap_days, {{spike_backlog_days}})) END) OVER w
            AS baseline_mean,
        var_samp(CASE WHEN observed THEN stories / (1 + least(gap_days, {{spike_backlog_days}})) END) OVER w
            AS baseline_variance
    FROM gapped
    WINDOW w AS (PARTITION BY topic ORDER BY day ROWS BETWEEN {{spike_window_start}} PRECEDING AND {{spike_window_end}} PRECEDING)
),
expected AS (
    SELECT
        * EXCLUDE (baseline_days),
        CASE WHEN observed THEN baseline_days ELSE 0 END AS baseline_days,
        CASE WHEN observed AND baseline_days >= {{spike_min_history_days}} THEN baseline_mean END AS baseline,
        CASE WHEN observed AND baseline_days >= {{spike_min_history_days}} THEN baseline_variance END AS variance,
        CASE WHEN observed AND baseline_days >= {{spike_min_history_days}} THEN greatest(baseline_mean, {{spike_floor}}) END
            AS per_day,
        1 + least(gap_days, {{spike_backlog_days}}) AS span
    FROM windowed
),
shaped AS (
    SELECT
        *,
        span * per_day AS expected,
        CASE WHEN variance > per_day THEN span * per_day * per_day / (variance - per_day) END AS size
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
    observed,
    gap_days,
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
