"""The dashboard tests' database: six daily runs of the pipeline core over the seeds and three
loopback feeds (not a test module).

- ``Wire <b>`` (a hostile name) gives one Russia-sanctions and one Central Asia story a day, then
  seven sanctions stories on the last day (a spike against a baseline of about 1.5 a day); two
  of its headlines carry markup as text (``<img src=x onerror=…>``, ``<script>``).
- ``Mirror`` reprints: on the second day an edited copy of a seed article (its page fetched and
  extracted from the loopback server: a near copy with a new headline), on the last day the
  hostile headline again (a feed summary joining by headline).
- ``Dead`` answers 500 (feed health: failing, http-5xx).

Feed text reaches the store as plain text (the feed layer strips markup, even double-escaped),
so the headlines that keep markup as text come from two files added to the seeds on the last
day, as a reader's clipping folder would hold them: ``HOSTILE_FILES``.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

import pytest
from support import SEEDS, Route, ScriptedServer

from newsmon.config import Settings
from newsmon.models import Review
from newsmon.pipeline import RunContext, run_once
from newsmon.review import draw_review, sort_strata
from newsmon.topics import Topic, load_topics
from storage.store import Store

FIRST_DAY = date(2023, 5, 14)
DAYS = [FIRST_DAY + timedelta(days=n) for n in range(6)]
IMG = "<img src=x onerror=alert(1)>"
SCRIPT = "<script>alert(1)</script>"
HOSTILE_TITLE = f"EU agrees new sanctions on Russia {IMG}"
SCRIPT_TITLE = f"Treasury sanctions Russian bank network {SCRIPT}"
HOSTILE_FILES = {
    "img.txt": f"Sanctions on Russia tighten {IMG}\n\nThe EU adopted new sanctions against Russia's banks on Friday."
    f' {SCRIPT} Officials said the sanctions target Russian lenders. <a href="javascript:alert(2)">more</a>\n',
    "script.txt": f"{SCRIPT} US sanctions Russian shipping firms\n\nWashington imposed sanctions on Russian shipping"
    " firms accused of helping Moscow evade the oil price cap.\n",
}
MIRROR_TITLE = "Blinken heads to Central Asia to urge distance from Moscow"
QUIET = ["oil traders", "shipping insurers", "steel exports", "diamond imports", "fertiliser makers"]
SURGE = [
    HOSTILE_TITLE,
    SCRIPT_TITLE,
    "G7 leaders prepare fresh sanctions against Russia's energy sector",
    "Japan freezes assets of Russian oligarchs under new sanctions",
    "UK sanctions Russian metals giant over war funding",
    "Canada bans Russian aluminium imports in sanctions push",
    "Swiss regulator enforces EU sanctions on Russian gold",
]
CENTRAL_ASIA = [
    "Kazakhstan and Uzbekistan foreign ministers meet in Tashkent",
    "Kyrgyzstan and Tajikistan hold border talks in Bishkek",
    "Turkmenistan hosts Central Asia summit on gas cooperation",
    "Uzbekistan president visits Kazakhstan for trade talks",
    "Tajikistan foreign minister meets Kazakh counterpart in Astana",
    "Central Asian leaders meet Xi in Xi'an for China summit",
]


def _clock(day: date) -> datetime:
    return datetime(day.year, day.month, day.day, 22, 0, tzinfo=UTC)


def _pub(day: date, hour: int) -> str:
    return datetime(day.year, day.month, day.day, hour, 0, tzinfo=UTC).strftime("%a, %d %b %Y %H:%M:%S GMT")


def _escaped(text: str) -> str:
    """Text for an RSS element that the feed parser hands on as this very text (markup included)."""
    return text.replace("&", "&amp;amp;").replace("<", "&amp;lt;").replace(">", "&amp;gt;")


def _rss(title: str, items: list[tuple[str, str, str, str]]) -> bytes:
    entries = "".join(
        f"<item><title>{_escaped(t)}</title><link>{link}</link><guid>{guid}</guid>"
        f"<description>{_escaped(summary)}</description><pubDate>{pub}</pubDate></item>"
        for t, link, summary, pub, guid in ((*i, f"{title}-{n}") for n, i in enumerate(items))
    )
    return f"<?xml version='1.0'?><rss version='2.0'><channel><title>{title}</title>{entries}</channel></rss>".encode()


def _wire_items(base: str, upto: int) -> list[tuple[str, str, str, str]]:
    items = []
    for n, day in enumerate(DAYS[: upto + 1]):
        if n < len(DAYS) - 1:
            what = QUIET[n]
            summary = f"Brussels is weighing sanctions against Russian {what}, officials said."
            items.append((f"EU weighs sanctions on Russian {what}", f"{base}/wire/s{n}", summary, _pub(day, 9)))
        else:
            for k, title in enumerate(SURGE):
                items.append((title, f"{base}/wire/surge{k}",
                              f"New sanctions against Russia announced: {title}.", _pub(day, 8 + k)))  # fmt: skip
        place = CENTRAL_ASIA[n]
        items.append(
            (place, f"{base}/wire/c{n}", f"{place}: the ministers discussed regional cooperation.", _pub(day, 7))
        )
    return items


def _mirror_page(seed: Path) -> bytes:
    """An edited reprint of a seed article: new headline, a few words changed, a line added."""
    lines = [line for line in seed.read_text(encoding="utf-8").splitlines()[1:] if line.strip()]
    body = "\n".join(f"<p>{line}</p>" for line in lines)
    body = body.replace("Secretary of State Antony J. Blinken", "U.S. Secretary of State Antony Blinken", 1)
    body = body.replace("Tuesday", "Wednesday", 1)
    body += "<p>This article was republished by Mirror under a syndication agreement.</p>"
    head = f"<html><head><title>{MIRROR_TITLE}</title></head>"
    page = f"{head}<body><article><h1>{MIRROR_TITLE}</h1>{body}</article></body></html>"
    return page.encode()


@dataclass
class DashboardData:
    """The built database and what the tests look for in it."""

    db: Path
    settings: Settings
    server: ScriptedServer


def build_dashboard_db(folder: Path, monkeypatch: pytest.MonkeyPatch) -> DashboardData:
    """Six runs, one a day at 22:00 UTC (``DAYS``), each publishing the read snapshot."""
    server = ScriptedServer()
    monkeypatch.setenv("NEWSMON_HTTP_ALLOW", "127.0.0.0/8")
    monkeypatch.delenv("NEWSMON_NOTIFY", raising=False)
    feeds = folder / "feeds.toml"
    feeds.write_text(
        f'[[feeds]]\nname = "Wire <b>"\nurl = "{server.url("/wire.xml")}"\n\n'
        f'[[feeds]]\nname = "Mirror"\nurl = "{server.url("/mirror.xml")}"\n\n'
        f'[[feeds]]\nname = "Dead"\nurl = "{server.url("/dead.xml")}"\n',
        encoding="utf-8",
    )
    seeds = folder / "seeds"
    seeds.mkdir()
    for path in SEEDS.iterdir():
        if path.is_file():
            (seeds / path.name).write_bytes(path.read_bytes())
    settings = Settings(
        db=folder / "news.duckdb", seeds=seeds, feeds=feeds, alerts_dir=folder / "alerts", fetch_pages=True,
        extract_workers=1,
    )  # fmt: skip
    seed = sorted(SEEDS.glob("002_*.txt"))[0]
    server.routes["/articles/blinken"] = Route(_mirror_page(seed), {"Content-Type": "text/html; charset=utf-8"})
    server.routes["/dead.xml"] = Route(b"down", {"Content-Type": "text/plain"}, status=500)
    topics = load_topics(settings.topics_path)
    for n, day in enumerate(DAYS):
        server.routes["/wire.xml"] = Route(_rss("Wire", _wire_items(server.base, n)))
        mirror: list[tuple[str, str, str, str]] = []
        if n >= 1:
            mirror.append(
                (MIRROR_TITLE, server.url("/articles/blinken"), "Blinken flies to Central Asia.", _pub(DAYS[1], 12))
            )
        if n == len(DAYS) - 1:
            mirror.append(
                (HOSTILE_TITLE, server.url("/mirror/eu"), "New sanctions against Russia announced.", _pub(day, 15))
            )
        server.routes["/mirror.xml"] = Route(_rss("Mirror", mirror))
        if n == len(DAYS) - 1:
            for name, text in HOSTILE_FILES.items():
                (seeds / name).write_text(text, encoding="utf-8")
        store = Store.open_writer(settings.db)
        try:
            run_once(RunContext(settings, store, topics, _clock(day), f"run-{day.isoformat()}"))
        finally:
            store.close(snapshot=True)
    add_review(settings.db, topics)
    return DashboardData(settings.db, settings, server)


REVIEW_WRONG = "Swiss regulator"  # the one tag the review's reader judges wrong


def add_review(path: Path, topics: list[Topic]) -> None:
    """A judged review of russia-sanctions: every document drawn (a census of each stratum), each
    tag judged right but the one of ``REVIEW_WRONG``, every untagged document judged not about it."""
    (topic,) = [t for t in topics if t.slug == "russia-sanctions"]
    store = Store.open_writer(path)
    try:
        tagged = set(store.topics.current_tags(topic.slug))
        members = sort_strata(store.documents.iter_all(500), topic, tagged)
        strata, items = draw_review(members, {"tagged": 1000, "near": 1000, "rest": 1000}, seed=1)
        now = _clock(DAYS[-1])
        review = Review("rv-dashboard", topic.slug, topic.version, 1, now, "review-1")
        store.reviews.create(review, strata, items, members)
        titles = {d.id: d.title for d in store.documents.by_id([i.document_id for i in items]).values()}
        labels = [
            ("rv-dashboard", i.document_id, "no" if i.stratum != "tagged" or REVIEW_WRONG in titles[i.document_id]
             else "yes", None)
            for i in items
        ]  # fmt: skip
        store.reviews.store_labels(labels, "judge-1", now)
    finally:
        store.close(snapshot=True)
