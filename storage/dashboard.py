"""Read-only queries behind the dashboard: topics, trends, story lists, a story's lineage and
tags, alerts and feed health, all from the public views (``storage/views``).

Every function takes an open read-only connection (the published snapshot) and returns rows
as the dataclasses below, built by column name. Filters travel as bound parameters (``$name``),
never as SQL text; an absent filter is ``None``.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from typing import Any, TypeVar

import duckdb

from newsmon.errors import QueryError
from newsmon.models import Review, ReviewItem, Stratum
from storage.database import load_sql, records
from storage.reviews import REVIEW_TABLES_HELD, REVIEWS_HELD, SELECT_ITEMS, SELECT_LATEST_REVIEWS, SELECT_STRATA

T = TypeVar("T")


@dataclass(frozen=True, slots=True)
class TopicInfo:
    """A topic in force: its slug, display name, description and version."""

    slug: str
    name: str
    description: str
    version: str


@dataclass(frozen=True, slots=True)
class TrendRow:
    """One topic-day of ``v_topic_trend``: unique stories against the baseline, and the spike test."""

    day: date
    topic: str
    stories: int
    documents: int
    baseline_days: int
    baseline: float | None
    variance: float | None
    expected: float | None
    ratio: float | None
    p_value: float | None
    score: float
    is_spike: bool
    backlog_stories: int = 0  # first seen that day but published long before: not counted
    observed: bool = True  # False: no monitor run that day (not tested, in no baseline)
    gap_days: int = 0  # days without a run right before this one (their news counted here)


@dataclass(frozen=True, slots=True)
class StoryRow:
    """A story in a list: its canonical headline, copies, sources, first sighting and evidence."""

    story_id: str
    title: str
    canonical_source: str
    canonical_url: str
    documents: int
    reprints: int
    sources: int
    source_list: list[str]
    first_seen_at: datetime
    canonical_at: datetime
    kind: str
    topics: list[str]
    evidence: str
    score: float
    total: int = 0  # stories for the same filters, the list's limit aside


@dataclass(frozen=True, slots=True)
class StoryDetail:
    """One row of ``v_stories``."""

    story_id: str
    canonical_title: str
    canonical_document_id: str
    documents: int
    sources: int
    first_seen_at: datetime
    last_seen_at: datetime
    reprints: int
    source_list: list[str]
    canonical_source: str
    canonical_url: str
    origin: str | None
    canonical_at: datetime
    spread: timedelta | None
    min_similarity: float | None
    kind: str


@dataclass(frozen=True, slots=True)
class CopyRow:
    """A member of a story (the canonical or a copy): how it compares with the canonical, and its text."""

    document_id: str
    is_canonical: bool
    title: str
    source: str
    url: str
    origin: str | None
    published_at: datetime | None
    first_seen_at: datetime
    lag: timedelta | None
    method: str
    similarity: float | None
    containment: float | None
    coverage: float | None
    differences: list[str]
    extraction: str | None
    page_kind: str | None
    body: str


@dataclass(frozen=True, slots=True)
class TagRow:
    """A current topic tag of one document: the rule clause that matched and the evidence sentence."""

    document_id: str
    topic: str
    score: float
    evidence: str
    clause: str | None
    topic_version: str
    tagged_at: datetime


@dataclass(frozen=True, slots=True)
class AlertRow:
    """An alert (``v_digests``) without its rendered HTML."""

    alert_id: str
    run_id: str
    created_at: datetime
    day: date | None
    kind: str | None
    topic: str
    new_stories: int | None
    document_count: int
    story_count: int
    spike: bool
    triggers: str | None
    title: str | None
    markdown: str


@dataclass(frozen=True, slots=True)
class AlertStory:
    """A story an alert announced."""

    alert_id: str
    story_id: str
    title: str
    documents: int
    is_new: bool = False  # new to the topic with this alert (else: new copies of a story it had)


@dataclass(frozen=True, slots=True)
class FeedRow:
    """One feed of ``v_feed_health``."""

    name: str
    url: str
    active: bool
    status: str
    last_success_at: datetime | None
    last_polled_at: datetime | None
    last_status: int | None
    last_error_kind: str | None
    last_error: str | None
    last_error_at: datetime | None
    consecutive_failures: int
    next_poll_at: datetime | None
    validators_trusted: bool | None
    interval_s: int | None
    items_total: int | None
    items_stored: int
    silent_since: datetime | None = None  # when it was found silent, if it has not delivered since


def _read(con: duckdb.DuckDBPyConnection, model: type[T], sql: str, params: Mapping[str, Any] | None = None) -> list[T]:
    """:func:`records`, with a query error (an old snapshot without some view) as one line."""
    try:
        return records(con, model, sql, params)
    except duckdb.Error as err:
        first = str(err).splitlines()[0]
        raise QueryError(f"cannot read the snapshot ({first}): run `newsmon run` to bring it up to date") from err


def _scalar(con: duckdb.DuckDBPyConnection, sql: str, params: Mapping[str, Any] | None = None) -> Any:
    try:
        row = con.execute(sql, params).fetchone() if params else con.execute(sql).fetchone()
    except duckdb.Error as err:
        first = str(err).splitlines()[0]
        raise QueryError(f"cannot read the snapshot ({first}): run `newsmon run` to bring it up to date") from err
    return row[0] if row else None


def current_topics(con: duckdb.DuckDBPyConnection) -> list[TopicInfo]:
    """The topics in force at the latest run, by slug."""
    return _read(
        con,
        TopicInfo,
        "SELECT topic AS slug, name, description, version FROM topic_versions WHERE is_current ORDER BY topic",
    )


def latest_review(con: duckdb.DuckDBPyConnection, topic: str) -> tuple[Review, list[Stratum], list[ReviewItem]] | None:
    """A topic's latest judged review (a document labelled yes or no) with its strata and items,
    if it has one (and the snapshot is recent enough to hold reviews)."""
    if _scalar(con, REVIEWS_HELD) != REVIEW_TABLES_HELD:  # a snapshot made before reviews
        return None
    found = _read(con, Review, SELECT_LATEST_REVIEWS, {"topic": topic, "judged": True})
    if not found:
        return None
    params = {"review": found[0].id}
    return found[0], _read(con, Stratum, SELECT_STRATA, params), _read(con, ReviewItem, SELECT_ITEMS, params)


def latest_day(con: duckdb.DuckDBPyConnection) -> date | None:
    """The last day of the trend (the latest run's day, UTC), or None before any document."""
    value = _scalar(con, "SELECT max(day) FROM v_topic_trend")
    return value if isinstance(value, date) else None


def latest_run(con: duckdb.DuckDBPyConnection) -> tuple[str, datetime] | None:
    """The latest run recorded in the snapshot (by the order runs started in, not by their
    clocks, which a replay sets in the past): its kind (monitor, retag) and start."""
    rows = con.execute("SELECT kind, started_at FROM runs ORDER BY seq DESC NULLS LAST, started_at DESC LIMIT 1")
    row = rows.fetchone()
    return (str(row[0] or "monitor"), row[1]) if row and isinstance(row[1], datetime) else None


def topic_trend(
    con: duckdb.DuckDBPyConnection, topic: str | None, since: date | None, until: date | None
) -> list[TrendRow]:
    """Stories a day with the baseline and the spike test, per topic (or one topic), by day."""
    return _read(
        con,
        TrendRow,
        "SELECT day, topic, stories, documents, baseline_days, baseline, variance, expected, ratio, p_value,"
        " score, is_spike, backlog_stories, observed, gap_days FROM v_topic_trend"
        " WHERE ($topic IS NULL OR topic = $topic) AND ($since IS NULL OR day >= $since)"
        " AND ($until IS NULL OR day <= $until) ORDER BY topic, day",
        {"topic": topic, "since": since, "until": until},
    )


def stories(
    con: duckdb.DuckDBPyConnection,
    topic: str | None = None,
    since: date | None = None,
    until: date | None = None,
    source: str | None = None,
    limit: int = 200,
) -> list[StoryRow]:
    """Tagged stories of a topic (or of any) on days in [since, until] with a copy from
    ``source`` (each filter optional), newest first."""
    params = {"topic": topic, "since": since, "until": until, "source": source, "limit": max(1, limit)}
    return _read(con, StoryRow, load_sql("dashboard_stories"), params)


def story_counts(con: duckdb.DuckDBPyConnection, since: date | None, until: date | None) -> dict[str, int]:
    """Distinct stories per topic with a tagged document first seen on a day in [since, until]
    (what a topic's story list holds, a story counted once however many days it had copies)."""
    rows = con.execute(
        "SELECT topic, count(DISTINCT story_id) FROM v_topic_documents"
        " WHERE ($since IS NULL OR day >= $since) AND ($until IS NULL OR day <= $until) GROUP BY topic",
        {"since": since, "until": until},
    ).fetchall()
    return {str(topic): int(n) for topic, n in rows}


def story(con: duckdb.DuckDBPyConnection, story_id: str) -> StoryDetail | None:
    """One story (``v_stories``), or None."""
    rows = _read(con, StoryDetail, "SELECT * FROM v_stories WHERE story_id = $id", {"id": story_id})
    return rows[0] if rows else None


def story_copies(con: duckdb.DuckDBPyConnection, story_id: str) -> list[CopyRow]:
    """A story's canonical, then its copies in the order they appeared."""
    return _read(con, CopyRow, load_sql("dashboard_copies"), {"story_id": story_id})


def story_tags(con: duckdb.DuckDBPyConnection, story_id: str) -> list[TagRow]:
    """The current topic tags of every document of a story."""
    return _read(
        con,
        TagRow,
        "SELECT t.document_id, t.topic, t.score, t.evidence, t.clause, t.topic_version, t.tagged_at"
        " FROM v_document_topics t JOIN story_members m ON m.document_id = t.document_id"
        " WHERE m.story_id = $id ORDER BY t.topic, t.score DESC, t.document_id",
        {"id": story_id},
    )


def alerts(
    con: duckdb.DuckDBPyConnection,
    topic: str | None = None,
    since: date | None = None,
    until: date | None = None,
    limit: int = 100,
) -> list[AlertRow]:
    """Alerts, newest first: of one topic (or all), created on days in [since, until]."""
    return _read(
        con,
        AlertRow,
        "SELECT alert_id, run_id, created_at, day, kind, topic, new_stories, document_count, story_count, spike,"
        " triggers, title, markdown FROM v_digests"
        " WHERE ($topic IS NULL OR topic = $topic)"
        " AND ($since IS NULL OR CAST(timezone('UTC', created_at) AS DATE) >= $since)"
        " AND ($until IS NULL OR CAST(timezone('UTC', created_at) AS DATE) <= $until)"
        " ORDER BY created_at DESC, kind DESC, topic LIMIT $limit",
        {"topic": topic, "since": since, "until": until, "limit": max(1, limit)},
    )


def alert_stories(con: duckdb.DuckDBPyConnection, alert_ids: Sequence[str]) -> list[AlertStory]:
    """The stories the given alerts announced."""
    if not alert_ids:
        return []
    return _read(con, AlertStory, load_sql("dashboard_alert_stories"), {"alert_ids": list(alert_ids)})


def feed_health(con: duckdb.DuckDBPyConnection, source: str | None = None) -> list[FeedRow]:
    """Every feed's health (``v_feed_health``, and since when it has been silent, if it is), or
    the feed named ``source``; failing ones first."""
    return _read(
        con,
        FeedRow,
        "SELECT name, url, active, status, last_success_at, last_polled_at, last_status, last_error_kind,"
        " last_error, last_error_at, consecutive_failures, next_poll_at, validators_trusted, interval_s,"
        " items_total, items_stored, (SELECT max(s.started_at) FROM feed_silences s"
        " WHERE s.feed_url = h.url AND s.ended_at IS NULL) AS silent_since"
        " FROM v_feed_health h WHERE $source IS NULL OR name = $source"
        " ORDER BY CASE status WHEN 'broken' THEN 0 WHEN 'failing' THEN 1 WHEN 'new' THEN 2 ELSE 3 END, name",
        {"source": source},
    )


def sources(con: duckdb.DuckDBPyConnection) -> list[str]:
    """Every source name of a stored document (feeds and input folders), sorted."""
    try:
        return [str(row[0]) for row in con.execute("SELECT DISTINCT source FROM documents ORDER BY 1").fetchall()]
    except duckdb.Error as err:
        raise QueryError(f"cannot read the snapshot ({str(err).splitlines()[0]})") from err
