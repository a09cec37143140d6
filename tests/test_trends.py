"""Trend statistics: tail probabilities, the spike test on unique stories, silent feeds (newsmon.trends)."""

from __future__ import annotations

import math
from datetime import UTC, date, datetime, timedelta

import pytest

from newsmon.trends import (
    MAX_SCORE,
    DayCount,
    FeedActivity,
    SpikeParams,
    assess_feed,
    assess_series,
    day_series,
    poisson_lower_tail,
    significance,
    silence_changes,
    topic_trends,
    upper_tail,
)

DAY0 = date(2023, 5, 1)
NOW = datetime(2023, 5, 20, 23, 0, tzinfo=UTC)


def series(*stories: int, documents: list[int] | None = None) -> list[DayCount]:
    docs = documents or list(stories)
    return [DayCount(DAY0 + timedelta(days=i), s, d) for i, (s, d) in enumerate(zip(stories, docs, strict=True))]


# --- distributions ------------------------------------------------------------------------


@pytest.mark.parametrize(("k", "mean"), [(0, 2.0), (1, 0.5), (4, 0.5), (17, 4.2), (60, 10.0), (3, 3.0)])
def test_poisson_upper_tail_matches_scipy(k: int, mean: float) -> None:
    stats = pytest.importorskip("scipy.stats")
    assert math.isclose(upper_tail(k, mean, mean), stats.poisson.sf(k - 1, mean), rel_tol=1e-9, abs_tol=1e-15)


@pytest.mark.parametrize(("k", "mean", "var"), [(5, 2.0, 6.0), (21, 5.4, 21.8), (9, 3.1, 4.0), (1, 0.5, 2.0)])
def test_negative_binomial_upper_tail_matches_scipy(k: int, mean: float, var: float) -> None:
    stats = pytest.importorskip("scipy.stats")
    size = mean * mean / (var - mean)
    expected = stats.nbinom.sf(k - 1, size, size / (size + mean))
    assert math.isclose(upper_tail(k, mean, var), expected, rel_tol=1e-9, abs_tol=1e-15)


def test_overdispersion_makes_a_count_less_surprising() -> None:
    assert upper_tail(12, 4.0, 12.0) > 10 * upper_tail(12, 4.0, 4.0)
    assert upper_tail(12, 4.0, 4.0 + 1e-12) == upper_tail(12, 4.0, 4.0)  # a near-Poisson is a Poisson


def test_lower_tail_and_significance() -> None:
    assert math.isclose(poisson_lower_tail(0, 7.0), math.exp(-7.0))
    assert poisson_lower_tail(3, 0.0) == 1.0
    assert significance(1.0) == 0.0 and significance(0.01) == pytest.approx(2.0)
    assert significance(0.0) == MAX_SCORE


# --- the spike test -----------------------------------------------------------------------


def test_day_series_fills_days_without_items_with_zeros() -> None:
    rows = [DayCount(DAY0, 2, 3), DayCount(DAY0 + timedelta(days=3), 1, 1), DayCount(DAY0 - timedelta(days=5), 9, 9)]
    filled = day_series(rows, DAY0, DAY0 + timedelta(days=4))
    assert [c.stories for c in filled] == [2, 0, 0, 1, 0]
    assert [c.day for c in filled] == [DAY0 + timedelta(days=i) for i in range(5)]
    assert day_series(rows, DAY0, DAY0 - timedelta(days=1)) == []


def test_no_baseline_without_three_days_of_history() -> None:
    points = assess_series(series(0, 50, 80, 120))
    assert [p.baseline_days for p in points] == [0, 0, 1, 2]
    assert not any(p.is_spike or p.has_baseline for p in points)
    assert all(p.p_value is None and p.score == 0.0 for p in points)


def test_a_clear_surge_of_unique_stories_is_a_spike() -> None:
    points = assess_series(series(4, 3, 5, 4, 2, 1, 2, 5, 6, 3, 4, 3, 17))
    last = points[-1]
    assert last.is_spike and last.expected == pytest.approx(39 / 11) and last.ratio == pytest.approx(17 / (39 / 11))
    assert last.score > 4
    assert not any(p.is_spike for p in points[:-1])


def test_the_baseline_is_the_14_days_before_yesterday() -> None:
    days = series(*([1] * 20), 30, 20)
    points = assess_series(days)
    today = points[-1]
    assert today.baseline_days == 14 and today.baseline == pytest.approx(1.0)  # yesterday's 30 is not in it
    assert today.is_spike and points[-2].is_spike


def test_tiny_counts_do_not_fire_and_the_floor_guards_silent_topics() -> None:
    quiet = [0] * 14
    assert not assess_series(series(*quiet, 0, 2))[-1].is_spike  # below the minimum volume
    three = assess_series(series(*quiet, 0, 3))[-1]
    assert three.expected == 0.5 and three.p_value == pytest.approx(upper_tail(3, 0.5, 0.5))
    assert not three.is_spike  # P(X >= 3 | 0.5) = 0.014 > 0.01
    assert assess_series(series(*quiet, 0, 4))[-1].is_spike  # P(X >= 4 | 0.5) = 0.0018


def test_days_with_no_items_count_as_zero_in_the_baseline() -> None:
    sparse = [DayCount(DAY0 + timedelta(days=i), 3, 3) for i in (0, 7)]
    end = DAY0 + timedelta(days=16)
    trend = topic_trends({"t": [*sparse, DayCount(end, 5, 5)]}, ["t", "empty"], DAY0, end)
    last = trend["t"][-1]
    assert last.baseline_days == 14 and last.baseline == pytest.approx(3 / 14)  # day 0 is out of the window
    assert last.is_spike
    assert len(trend["empty"]) == 17 and not any(p.stories or p.is_spike for p in trend["empty"])


def test_a_day_without_a_run_is_not_a_day_without_news() -> None:
    """An outage (no run on days 10 and 11) leaves those days out of every baseline; day 12
    brings three days' news and is tested against three days of the baseline."""
    counts = [DayCount(DAY0 + timedelta(days=i), n, n) for i, n in enumerate([4, 5, 3, 4, 6, 4, 5, 3, 4, 5])]
    end = DAY0 + timedelta(days=12)
    looked = {c.day for c in counts} | {end}
    catch_up = DayCount(end, 13, 13)
    trend = topic_trends({"t": [*counts, catch_up]}, ["t"], DAY0, end, observed=looked)["t"]
    out1, out2, today = trend[-3:]
    assert [(p.observed, p.gap_days, p.expected, p.is_spike) for p in (out1, out2)] == [
        (False, 0, None, False),
        (False, 1, None, False),
    ]
    assert (today.observed, today.gap_days, today.baseline_days) == (True, 2, 10)  # days 0-9: 10, 11 had no run
    assert today.expected == pytest.approx(3 * 43 / 10) and not today.is_spike
    # the same counts with the outage read as two empty days: a spike that is not there
    assert topic_trends({"t": [*counts, catch_up]}, ["t"], DAY0, end)["t"][-1].is_spike
    # ... and a real surge after the outage still is one
    assert topic_trends({"t": [*counts, DayCount(end, 40, 40)]}, ["t"], DAY0, end, observed=looked)["t"][-1].is_spike


def test_the_day_after_an_outage_counts_at_its_rate_a_day_in_later_baselines() -> None:
    days = [DayCount(DAY0 + timedelta(days=i), 4, 4) for i in range(10)]
    catch_up = DayCount(DAY0 + timedelta(days=11), 12, 12)  # day 10 had no run
    later = [DayCount(DAY0 + timedelta(days=i), 4, 4) for i in range(12, 16)]
    series_ = day_series([*days, catch_up, *later], DAY0, DAY0 + timedelta(days=15), {c.day for c in days + later})
    assert [c.observed for c in series_][9:13] == [True, False, True, True]  # a day with items was observed
    last = assess_series(series_)[-1]
    # days 0-13 but 10 (no run): day 11 brought two days' news, 12 stories, and counts as 6 a day
    assert last.gap_days == 0 and last.baseline_days == 13 and last.baseline == pytest.approx((12 * 4 + 6) / 13)


def test_runs_every_other_day_still_have_a_baseline() -> None:
    """Every run day follows a day without a run: each counts at its rate a day (4 stories for
    two days: 2 a day), so a topic still has a baseline and a surge is still a spike."""
    days = [DayCount(DAY0 + timedelta(days=i), 4, 4) for i in range(0, 20, 2)]
    surge = DayCount(DAY0 + timedelta(days=20), 40, 40)
    trend = topic_trends({"t": [*days, surge]}, ["t"], DAY0, surge.day, observed={c.day for c in days} | {surge.day})
    last = trend["t"][-1]
    assert last.gap_days == 1 and last.baseline == pytest.approx(2.0) and last.expected == pytest.approx(4.0)
    assert last.is_spike and not any(p.is_spike for p in trend["t"][:-1])


def test_a_noisy_topic_needs_more_to_spike() -> None:
    noisy = series(1, 9, 0, 8, 2, 10, 1, 7, 0, 9, 2, 8, 1, 10, 0, 14)
    steady = series(5, 5, 4, 6, 5, 5, 4, 6, 5, 5, 4, 6, 5, 5, 5, 14)
    assert not assess_series(noisy)[-1].is_spike
    assert assess_series(steady)[-1].is_spike


def test_one_story_reprinted_forty_times_is_not_a_spike() -> None:
    base = [3, 4, 2, 5, 3, 4, 3, 2, 4, 3, 5, 4, 3, 3, 4]
    stories = [*base, 4]
    documents = [*base, 43]  # forty copies of one story on top of the usual three
    by_stories = assess_series(series(*stories, documents=documents))[-1]
    assert by_stories.documents == 43 and not by_stories.is_spike
    by_documents = assess_series(series(*documents))[-1]
    assert by_documents.is_spike  # counting copies would have fired


def test_custom_parameters() -> None:
    params = SpikeParams(window_days=3, guard_days=0, min_history_days=2, floor=1.0, min_stories=2, alpha=0.05)
    points = assess_series(series(1, 1, 1, 4), params)
    assert points[-1].baseline_days == 3 and points[-1].is_spike


# --- silent feeds -------------------------------------------------------------------------


def activity(buckets: dict[int, int], age_days: float = 20.0, name: str = "Wire") -> FeedActivity:
    return FeedActivity(name, f"https://{name.lower()}.example/rss", NOW - timedelta(days=age_days), None, buckets)


def steady(per_day: int, days: int = 14) -> dict[int, int]:
    return {b: per_day for b in range(1, days + 1)}


def test_a_feed_that_stops_is_silent() -> None:
    cadence = assess_feed(activity(steady(30)), NOW)
    assert cadence.is_silent and cadence.observed == 0 and cadence.quietest == 30 and cadence.mean == 30
    assert cadence.p_value == pytest.approx(math.exp(-30))


def test_a_feed_far_below_its_quietest_day_is_silent_but_not_a_weekend_dip() -> None:
    weekdays_and_weekends = {b: (12 if b % 7 in (0, 6) else 40) for b in range(1, 15)}
    assert assess_feed(activity({**weekdays_and_weekends, 0: 2}), NOW).is_silent
    assert not assess_feed(activity({**weekdays_and_weekends, 0: 12}), NOW).is_silent  # a normal quiet day
    assert not assess_feed(activity({**weekdays_and_weekends, 0: 5}), NOW).is_silent  # low, not far below


def test_small_or_new_or_irregular_feeds_are_never_silent() -> None:
    assert not assess_feed(activity(steady(3)), NOW).is_silent  # 0 of ~3 a day happens by chance
    young = assess_feed(activity({1: 50, 2: 50}, age_days=2.5), NOW)
    assert young.history_days == 2 and not young.is_silent and young.p_value is None
    # five weekdays of history and then its first Saturday: not silent, a week was not seen yet
    first_weekend = assess_feed(activity({b: 40 for b in range(1, 6)}, age_days=5.5), NOW)
    assert first_weekend.history_days == 5 and not first_weekend.is_silent and first_weekend.p_value is None
    gappy = {**steady(40), 5: 0}
    assert not assess_feed(activity(gappy), NOW).is_silent  # it has had empty days before


def test_buckets_without_a_run_are_not_empty_days_of_a_feed() -> None:
    """A day of outage two days ago is not the feed's quietest day (zero): left out, the feed
    that stops today is still found silent, on thirteen days of history."""
    outage = {**steady(30), 2: 0}
    assert not assess_feed(activity(outage), NOW).is_silent  # read as an empty day
    left_out = FeedActivity(
        "Wire", "https://wire.example/rss", NOW - timedelta(days=20), None, outage, unobserved=frozenset({2})
    )
    cadence = assess_feed(left_out, NOW)
    assert cadence.is_silent and cadence.history_days == 13 and cadence.quietest == 30
    sparse = FeedActivity("Wire", "https://wire.example/rss", NOW - timedelta(days=20), None, steady(30),
                          unobserved=frozenset(range(1, 9)))  # fmt: skip
    assert assess_feed(sparse, NOW).history_days == 6 and not assess_feed(sparse, NOW).is_silent  # too few days


def test_silence_is_alerted_once_per_episode() -> None:
    quiet = activity(steady(30), name="Quiet")
    busy = activity({**steady(30), 0: 31}, name="Busy")
    fresh, back = silence_changes([quiet, busy], NOW, {})
    assert [c.name for c in fresh] == ["Quiet"] and back == []
    again, back = silence_changes([quiet, busy], NOW, {quiet.url: 30})
    assert again == [] and back == []
    revived = activity({**steady(30), 0: 20}, name="Quiet")
    fresh, back = silence_changes([revived], NOW, {revived.url: 30})
    assert fresh == [] and back == [revived.url]
