"""Alerts and what they are built from (``alerts``; trends through ``v_topic_daily``)."""

from __future__ import annotations

import json
from collections import defaultdict
from collections.abc import Sequence
from datetime import date, datetime
from pathlib import Path
from typing import Any

import duckdb
import pyarrow as pa

from newsmon.errors import QueryError
from newsmon.models import AlertItem, AlertRecord, DayCount, StoryLine
from storage.database import Database, execute, interruptible, load_sql, string_table

_DIGEST_COLUMNS = (
    "alert_id, run_id, topic, kind, created_at, day, document_count, story_count, new_stories,"
    " spike, triggers, markdown, html, title, path, digest_path"
)


class AlertRepository:
    """What the alert stage reads (pending tags, trends, story lines) and the alerts it stores."""

    def __init__(self, db: Database) -> None:
        self.db = db

    def pending_items(self) -> dict[str, list[AlertItem]]:
        """Current-version tags not yet part of any alert, grouped by topic.

        ``is_new_story`` is true when no other document of the story has an earlier tag for the
        topic (alerted, or a backfill of old news): the story is new to the topic.
        """
        rows = self.db.execute(
            "SELECT t.topic, d.id, m.story_id, d.title, d.source, d.url, t.evidence, t.score,"
            " NOT EXISTS (SELECT 1 FROM document_topics o"
            "  JOIN story_members om ON om.document_id = o.document_id"
            "  WHERE om.story_id = m.story_id AND o.topic = t.topic AND o.topic_version = t.topic_version"
            "  AND o.alert_id IS NOT NULL), d.published_at"
            " FROM document_topics t"
            " JOIN topic_versions v ON v.topic = t.topic AND v.version = t.topic_version AND v.is_current"
            " JOIN documents d ON d.id = t.document_id"
            " JOIN story_members m ON m.document_id = d.id"
            " WHERE t.alert_id IS NULL ORDER BY t.topic, t.score DESC, d.id",
        )
        out: dict[str, list[AlertItem]] = defaultdict(list)
        for topic, *fields in rows:
            out[topic].append(AlertItem(*fields))
        return dict(out)

    def history_start(self) -> date | None:
        """The day (UTC) monitoring began: the first sighting of any document."""
        rows = self.db.execute("SELECT CAST(timezone('UTC', min(first_seen_at)) AS DATE) FROM documents")
        return rows[0][0] if rows else None

    def observed_days(self, since: date, until: date) -> set[date]:
        """The days (UTC) someone looked: a monitor run started or a document was first seen."""
        rows = self.db.execute(
            "SELECT DISTINCT CAST(timezone('UTC', seen) AS DATE) AS day FROM ("
            " SELECT started_at AS seen FROM runs WHERE kind = 'monitor' UNION ALL SELECT first_seen_at FROM documents)"
            " WHERE CAST(timezone('UTC', seen) AS DATE) BETWEEN ? AND ?",
            [since, until],
        )
        return {day for (day,) in rows}

    def topic_day_counts(self, since: date, until: date) -> dict[str, list[DayCount]]:
        """Unique stories and documents per topic and day (days with items only), and the stories
        of a backlog left out of them, from v_topic_daily."""
        rows = self.db.execute(
            "SELECT topic, day, stories, documents, backlog_stories FROM v_topic_daily"
            " WHERE day BETWEEN ? AND ? ORDER BY topic, day",
            [since, until],
        )
        out: dict[str, list[DayCount]] = defaultdict(list)
        for topic, day, stories, documents, backlog in rows:
            out[topic].append(DayCount(day, int(stories), int(documents), int(backlog)))
        return dict(out)

    def stories_on_day(self, day: date) -> dict[str, set[str]]:
        """The stories each topic had on ``day`` (as v_topic_daily counts them: backlog left out)."""
        rows = self.db.execute(
            "SELECT DISTINCT topic, story_id FROM v_topic_documents WHERE day = ? AND NOT is_backlog", [day]
        )
        out: dict[str, set[str]] = defaultdict(set)
        for topic, story_id in rows:
            out[topic].add(story_id)
        return dict(out)

    def story_lines(self, pairs: Sequence[tuple[str, str]]) -> dict[tuple[str, str], StoryLine]:
        """For (topic, story id) pairs: the canonical headline and link, copies, sources, and the
        evidence of the story's best tag for the topic (the canonical document's, if tagged)."""
        if not pairs:
            return {}
        staged = pa.table(
            {
                "topic": pa.array([p[0] for p in pairs], pa.string()),
                "story_id": pa.array([p[1] for p in pairs], pa.string()),
            }
        )
        with self.db.registered("staged_pairs", staged), interruptible():
            result = self.db.con.execute(load_sql("story_lines"))
            names = [d[0] for d in result.description or []]
            rows = [dict(zip(names, row, strict=True)) for row in result.fetchall()]
        out: dict[tuple[str, str], StoryLine] = {}
        for row in rows:
            topic = row.pop("topic")
            row["documents"], row["sources"] = int(row["documents"]), tuple(row["sources"])
            out[(topic, row["story_id"])] = StoryLine(**row)
        return out

    def spike_alerted_topics(self, day: date) -> set[str]:
        """Topics that already had a spike alert for ``day``."""
        return {row[0] for row in self.db.execute("SELECT DISTINCT topic FROM alerts WHERE day = ? AND spike", [day])}

    def store(
        self,
        records: Sequence[AlertRecord],
        deliveries: Sequence[tuple[str, str, str]],
        silenced: Sequence[tuple[str, int, str]],
        recovered: Sequence[str],
        now: datetime,
        held: bool = False,
    ) -> None:
        """In one transaction: store a run's alerts, mark their topics' pending tags alerted, queue
        their deliveries (alert id, target key, label), and open (url, quietest, alert id) or
        close (url) feed silences. ``held``: the notify file could not be read, so the alerts
        wait for :meth:`route_held` instead of having deliveries."""
        with self.db.transaction() as con:
            for record in records:
                execute(
                    con,
                    "INSERT INTO alerts (id, run_id, topic, created_at, document_count, story_count, markdown,"
                    " kind, day, new_stories, spike, triggers, title, html, notify_held)"
                    " VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?) ON CONFLICT (id) DO NOTHING",
                    [
                        record.id, record.run_id, record.topic, record.created_at, record.document_count,
                        record.story_count, record.markdown, record.kind, record.day, record.new_stories,
                        record.spike, json.dumps(record.triggers, sort_keys=True), record.title, record.html,
                        held,
                    ],
                )  # fmt: skip
                if record.kind == "topic":
                    execute(
                        con,
                        "UPDATE document_topics SET alert_id = ? WHERE topic = ? AND alert_id IS NULL"
                        " AND topic_version IN (SELECT version FROM topic_versions WHERE topic = ? AND is_current)",
                        [record.id, record.topic, record.topic],
                    )
            run_of = {r.id: r.run_id for r in records}
            _queue_deliveries(con, deliveries, run_of, now)
            for url in recovered:
                execute(
                    con, "UPDATE feed_silences SET ended_at = ? WHERE feed_url = ? AND ended_at IS NULL", [now, url]
                )
            for url, quietest, alert in silenced:
                execute(
                    con,
                    "INSERT INTO feed_silences (feed_url, started_at, quietest, alert_id, ended_at, run_id)"
                    " VALUES (?, ?, ?, ?, NULL, ?) ON CONFLICT DO NOTHING",
                    [url, now, quietest, alert, run_of.get(alert)],
                )

    def held(self) -> list[tuple[str, str, str]]:
        """The (alert id, topic, run id) of alerts waiting for a readable notify file, oldest first."""
        rows = self.db.execute("SELECT id, topic, run_id FROM alerts WHERE notify_held ORDER BY created_at, id")
        return [(alert, topic, run) for alert, topic, run in rows]

    def route_held(
        self, held: Sequence[tuple[str, str, str]], deliveries: Sequence[tuple[str, str, str]], now: datetime
    ) -> None:
        """In one transaction: queue the deliveries of these held alerts (see :meth:`held`) as
        (alert id, target key, label), and clear their mark (an alert whose topic has no URL is
        routed to none)."""
        ids = string_table("id", [alert for alert, _topic, _run in held])
        with self.db.registered("staged_held", ids), self.db.transaction() as con:
            _queue_deliveries(con, deliveries, {alert: run for alert, _topic, run in held}, now)
            execute(con, "UPDATE alerts SET notify_held = false WHERE id IN (SELECT id FROM staged_held)")

    def files(self) -> list[tuple[str, str, str | None, str | None]]:
        """Every alert's (id, run id, Markdown path, HTML digest path) as stored."""
        rows = self.db.execute("SELECT id, run_id, path, digest_path FROM alerts ORDER BY created_at, id")
        return [(a, r, p, d) for a, r, p, d in rows]

    def records_of_runs(self, run_ids: Sequence[str]) -> list[AlertRecord]:
        """The stored alerts of these runs."""
        if not run_ids:
            return []
        with self.db.registered("staged_runs", string_table("run_id", run_ids)):
            rows = self.db.execute(
                f"SELECT {_DIGEST_COLUMNS} FROM v_digests WHERE run_id IN (SELECT run_id FROM staged_runs)"  # noqa: S608
            )
        return [_alert_record(row) for row in rows]

    def set_paths(self, paths: dict[str, Path], digest_paths: dict[str, Path]) -> None:
        """Record where each alert's Markdown (by alert id) and each run's page (by run id) were written."""
        with self.db.transaction() as con:
            for alert, path in paths.items():
                execute(con, "UPDATE alerts SET path = ? WHERE id = ?", [str(path), alert])
            for run_id, path in digest_paths.items():
                execute(con, "UPDATE alerts SET digest_path = ? WHERE run_id = ?", [str(path), run_id])


def _alert_record(row: Sequence[Any]) -> AlertRecord:
    """A v_digests row (the columns of ``_DIGEST_COLUMNS``) as a record."""
    (alert, run_id, topic, kind, created_at, day, documents, stories, new_stories, spike, triggers, markdown,
     html, title, path, digest_path) = row  # fmt: skip
    return AlertRecord(
        alert, run_id, topic, kind or "topic", created_at, day or created_at.date(), int(documents), int(stories),
        int(new_stories or 0), bool(spike), json.loads(triggers) if triggers else {}, markdown, html or "",
        title or "", path, digest_path,
    )  # fmt: skip


def latest_digest(con: duckdb.DuckDBPyConnection, topic: str | None = None) -> list[AlertRecord]:
    """The alerts of the latest run that made any (in digest order), or a topic's latest alert."""
    try:
        if topic is not None:
            rows = execute(
                con,
                f"SELECT {_DIGEST_COLUMNS} FROM v_digests WHERE topic = ? ORDER BY created_at DESC, alert_id LIMIT 1",  # noqa: S608
                [topic],
            )
        else:
            rows = execute(
                con,
                f"SELECT {_DIGEST_COLUMNS} FROM v_digests"  # noqa: S608
                " WHERE run_id = (SELECT run_id FROM alerts ORDER BY created_at DESC, id LIMIT 1)",
            )
    except duckdb.Error as err:
        raise QueryError(f"cannot read alerts ({str(err).splitlines()[0]}): run `newsmon run` to migrate") from err
    return [_alert_record(row) for row in rows]


def retired_topics(con: duckdb.DuckDBPyConnection) -> list[str]:
    """Topics the database knows (a version, or an alert) that no current version defines:
    dropped from the topics file, their tags out of the views of current tags."""
    current = {row[0] for row in execute(con, "SELECT topic FROM topic_versions WHERE is_current")}
    return [topic for topic in known_topics(con) if topic not in current]


def known_topics(con: duckdb.DuckDBPyConnection) -> list[str]:
    """Every topic the database knows (any version, or an alert), sorted."""
    try:
        rows = execute(con, "SELECT topic FROM topic_versions UNION SELECT topic FROM alerts ORDER BY 1")
    except duckdb.Error as err:
        raise QueryError(f"cannot read topics ({str(err).splitlines()[0]}): run `newsmon run` to migrate") from err
    return [row[0] for row in rows]


def _queue_deliveries(
    con: duckdb.DuckDBPyConnection, deliveries: Sequence[tuple[str, str, str]], run_of: dict[str, str], now: datetime
) -> None:
    """Queue (alert id, target key, label) deliveries, pending; ``run_of``: each alert's run."""
    for alert, target, label in deliveries:
        execute(
            con,
            "INSERT INTO deliveries (alert_id, target, target_label, status, attempts, created_at, run_id)"
            " VALUES (?, ?, ?, 'pending', 0, ?, ?) ON CONFLICT DO NOTHING",
            [alert, target, label, now, run_of.get(alert, "")],
        )
