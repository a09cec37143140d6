"""Trend statistics: spikes of unique stories per topic, and feeds that went quiet.

Plain Python over rows the store reads; the views ``v_topic_trend`` and ``v_source_cadence``
compute the same numbers in SQL for ad hoc queries (same windows, same tests, same thresholds).

**Spikes.** For each topic and day, the count is the number of *unique stories* with a tagged
document first seen that day (the day newsmon learned of it), so forty copies of one wire story
count once. A document published more than 3 days before it was first seen (a new feed's
archive, an old page found late) is *backlog*: it is not counted, so a backlog that arrives in
one run is not a surge of news (``SpikeParams.backlog_days``). The baseline is the trailing
14 days before *yesterday* (a one-day guard band, as in CDC's EARS C2, so a surge that began
yesterday does not hide today's), with days without items counted as zero and days before
monitoring began left out. The test is the upper tail of a negative binomial with the
baseline's mean and variance (a Poisson when the baseline is not over-dispersed), against a
mean floored at 0.5 stories a day, so a topic that is usually silent needs several stories to
fire. A day is a spike when all of these hold: at least 3 baseline days, at least 3 stories,
at least twice the expected count, and a tail probability of at most 0.01. The score is
``-log10(p)``, capped at 15.

**Days without a run.** A day on which no monitor run started and no document was first seen
is *unobserved* (the machine or the schedule was down): it is not a day without news, so it
is left out of baselines and not tested. Its news arrives with the next run, as far back as
the backlog rule lets it count, so the first day after ``k`` unobserved days is tested against
``1 + min(k, backlog_days)`` days' worth of the baseline (the sum of that many days: mean and
variance scaled alike), and counts in later baselines at its rate a day (its stories divided
by those days), so that runs a few days apart still have a baseline; ``gap_days`` says how
many unobserved days came right before.

**Silent feeds.** For each feed, the items first seen in the last 24 hours are compared with
its quietest day in the 14 days before (24-hour buckets back from the run's clock, at least 7
of them). A feed is silent when it delivered at most a quarter of that quietest day and the
Poisson lower tail ``P(X <= observed)`` at the quietest day's rate is at most 0.001; a feed
that is sometimes empty for a day therefore never counts as silent after one empty day. A
24-hour bucket in which no monitor run started is not a day the feed was empty: it is left out
of the history (an outage would otherwise make every feed's quietest day zero for two weeks).
"""

from __future__ import annotations

import logging
import math
from collections.abc import Collection, Iterable, Mapping, Sequence
from dataclasses import dataclass, replace
from datetime import date, datetime, timedelta

from newsmon.models import DayCount, FeedActivity, SilenceParams, SpikeParams

log = logging.getLogger(__name__)

MAX_SCORE = 15.0
_P_FLOOR = 10.0**-MAX_SCORE
_POISSON_LIMIT = 1e6  # a negative binomial with r above this is a Poisson for our purposes


@dataclass(frozen=True, slots=True)
class TrendPoint:
    """One topic-day of the trend: the count, its baseline, and the spike test."""

    day: date
    stories: int
    documents: int
    baseline_days: int
    baseline: float | None  # mean stories a day over the baseline window
    variance: float | None  # sample variance over the baseline window
    expected: float | None  # max(baseline, floor)
    ratio: float | None  # stories / expected
    p_value: float | None  # P(X >= stories) under the baseline
    score: float  # -log10(p), 0 without a baseline
    is_spike: bool
    backlog: int = 0  # stories of a backlog that day, not counted in ``stories``
    observed: bool = True  # False: no run that day; not tested, not in any baseline
    gap_days: int = 0  # unobserved days right before this one (their news counted here)

    @property
    def has_baseline(self) -> bool:
        """True when there was enough history to test this day."""
        return self.expected is not None


@dataclass(frozen=True, slots=True)
class SourceCadence:
    """The silent-feed test for one feed."""

    name: str
    url: str
    observed: int  # items first seen in the last 24 h
    history_days: int
    mean: float | None  # items a day over the history window
    quietest: int | None  # the fewest items in one day of the history window
    p_value: float | None  # P(X <= observed) at the quietest day's rate
    is_silent: bool
    last_seen_at: datetime | None
    status: str | None = None
    last_error_kind: str | None = None


# --- distributions ------------------------------------------------------------------------


def poisson_pmf_terms(count: int, rate: float) -> list[float]:
    """P(X = i) for i in 0..count-1 under a Poisson with mean ``rate`` (> 0)."""
    log_rate = math.log(rate)
    return [math.exp(-rate + i * log_rate - math.lgamma(i + 1)) for i in range(count)]


def nbinom_pmf_terms(count: int, mean: float, variance: float) -> list[float]:
    """P(X = i) for i in 0..count-1 under a negative binomial with this mean and variance.

    Falls back to a Poisson when the variance does not exceed the mean (or barely does).
    """
    if variance <= mean:
        return poisson_pmf_terms(count, mean)
    size = mean * mean / (variance - mean)
    if size > _POISSON_LIMIT:
        return poisson_pmf_terms(count, mean)
    prob = size / (size + mean)
    log_p, log_q, lg_size = math.log(prob), math.log1p(-prob), math.lgamma(size)
    return [
        math.exp(math.lgamma(i + size) - lg_size - math.lgamma(i + 1) + size * log_p + i * log_q) for i in range(count)
    ]


def upper_tail(count: int, mean: float, variance: float) -> float:
    """P(X >= count) under a negative binomial (or Poisson) with this mean and variance."""
    if count <= 0:
        return 1.0
    return min(1.0, max(0.0, 1.0 - sum(nbinom_pmf_terms(count, mean, variance))))


def poisson_lower_tail(count: int, rate: float) -> float:
    """P(X <= count) under a Poisson with mean ``rate``; 1 for a rate of 0."""
    if rate <= 0:
        return 1.0
    return min(1.0, sum(poisson_pmf_terms(count + 1, rate)))


def significance(p_value: float) -> float:
    """``-log10(p)``, capped at :data:`MAX_SCORE` (differences below 1e-15 are rounding noise)."""
    return max(0.0, min(MAX_SCORE, -math.log10(max(p_value, _P_FLOOR))))


# --- topic trends -------------------------------------------------------------------------


def day_series(
    counts: Iterable[DayCount], start: date, end: date, observed: Collection[date] | None = None
) -> list[DayCount]:
    """Every day from ``start`` to ``end`` (inclusive), zero where ``counts`` has no row. With
    ``observed`` (the days a run looked), a day without a row that is not in it is unobserved;
    a day with a row was observed (a document was first seen on it)."""
    by_day = {c.day: c for c in counts if start <= c.day <= end}
    days = [start + timedelta(days=i) for i in range(max((end - start).days + 1, 0))]
    return [
        replace(by_day[day], observed=True)
        if day in by_day
        else DayCount(day, 0, 0, observed=observed is None or day in observed)
        for day in days
    ]


def assess_series(series: Sequence[DayCount], params: SpikeParams | None = None) -> list[TrendPoint]:
    """Test every day of a gap-free daily series against its trailing baseline (its observed days)."""
    params = params or SpikeParams()
    gaps = gap_days(series)
    points: list[TrendPoint] = []
    for index, current in enumerate(series):
        if not current.observed:
            points.append(_unobserved(current, gaps[index]))
            continue
        first = max(0, index - params.window_days - params.guard_days)
        last = max(0, index - params.guard_days)
        window = enumerate(series[first:last], first)
        baseline = [c.stories / span_days(gaps[i], params) for i, c in window if c.observed]
        points.append(_assess_day(current, baseline, params, gaps[index]))
    return points


def span_days(gap: int, params: SpikeParams) -> float:
    """The days of news a day after ``gap`` unobserved days brings: its own and those the
    backlog rule still counts."""
    return 1 + min(gap, params.backlog_days)


def gap_days(series: Sequence[DayCount]) -> list[int]:
    """For each day, the unobserved days right before it."""
    gaps, run = [], 0
    for day in series:
        gaps.append(run)
        run = 0 if day.observed else run + 1
    return gaps


def _unobserved(current: DayCount, gap: int) -> TrendPoint:
    """A day no run looked at: no test, no baseline."""
    return TrendPoint(
        current.day, current.stories, current.documents, 0, None, None, None, None, None, 0.0, False,
        current.backlog, observed=False, gap_days=gap,
    )  # fmt: skip


def _assess_day(current: DayCount, baseline: Sequence[float], params: SpikeParams, gap: int = 0) -> TrendPoint:
    n = len(baseline)
    if n < params.min_history_days:
        return TrendPoint(
            current.day, current.stories, current.documents, n, None, None, None, None, None, 0.0, False,
            current.backlog, gap_days=gap,
        )  # fmt: skip
    mean = sum(baseline) / n
    variance = sum((x - mean) ** 2 for x in baseline) / (n - 1)
    days = span_days(gap, params)  # the news of the unobserved days arrives today
    per_day = max(mean, params.floor)
    expected = days * per_day
    p_value = upper_tail(current.stories, expected, days * max(variance, per_day))
    ratio = current.stories / expected
    spike = (
        current.stories >= params.min_stories
        and current.stories >= params.min_ratio * expected
        and p_value <= params.alpha
    )
    return TrendPoint(
        current.day, current.stories, current.documents, n, mean, variance, expected, ratio, p_value,
        significance(p_value), spike, current.backlog, gap_days=gap,
    )  # fmt: skip


def topic_trends(
    counts: Mapping[str, Iterable[DayCount]],
    topics: Iterable[str],
    start: date,
    end: date,
    params: SpikeParams | None = None,
    observed: Collection[date] | None = None,
) -> dict[str, list[TrendPoint]]:
    """The trend of every topic from ``start`` (monitoring began) to ``end`` (the run's day);
    ``observed``: the days a run looked (None: every day)."""
    return {topic: assess_series(day_series(counts.get(topic, ()), start, end, observed), params) for topic in topics}


# --- silent feeds -------------------------------------------------------------------------


def assess_feed(activity: FeedActivity, now: datetime, params: SilenceParams | None = None) -> SourceCadence:
    """Has this feed delivered far fewer items in the last 24 h than on its quietest recent day?"""
    params = params or SilenceParams()
    age_days = int((now - activity.first_seen_at).total_seconds() // 86400)
    history_days = max(0, min(params.window_days, age_days))
    observed = activity.buckets.get(0, 0)
    history = [activity.buckets.get(b, 0) for b in range(1, history_days + 1) if b not in activity.unobserved]
    if len(history) < params.min_history_days:
        return SourceCadence(
            activity.name, activity.url, observed, len(history), None, None, None, False, activity.last_seen_at,
            activity.status, activity.last_error_kind,
        )  # fmt: skip
    quietest = min(history)
    p_value = poisson_lower_tail(observed, float(quietest))
    silent = quietest > 0 and observed <= params.max_share * quietest and p_value <= params.alpha
    return SourceCadence(
        activity.name, activity.url, observed, len(history), sum(history) / len(history), quietest, p_value, silent,
        activity.last_seen_at, activity.status, activity.last_error_kind,
    )  # fmt: skip


def silence_changes(
    activities: Iterable[FeedActivity],
    now: datetime,
    open_silences: Mapping[str, int],
    params: SilenceParams | None = None,
) -> tuple[list[SourceCadence], list[str]]:
    """Feeds that newly went silent (an episode not alerted yet), busiest-history first, and the
    urls of silent feeds that recovered. ``open_silences`` maps silent feeds' urls to their
    quietest day when they went silent."""
    assessed = [assess_feed(a, now, params) for a in activities]
    silent = [c for c in assessed if c.is_silent and c.url not in open_silences]
    back = [c.url for c in assessed if c.url in open_silences and recovered(c, open_silences[c.url])]
    for cadence in silent:
        log.info(
            "feed %s is silent: %d items in 24 h, quietest day %s, mean %.1f",
            cadence.name, cadence.observed, cadence.quietest, cadence.mean or 0.0,
        )  # fmt: skip
    return sorted(silent, key=lambda c: (-(c.quietest or 0), c.name)), back


def recovered(cadence: SourceCadence, quiet_at_alert: int) -> bool:
    """A silent feed recovers when its last 24 h reach half the quietest day seen when it went silent."""
    return cadence.observed >= max(1.0, quiet_at_alert / 2)
