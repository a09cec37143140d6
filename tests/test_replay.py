"""Replay of real feed entries from May 2023, day by day, through the monitor flow.

All 34 outlets of ``replay-2023-05.jsonl.gz`` (05-08..31) are served as RSS from a loopback
server, one day per run, with the run's clock set to the end of that day. The surges of unique
stories in the data must show as spike alerts, and nothing else may: the G7 summit's new
Russia sanctions and the China–Central Asia summit in Xi'an (05-18..19), and the Chinese CDC's
former head saying a lab leak should not be ruled out (05-30, reported by a dozen outlets in
articles of their own). One story reprinted forty times must not spike; a feed that goes quiet
must be reported once, and a tech site's first weekend must not. One day has no run (the
machine was down for two days): the next run finds those days' entries too, which is neither a
spike nor, for the next two weeks, a reason to think no feed is ever empty.
"""

from __future__ import annotations

import gzip
import json
import math
from collections import defaultdict
from collections.abc import Iterator
from datetime import UTC, date, datetime, time, timedelta
from email.utils import format_datetime
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit
from xml.sax.saxutils import escape

import duckdb
import pytest
from support import Route, ScriptedServer

from flows.monitor import monitor
from newsmon.config import Settings, default_topics_path
from newsmon.feeds import item_document, parse_feed
from newsmon.topics import load_topics, tag_documents
from newsmon.trends import DayCount, SpikeParams, assess_feed, assess_series, topic_trends
from storage.store import Store

# one worker builds the replay (pytest-xdist --dist loadgroup) and runs all its tests
pytestmark = [pytest.mark.slow, pytest.mark.xdist_group("replay")]

FIRST_DAY, LAST_DAY = date(2023, 5, 8), date(2023, 5, 31)
OUTLETS: dict[str, str] = {}  # feed url -> name: every outlet of the archive (filled by load_days)
SURGE = (date(2023, 5, 18), date(2023, 5, 21))  # G7 Hiroshima sanctions, China–Central Asia summit
EVENTS = {  # where each topic's coverage surges in the data: spikes may fire there only
    "russia-sanctions": SURGE,
    "central-asia-diplomacy": SURGE,
    "covid-origins": (date(2023, 5, 30), date(2023, 5, 31)),  # George Gao: "don't rule out" a lab leak
}
QUIET_FEED, QUIET_FROM = "http://www.aljazeera.com/xml/rss/all.xml", date(2023, 5, 22)
REPRINT_DAY, REPRINTS = date(2023, 5, 25), 40
MOVED_DAY, MOVED_DAYS = date(2023, 5, 27), 9  # an outlet re-delivers the first 9 days' topical entries
MOVED_FEED = "https://www.theguardian.com/world/rss"
OUTAGE = (date(2023, 5, 15), date(2023, 5, 16))  # no runs: their entries are still in the feeds the next day
TOPICS = load_topics(default_topics_path())


def clock(day: date) -> datetime:
    """The run's clock for a replayed day: its last second (UTC)."""
    return datetime.combine(day, time(23, 59, 59), UTC)


def load_days(path: Path) -> dict[date, dict[str, list[dict[str, Any]]]]:
    """The archive's entries by day of publication and feed (every outlet is replayed)."""
    days: dict[date, dict[str, list[dict[str, Any]]]] = defaultdict(lambda: defaultdict(list))
    with gzip.open(path, "rt", encoding="utf-8") as lines:
        for line in lines:
            entry = json.loads(line)
            day = date.fromisoformat(entry["date_published"][:10])
            if FIRST_DAY <= day <= LAST_DAY:
                days[day][entry["source"]].append(entry)
                if entry["source"] not in OUTLETS:
                    url = urlsplit(entry["source"])
                    OUTLETS[entry["source"]] = f"{url.hostname.removeprefix('www.')}{url.path}"
    return days


def rss(entries: list[dict[str, Any]]) -> bytes:
    """An RSS 2.0 channel with these entries."""
    items = "".join(
        f"<item><title>{escape(e['title'] or '')}</title><link>{escape(e['link'])}</link>"
        f"<guid>{escape(e['link'])}</guid><description>{escape(e['description'] or '')}</description>"
        f"<pubDate>{format_datetime(datetime.fromisoformat(e['date_published']))}</pubDate></item>"
        for e in entries
    )
    return f"<?xml version='1.0'?><rss version='2.0'><channel><title>x</title>{items}</channel></rss>".encode()


def served_tags(feeds: dict[str, bytes], day: date) -> list[tuple[str, str, str]]:
    """(topic, document id, source) of what a day's feeds carry, tagged independently of the store."""
    out = []
    for url, body in feeds.items():
        docs = [item_document(url, OUTLETS[url], i, None, clock(day)) for i in parse_feed(body).items]
        out += [(t.topic, t.document_id, url) for t in tag_documents(docs, TOPICS)]
    return out


def reprinted(days: dict[date, dict[str, list[dict[str, Any]]]]) -> list[tuple[str, dict[str, Any]]]:
    """Forty copies (new links, same text) of one real Russia-sanctions entry, spread over the
    feeds and dated on the reprint day."""
    for day in sorted(days, reverse=True):
        for url, entries in sorted(days[day].items()):
            made = {}  # document id -> (its document, the last entry that made it)
            for e in entries:
                doc = _document(url, e, day)
                made[doc.id] = (doc, e)
            by_id = {doc_id: e for doc_id, (_doc, e) in made.items()}
            docs = [doc for doc, _e in made.values()]
            tagged = [t.document_id for t in tag_documents(docs, TOPICS) if t.topic == "russia-sanctions"]
            if tagged:
                entry = by_id[tagged[0]]
                feeds = sorted(set(OUTLETS) - {QUIET_FEED})
                stamp = f"{REPRINT_DAY}T12:00:00+00:00"
                return [
                    (feeds[n % len(feeds)], {**entry, "link": f"https://reprints.example/{n}", "date_published": stamp})
                    for n in range(REPRINTS)
                ]
    pytest.fail("no Russia-sanctions entry in the replay")


def moved_archive(days: dict[date, dict[str, list[dict[str, Any]]]]) -> list[dict[str, Any]]:
    """The tagged entries of the replay's first days under new links, with their own dates: a
    site that moved its articles to new addresses delivers its archive again, all at once."""
    moved = []
    for day in sorted(days)[:MOVED_DAYS]:
        for url, entries in sorted(days[day].items()):
            made = {_document(url, e, day).id: e for e in entries}
            docs = [_document(url, e, day) for e in made.values()]
            moved += [made[t.document_id] for t in tag_documents(docs, TOPICS)]
    unique = list({id(e): e for e in moved}.values())  # an entry tagged with two topics once
    return [{**e, "link": f"https://moved.example/{n}"} for n, e in enumerate(unique)]


def _document(url: str, entry: dict[str, Any], day: date) -> Any:
    """The document the pipeline makes of one entry (feed summary only)."""
    (item,) = parse_feed(rss([entry])).items
    return item_document(url, OUTLETS[url], item, None, clock(day))


def query(db: Path, sql: str, params: list[Any] | None = None) -> list[tuple[Any, ...]]:
    con = duckdb.connect(str(db), read_only=True)
    try:
        return con.execute(sql, params).fetchall()
    finally:
        con.close()


@pytest.fixture(scope="module")
def replay(prefect_api: str, tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, Any]]:
    """Run the monitor once per replayed day; yield the database and what was served."""
    from support import require_shared

    data = require_shared() / "feeds-archive" / "replay-2023-05.jsonl.gz"
    days = load_days(data)
    extra = reprinted(days)
    archive = moved_archive(days)
    tmp = tmp_path_factory.mktemp("replay")
    server = ScriptedServer()
    monkeypatch = pytest.MonkeyPatch()
    monkeypatch.setenv("NEWSMON_HTTP_ALLOW", "127.0.0.0/8")
    try:
        paths = {url: f"/feed/{n}.xml" for n, url in enumerate(sorted(OUTLETS))}
        feeds_file = tmp / "feeds.toml"
        feeds_file.write_text(
            "".join(
                f'[[feeds]]\nname = "{OUTLETS[url]}"\nurl = "{server.url(path)}"\ninterval = "1h"\n\n'
                for url, path in paths.items()
            ),
            encoding="utf-8",
        )
        seeds = tmp / "no-seeds"
        seeds.mkdir()
        settings = Settings(
            db=tmp / "replay.duckdb", seeds=seeds, feeds=feeds_file, alerts_dir=tmp / "alerts",
            fetch_pages=False, extract_workers=1,
        )  # fmt: skip
        served: dict[date, list[tuple[str, str, str]]] = {}
        summaries = {}
        day = FIRST_DAY
        missed: dict[str, list[dict[str, Any]]] = {}  # the entries of a day without a run
        while day <= LAST_DAY:
            entries = {url: [*missed.get(url, []), *days[day].get(url, [])] for url in OUTLETS}
            if OUTAGE[0] <= day <= OUTAGE[1]:
                missed, day = entries, day + timedelta(days=1)
                continue
            missed = {}
            if day >= QUIET_FROM:
                entries[QUIET_FEED] = []
            if day == REPRINT_DAY:
                for url, entry in extra:
                    entries[url].append(entry)
            bodies = {url: rss(items) for url, items in entries.items()}
            served[day] = served_tags(bodies, day)
            if day == MOVED_DAY:
                bodies[MOVED_FEED] = rss([*entries[MOVED_FEED], *archive])
            for url, body in bodies.items():
                server.routes[paths[url]] = Route(body)
            summaries[day] = monitor(settings, now=clock(day))
            day += timedelta(days=1)
        yield {
            "db": settings.db, "served": served, "summaries": summaries, "alerts_dir": settings.alerts_dir,
            "moved": archive,
        }  # fmt: skip
    finally:
        monkeypatch.undo()
        server.close()


def test_topic_trend_follows_the_served_entries(replay: dict[str, Any]) -> None:
    db: Path = replay["db"]
    expected: dict[tuple[str, date], set[str]] = defaultdict(set)
    for day, tags in replay["served"].items():
        for topic, doc_id, _url in tags:
            expected[(topic, day)].add(doc_id)
    daily = {
        (t, d): (docs, stories)
        for t, d, docs, stories in query(db, "SELECT topic, day, documents, stories FROM v_topic_daily")
    }
    # a day whose tagged documents are all backlog (the moved archive's) has a row of zeros
    assert {k: v[0] for k, v in daily.items() if v[0]} == {k: len(v) for k, v in expected.items()}
    assert {d for (_t, d), v in daily.items() if not v[0]} <= {MOVED_DAY}
    assert all(stories <= docs for docs, stories in daily.values())
    trend = query(db, "SELECT topic, day, stories, documents FROM v_topic_trend ORDER BY topic, day")
    n_days = (LAST_DAY - FIRST_DAY).days + 1
    assert len(trend) == len(TOPICS) * n_days  # days without items are there, as zeros
    for topic, day, stories, documents in trend:
        assert (documents, stories) == daily.get((topic, day), (0, 0))
    sanctions = {d: s for t, d, s, _ in trend if t == "russia-sanctions"}
    surge = [s for d, s in sanctions.items() if SURGE[0] <= d <= SURGE[1]]
    before = sorted(s for d, s in sanctions.items() if d < SURGE[0])
    assert max(surge) >= 2 * before[len(before) // 2] + 3  # the summit days stand out in the data


def test_spike_alerts_fire_on_the_surge_days_only(replay: dict[str, Any]) -> None:
    db: Path = replay["db"]
    spikes = set(query(db, "SELECT topic, day FROM alerts WHERE spike"))
    assert all(EVENTS[topic][0] <= day <= EVENTS[topic][1] for topic, day in spikes), sorted(spikes)
    assert {topic for topic, _day in spikes} == set(EVENTS), sorted(spikes)  # every surge is seen
    assert {("russia-sanctions", date(2023, 5, 18)), ("russia-sanctions", date(2023, 5, 19))} <= spikes
    # the spike alerts are exactly the spike days of the view, each alerted once
    view = set(query(db, "SELECT topic, day FROM v_topic_trend WHERE is_spike"))
    assert spikes == view
    assert query(db, "SELECT count(*) = count(DISTINCT (topic, day)) FROM alerts WHERE spike") == [(True,)]
    for day, summary in replay["summaries"].items():
        spiked = {t for t, d in spikes if d == day}
        assert spiked <= set(summary.alerts)


def test_forty_reprints_of_one_story_do_not_spike(replay: dict[str, Any]) -> None:
    db: Path = replay["db"]
    ((documents, stories, reprints),) = query(
        db,
        "SELECT documents, stories, reprints FROM v_topic_daily WHERE topic = 'russia-sanctions' AND day = ?",
        [REPRINT_DAY],
    )
    assert reprints >= REPRINTS - 1 and documents >= REPRINTS
    ((is_spike, ratio),) = query(
        db, "SELECT is_spike, ratio FROM v_topic_trend WHERE topic = 'russia-sanctions' AND day = ?", [REPRINT_DAY]
    )
    assert not is_spike and ratio < 2
    # counting copies instead of stories would have fired
    rows = query(
        db,
        "SELECT day, documents FROM v_topic_trend WHERE topic = 'russia-sanctions' AND day <= ? ORDER BY day",
        [REPRINT_DAY],
    )
    by_documents = assess_series([DayCount(d, n, n) for d, n in rows])
    assert by_documents[-1].day == REPRINT_DAY and by_documents[-1].is_spike
    assert ("russia-sanctions", REPRINT_DAY) not in set(query(db, "SELECT topic, day FROM alerts WHERE spike"))
    assert stories == documents - reprints


def test_an_archive_delivered_again_is_backlog_not_a_spike(replay: dict[str, Any]) -> None:
    """An outlet that moved its articles to new addresses delivers its topical entries of the
    replay's first nine days again, all on one day, with their own dates. Counted on the day
    they arrived, they would spike; as backlog they are listed, not counted."""
    db: Path = replay["db"]
    docs = [_document(MOVED_FEED, e, MOVED_DAY) for e in replay["moved"]]
    tagged: dict[str, int] = defaultdict(int)
    for tag in tag_documents(docs, TOPICS):
        tagged[tag.topic] += 1
    rows = query(db, "SELECT topic, backlog_documents, backlog_stories FROM v_topic_daily WHERE day = ?", [MOVED_DAY])
    assert {topic: n for topic, n, _stories in rows if n} == dict(tagged)
    assert all(stories > 0 for _topic, n, stories in rows if n)
    trend = query(
        db,
        "SELECT topic, day, stories, backlog_stories, is_spike FROM v_topic_trend WHERE day <= ? ORDER BY topic, day",
        [MOVED_DAY],
    )
    assert not any(spike for _t, day, _s, _b, spike in trend if day == MOVED_DAY)
    # counting the backlog would have made a spike of it
    counted = defaultdict(list)
    for topic, day, stories, backlog, _spike in trend:
        counted[topic].append(DayCount(day, stories + backlog))
    assert any(assess_series(series)[-1].is_spike for series in counted.values())
    for (markdown,) in query(db, "SELECT markdown FROM alerts WHERE kind = 'topic' AND day = ?", [MOVED_DAY]):
        assert "whose copies were all published more than 3 days before (a backlog" in markdown


def test_python_statistics_match_the_trend_view(replay: dict[str, Any]) -> None:
    db: Path = replay["db"]
    store = Store.on_connection(duckdb.connect(str(db), read_only=True), db)
    try:
        start = store.alerts.history_start()
        assert start == FIRST_DAY
        counts, observed = store.alerts.topic_day_counts(start, LAST_DAY), store.alerts.observed_days(start, LAST_DAY)
        ours = topic_trends(counts, store.topics.names(), start, LAST_DAY, SpikeParams(), observed)
    finally:
        store.con.close()
    assert observed.isdisjoint(OUTAGE) and len(observed) == (LAST_DAY - FIRST_DAY).days + 1 - len(OUTAGE)
    view = query(
        db,
        "SELECT topic, day, observed, gap_days, stories, baseline_days, baseline, expected, ratio, p_value, score,"
        " is_spike FROM v_topic_trend",
    )
    assert len(view) == sum(len(points) for points in ours.values())
    points = {(t, p.day): p for t, ps in ours.items() for p in ps}
    for topic, day, seen, gap, stories, n, baseline, expected, ratio, p_value, score, is_spike in view:
        p = points[(topic, day)]
        assert (p.observed, p.gap_days, p.stories, p.baseline_days, p.is_spike) == (seen, gap, stories, n, is_spike)
        for mine, theirs in ((p.baseline, baseline), (p.expected, expected), (p.ratio, ratio), (p.p_value, p_value)):
            assert (mine is None) == (theirs is None)
            if mine is not None:
                assert math.isclose(mine, theirs, rel_tol=1e-9, abs_tol=1e-12), (topic, day)
        assert math.isclose(p.score, score, abs_tol=1e-6), (topic, day)


def test_a_feed_that_goes_quiet_is_reported_once(replay: dict[str, Any]) -> None:
    db: Path = replay["db"]
    rows = query(db, "SELECT day, triggers FROM alerts WHERE kind = 'sources' ORDER BY day")
    assert [day for day, _ in rows] == [QUIET_FROM]
    silent = json.loads(rows[0][1])["silent"]
    assert [s["name"] for s in silent] == [OUTLETS[QUIET_FEED]]
    assert silent[0]["observed"] == 0 and silent[0]["quietest"] >= 20
    assert query(db, "SELECT count(*) FROM feed_silences WHERE ended_at IS NULL") == [(1,)]
    from storage.dashboard import feed_health

    with duckdb.connect(str(db), read_only=True) as con:  # the dashboard's feeds page shows it
        silent = {row.name: row.silent_since for row in feed_health(con)}
    assert [name for name, since in silent.items() if since is not None] == [OUTLETS[QUIET_FEED]]


def test_replayed_runs_last_as_long_as_they_took(replay: dict[str, Any]) -> None:
    """A run replaying a past day ends on that day's clock too: its duration is its own, not
    the years between the replayed day and today."""
    seconds = [row[0] for row in query(replay["db"], "SELECT seconds FROM v_runs")]
    assert seconds and all(0 <= s < 600 for s in seconds), seconds
    finished = query(replay["db"], "SELECT max(finished_at) < TIMESTAMPTZ '2024-01-01' FROM runs")
    assert finished == [(True,)]
    # pages were not fetched (fetch_pages off): said so, not "unavailable" as for a page that failed
    assert query(replay["db"], "SELECT DISTINCT page_kind FROM documents WHERE source_kind = 'feed'") == [
        ("not-fetched",)
    ]


def test_every_alerting_run_has_its_files(replay: dict[str, Any]) -> None:
    db: Path = replay["db"]
    rows = query(db, "SELECT run_id, topic, path, digest_path FROM alerts")
    assert rows
    for _run, _topic, path, page in rows:
        assert Path(path).is_file() and Path(page).is_file()
    pages = {page for *_, page in rows}
    assert len(pages) == len({run for run, *_ in rows})
    for page in pages:
        text = Path(page).read_text(encoding="utf-8")
        sections = text.count('<section class="topic"') + text.count('<section class="sources"')
        assert sections == sum(1 for *_, p in rows if p == page)


def test_python_silence_test_matches_the_cadence_view(replay: dict[str, Any]) -> None:
    db: Path = replay["db"]
    store = Store.on_connection(duckdb.connect(str(db), read_only=True), db)
    try:
        ours = {c.url: c for c in (assess_feed(a, clock(LAST_DAY)) for a in store.feeds.activity(clock(LAST_DAY), 14))}
    finally:
        store.con.close()
    view = query(db, "SELECT url, last_24h, history_days, mean, quietest, p_value, is_silent FROM v_source_cadence")
    assert len(view) == len(OUTLETS) == len(ours)
    for url, last_24h, history_days, mean, quietest, p_value, is_silent in view:
        mine = ours[url]
        assert (mine.observed, mine.history_days, mine.quietest, mine.is_silent) == (
            last_24h,
            history_days,
            quietest,
            is_silent,
        ), url
        assert math.isclose(mine.mean or 0.0, mean or 0.0) and math.isclose(mine.p_value or 0.0, p_value or 0.0)


def test_days_without_a_run_are_not_days_without_news(replay: dict[str, Any]) -> None:
    """The days without a run are in no baseline and not tested; the next day, which found all
    three days' entries, is tested against three days' worth of the baseline: no spike."""
    db: Path = replay["db"]
    after = OUTAGE[1] + timedelta(days=1)
    rows = query(
        db,
        "SELECT topic, observed, gap_days, stories, baseline, expected, is_spike FROM v_topic_trend"
        " WHERE day BETWEEN ? AND ? ORDER BY topic, day",
        [OUTAGE[0], after],
    )
    assert len(rows) == 3 * len(TOPICS)
    for day1, day2, (_topic, seen, gap, _stories, baseline, expected, spike) in zip(
        rows[::3], rows[1::3], rows[2::3], strict=True
    ):
        assert day1[1:] == (False, 0, 0, None, None, False) and day2[1:] == (False, 1, 0, None, None, False)
        assert (seen, gap, spike) == (True, 2, False)
        assert math.isclose(expected, 3 * max(baseline, SpikeParams().floor))
    # counted as days without news, the outage would have made a spike of the day after
    trend = query(db, "SELECT topic, day, stories FROM v_topic_trend WHERE day <= ? ORDER BY topic, day", [after])
    counted = defaultdict(list)
    for topic, day, stories in trend:
        counted[topic].append(DayCount(day, stories))
    assert assess_series(counted["russia-sanctions"])[-1].is_spike
    digests = query(db, "SELECT markdown FROM alerts WHERE kind = 'topic' AND day = ?", [after])
    assert len(digests) == len(TOPICS)  # three days of news: every topic has new stories
    for (markdown,) in digests:
        assert "No monitor run on the 2 days before today: expected counts 3 days of news" in markdown
