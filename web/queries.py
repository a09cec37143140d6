"""The data of each dashboard page, from its filters: plain dictionaries for the templates.

Filters are query parameters (``topic``, ``since``, ``until``, ``source``), so every view is a
shareable link. Without ``since``/``until`` a page shows the last :data:`DEFAULT_DAYS` days up
to the latest run's day (not the wall clock: a replayed past day reads as "today").
"""

from __future__ import annotations

import json
from collections import defaultdict
from collections.abc import Mapping
from dataclasses import dataclass, replace
from datetime import date, timedelta
from typing import Any
from urllib.parse import urlencode

import duckdb

from newsmon.alerts import trigger_lines
from newsmon.diffs import word_diff
from newsmon.errors import NewsmonError, failure_hint
from newsmon.models import Review, ReviewItem, Stratum
from newsmon.review import score_reviewed
from storage import dashboard as db
from storage.alerts import known_topics
from web.charts import trend_chart

DEFAULT_DAYS = 30
ALERTS_SHOWN = 100  # the newest alerts of the window on the alerts page
MAX_FILTER_TEXT = 200
OPENING_WORDS = 80  # of the canonical's text, on a story page


class FilterError(NewsmonError):
    """A filter in the query string is malformed (answered with 400)."""


class NotFoundError(NewsmonError):
    """No such topic or story (answered with 404)."""


@dataclass(frozen=True, slots=True)
class Filters:
    """The filters of a page, as given in its query string (None: not given)."""

    topic: str | None = None
    since: date | None = None
    until: date | None = None
    source: str | None = None

    @classmethod
    def parse(cls, params: Mapping[str, str]) -> Filters:
        """Filters from query parameters; a malformed date or an overlong value is a :class:`FilterError`."""
        values = {k: (params.get(k) or "").strip() or None for k in ("topic", "since", "until", "source")}
        for name in ("topic", "source"):
            if values[name] is not None and len(values[name] or "") > MAX_FILTER_TEXT:
                raise FilterError(f"filter {name} is longer than {MAX_FILTER_TEXT} characters: shorten it")
        since, until = _day(values["since"], "since"), _day(values["until"], "until")
        if since and until and since > until:
            raise FilterError(f"since {since} is after until {until}: swap them")
        return cls(values["topic"], since, until, values["source"])

    def query(self, **changes: Any) -> str:
        """The query string (``?…``, or ``""``) of these filters with ``changes`` applied."""
        merged = replace(self, **changes)
        pairs = [(k, str(getattr(merged, k))) for k in ("topic", "since", "until", "source") if getattr(merged, k)]
        return "?" + urlencode(pairs) if pairs else ""


FIRST_DAY, LAST_DAY = date(1900, 1, 1), date(9998, 12, 31)
OVERVIEW_STORIES, TOPIC_STORIES = 100, 200  # the newest stories a list shows (a note says when there are more)


def _day(text: str | None, name: str) -> date | None:
    if text is None:
        return None
    try:
        day = date.fromisoformat(text)
    except ValueError as err:
        raise FilterError(f"filter {name}={text[:40]!r} is not a date: use YYYY-MM-DD") from err
    if not FIRST_DAY <= day <= LAST_DAY:  # the window's arithmetic must stay within dates
        raise FilterError(f"filter {name}={text[:40]!r} is out of range: use a date from {FIRST_DAY} to {LAST_DAY}")
    return day


@dataclass(frozen=True, slots=True)
class Window:
    """The days a page shows: the filters' or the default window ending on the latest day."""

    since: date | None
    until: date | None

    @classmethod
    def of(cls, con: duckdb.DuckDBPyConnection, filters: Filters) -> Window:
        """The filters' days, the missing ends from the default window."""
        last = db.latest_day(con)
        until = filters.until or last
        if filters.since and until and filters.since > until:  # only since given, after the latest day
            until = filters.since
        since = filters.since or (until - timedelta(days=DEFAULT_DAYS - 1) if until else None)
        return cls(since, until)


def common(con: duckdb.DuckDBPyConnection, filters: Filters) -> dict[str, Any]:
    """What every page shows: the topics (nav, filter form), the sources and the snapshot's time."""
    window = Window.of(con, filters)
    topics = db.current_topics(con)
    current = {t.slug for t in topics}
    if filters.topic and filters.topic not in current and filters.topic not in known_topics(con):
        known = ", ".join(t.slug for t in topics) or "none yet"
        raise FilterError(f"no topic {filters.topic[:80]!r}: use one of {known}")
    return {
        "topics": topics,
        "current": current,
        "retired": filters.topic if filters.topic and filters.topic not in current else None,
        "sources": db.sources(con),
        "latest_run": db.latest_run(con),
        "filters": filters,
        "window": window,
    }


def overview(con: duckdb.DuckDBPyConnection, filters: Filters) -> dict[str, Any]:
    """Per topic: its stories a day (chart), stories in the window, spike days and the latest
    day's count against its baseline; then the stories of the window (of ``topic`` if given)."""
    page = common(con, filters)
    window: Window = page["window"]
    trend = db.topic_trend(con, None, window.since, window.until)
    by_topic: dict[str, list[db.TrendRow]] = defaultdict(list)
    for row in trend:
        by_topic[row.topic].append(row)
    counts = db.story_counts(con, window.since, window.until)
    cards = []
    for topic in page["topics"]:
        rows = by_topic.get(topic.slug, [])
        last = rows[-1] if rows else None
        cards.append(
            {
                "topic": topic,
                "stories": counts.get(topic.slug, 0),
                "spikes": [r.day for r in rows if r.is_spike],
                "last": last,
                "chart": trend_chart(rows, f"{topic.name}: unique stories a day", 120, legend=False),
            }
        )
    rising = sorted(  # above what their own baseline expects on the latest day
        (c for c in cards if c["last"] is not None and c["last"].ratio is not None and c["last"].ratio > 1),
        key=lambda c: (-c["last"].score, -(c["last"].ratio or 0), c["topic"].slug),
    )
    page.update(
        cards=cards,
        rising=rising,
        stories=db.stories(con, filters.topic, window.since, window.until, filters.source, limit=OVERVIEW_STORIES),
    )
    return page


def topic(con: duckdb.DuckDBPyConnection, slug: str, filters: Filters) -> dict[str, Any]:
    """A topic's trend (stories a day, baseline, spikes), its spike days and its stories."""
    page = common(con, filters)
    info = next((t for t in page["topics"] if t.slug == slug), None)
    if info is None:
        known = ", ".join(t.slug for t in page["topics"]) or "none yet"
        raise NotFoundError(f"no topic {slug[:80]!r} in force: use one of {known}")
    window: Window = page["window"]
    rows = db.topic_trend(con, slug, window.since, window.until)
    page.update(
        topic=info,
        review=review_figures(db.latest_review(con, slug)),
        trend=rows,
        spikes=[r for r in rows if r.is_spike],
        chart=trend_chart(rows, f"{info.name}: unique stories a day against the baseline"),
        stories=db.stories(con, slug, window.since, window.until, filters.source, limit=TOPIC_STORIES),
        filters=replace(filters, topic=slug),
    )
    return page


def review_figures(found: tuple[Review, list[Stratum], list[ReviewItem]] | None) -> dict[str, Any] | None:
    """A topic's latest review as the topic page shows it: what was judged and the store's
    precision and recall with their intervals (None: no review, or nothing judged yet)."""
    if found is None:
        return None
    review, strata, items = found
    score = score_reviewed(strata, items)
    if not score.clear:
        return None
    return {"review": review, "score": score, "drawn": len(items)}


def story(con: duckdb.DuckDBPyConnection, story_id: str) -> dict[str, Any]:
    """A story's lineage: the canonical, each copy with its lag, what differs and a word diff
    against the canonical; and each document's tags with their clause and evidence."""
    page = common(con, Filters())
    detail = db.story(con, story_id)
    if detail is None:
        raise NotFoundError(f"no story {story_id[:80]!r} in the snapshot: it may come with a later run")
    copies = db.story_copies(con, story_id)
    canonical = next((c for c in copies if c.is_canonical), copies[0] if copies else None)
    tags = db.story_tags(con, story_id)
    tags_of: dict[str, list[db.TagRow]] = defaultdict(list)
    for tag in tags:
        tags_of[tag.document_id].append(tag)
    names = {t.slug: t.name for t in page["topics"]}
    members = []
    for copy in copies:
        diff = None
        if canonical is not None and not copy.is_canonical:
            diff = word_diff(canonical.body, copy.body)
        members.append(
            {
                "doc": copy,
                "diff": diff,
                "title_changed": canonical is not None and copy.title.strip() != canonical.title.strip(),
                "opening": _opening(copy.body) if copy.is_canonical else "",
                "tags": tags_of.get(copy.document_id, []),
            }
        )
    page.update(
        story=detail,
        members=members,
        canonical=canonical,
        topic_names=names,
        story_topics=sorted({t.topic for t in tags}),
    )
    return page


def _opening(body: str, words: int = OPENING_WORDS) -> str:
    """The first ``words`` words of a text (with an ellipsis when there is more)."""
    parts = body.split()
    return " ".join(parts[:words]) + (" …" if len(parts) > words else "")


def alerts(con: duckdb.DuckDBPyConnection, filters: Filters) -> dict[str, Any]:
    """Alerts newest first (of ``topic``, made on the days of the window the page shows, the
    newest :data:`ALERTS_SHOWN`), with what triggered them and the stories they announced."""
    page = common(con, filters)
    window: Window = page["window"]
    rows = db.alerts(con, filters.topic, window.since, window.until, limit=ALERTS_SHOWN)
    announced: dict[str, list[db.AlertStory]] = defaultdict(list)
    for item in db.alert_stories(con, [a.alert_id for a in rows]):
        announced[item.alert_id].append(item)
    items = []
    for row in rows:
        triggers = _triggers(row.triggers)
        lines = _trigger_lines(triggers) if row.kind != "sources" else []
        items.append({"alert": row, "lines": lines, "triggers": triggers, "stories": announced.get(row.alert_id, [])})
    page.update(alerts=items, capped=len(rows) == ALERTS_SHOWN)
    return page


def _trigger_lines(triggers: dict[str, Any]) -> list[str]:
    """The alert's trigger sentences (none when its stored triggers lack a number they need)."""
    try:
        return trigger_lines(triggers)
    except (KeyError, TypeError, ValueError):
        return []


def _triggers(text: str | None) -> dict[str, Any]:
    try:
        value = json.loads(text) if text else {}
    except ValueError:
        return {}
    return value if isinstance(value, dict) else {}


def feeds(con: duckdb.DuckDBPyConnection, filters: Filters) -> dict[str, Any]:
    """Every feed's health (or the feed named by ``source``), with what to do about a failure."""
    page = common(con, filters)
    rows = db.feed_health(con, filters.source)
    page.update(feeds=[{"feed": f, "hint": failure_hint(f.last_error_kind)} for f in rows])
    return page
