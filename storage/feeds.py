"""Feeds and what they delivered (``feeds``, ``feed_items``, ``feed_silences``)."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Sequence
from dataclasses import fields
from datetime import datetime
from typing import Any

import duckdb
import pyarrow as pa

from newsmon.models import FeedActivity, FeedItemRow, FeedSpec, FeedState
from storage.database import Database, execute, load_sql, string_table

_FEED_STATE_COLUMNS = ", ".join(f.name for f in fields(FeedState))
_CHECK_COLUMNS = (  # what a check writes back: health and details, never the validators
    "last_polled_at", "last_success_at", "last_status", "last_error", "last_error_kind", "last_error_at",
    "consecutive_failures", "next_poll_at", "title", "site_url", "language", "format",
)  # fmt: skip
_TS = pa.timestamp("us", tz="UTC")

_UPSERT_FEEDS = (
    "INSERT INTO feeds (url, name, interval_s, tags, active, validators_trusted, validator_churn,"
    " polls_since_full_get, consecutive_failures, next_poll_at, items_total, created_at, run_id)"
    " SELECT url, name, interval_s, tags, true, true, 0, 0, 0, ?, 0, ?, ? FROM staged_feeds"
    " ON CONFLICT (url) DO UPDATE SET name = excluded.name, interval_s = excluded.interval_s,"
    " tags = excluded.tags, active = true"
)


def _spec_table(specs: Sequence[FeedSpec]) -> pa.Table:
    return pa.table(
        {
            "url": pa.array([s.url for s in specs], pa.string()),
            "name": pa.array([s.name for s in specs], pa.string()),
            "interval_s": pa.array([s.interval_s for s in specs], pa.float64()),
            "tags": pa.array([list(s.tags) for s in specs], pa.list_(pa.string())),
        }
    )


class FeedRepository:
    """The feed list as stored, each feed's polling state and health, and the items seen."""

    def __init__(self, db: Database) -> None:
        self.db = db

    def sync(self, specs: Sequence[FeedSpec], now: datetime, run_id: str) -> None:
        """Make the feeds table match the feed list: add new feeds (due now), update the
        others, and mark feeds no longer listed inactive (their history stays)."""
        with self.db.registered("staged_feeds", _spec_table(specs)), self.db.transaction() as con:
            execute(con, _UPSERT_FEEDS, [now, now, run_id])
            execute(con, "UPDATE feeds SET active = false WHERE active AND url NOT IN (SELECT url FROM staged_feeds)")

    def add(self, specs: Sequence[FeedSpec], now: datetime, run_id: str) -> None:
        """Add feeds (due now) or update their name, interval and tags, and mark them active;
        other feeds are left as they are. ``run_id`` names what added them (a run, a command)."""
        with self.db.registered("staged_feeds", _spec_table(specs)), self.db.transaction() as con:
            execute(con, _UPSERT_FEEDS, [now, now, run_id])

    def record_added(self, state: FeedState) -> None:
        """Record what adding a feed read from it (title, site link, language, format; the
        validators only for a feed no run has read yet). The feed must be in the table (:meth:`add`)."""
        with self.db.transaction() as con:
            execute(
                con,
                load_sql("record_added_feed"),
                [state.title, state.site_url, state.language, state.format, state.etag, state.last_modified, state.url],
            )

    def deactivate(self, urls: Sequence[str]) -> int:
        """Mark feeds inactive (removed from the feed list; their history stays). Returns how many were active."""
        with self.db.registered("staged_urls", string_table("url", urls)), self.db.transaction() as con:
            rows = execute(
                con,
                "UPDATE feeds SET active = false WHERE active AND url IN (SELECT url FROM staged_urls) RETURNING url",
            )
        return len(rows)

    def reset(self, urls: Sequence[str], now: datetime) -> list[str]:
        """Clear the back-off of feeds: no consecutive failures, due at ``now``. Returns the URLs found."""
        with self.db.registered("staged_urls", string_table("url", urls)), self.db.transaction() as con:
            rows = execute(
                con,
                "UPDATE feeds SET consecutive_failures = 0, next_poll_at = ?"
                " WHERE url IN (SELECT url FROM staged_urls) RETURNING url",
                [now],
            )
        return sorted(str(r[0]) for r in rows)

    def states_of(self, urls: Sequence[str]) -> dict[str, FeedState]:
        """The states of the feeds with these URLs (those in the table), by URL."""
        with self.db.registered("staged_urls", string_table("url", urls)):
            found = self.db.records(
                FeedState,
                f"SELECT {_FEED_STATE_COLUMNS} FROM feeds WHERE url IN (SELECT url FROM staged_urls)",  # noqa: S608
            )
        return {s.url: s for s in found}

    def save_checks(self, states: Sequence[FeedState]) -> None:
        """Write checked feeds' health and details back in one transaction; their validators
        are not written (see ``storage/sql/update_feed_checks.sql``)."""
        if not states:
            return
        columns = ["url", *_CHECK_COLUMNS]
        data: dict[str, Any] = {c: [getattr(s, c) for s in states] for c in columns}
        staged = pa.table({c: pa.array(v, _TS if c.endswith("_at") else None) for c, v in data.items()})
        with self.db.registered("staged_checks", staged), self.db.transaction() as con:
            execute(con, load_sql("update_feed_checks"))

    def due(self, now: datetime) -> list[FeedState]:
        """Active feeds whose next poll is due, most overdue first."""
        return self.db.records(
            FeedState,
            f"SELECT {_FEED_STATE_COLUMNS} FROM feeds WHERE active AND next_poll_at <= ? ORDER BY next_poll_at, url",  # noqa: S608
            [now],
        )

    def active(self) -> list[FeedState]:
        """The states of the feeds listed in the feeds file (as of the last sync)."""
        return self.db.records(
            FeedState,
            f"SELECT {_FEED_STATE_COLUMNS} FROM feeds WHERE active ORDER BY name, url",  # noqa: S608
        )

    def states(self) -> list[FeedState]:
        """Every feed's state (active or not)."""
        return self.db.records(FeedState, f"SELECT {_FEED_STATE_COLUMNS} FROM feeds ORDER BY name, url")  # noqa: S608

    def save_states(self, states: Sequence[FeedState]) -> None:
        """Write polled feeds' states back (validators, health, next poll) in one transaction."""
        if not states:
            return
        columns = [f.name for f in fields(FeedState) if f.name not in ("name", "interval_s")]
        data: dict[str, Any] = {c: [getattr(s, c) for s in states] for c in columns}
        staged = pa.table({c: pa.array(v, _TS if c.endswith("_at") else None) for c, v in data.items()})
        with self.db.registered("staged_states", staged), self.db.transaction() as con:
            execute(con, load_sql("update_feeds"))

    def seen_items(self, keys: Sequence[tuple[str, str]]) -> dict[tuple[str, str], str]:
        """Content hashes of the (feed url, item key) pairs already stored."""
        if not keys:
            return {}
        staged = pa.table(
            {
                "feed_url": pa.array([k[0] for k in keys], pa.string()),
                "item_key": pa.array([k[1] for k in keys], pa.string()),
            }
        )
        with self.db.registered("staged_keys", staged):
            rows = self.db.execute(
                "SELECT i.feed_url, i.item_key, i.content_hash FROM feed_items i"
                " JOIN staged_keys k ON k.feed_url = i.feed_url AND k.item_key = i.item_key",
            )
        return {(url, key): content_hash for url, key, content_hash in rows}

    def store_items(self, rows: Sequence[FeedItemRow], run_id: str, now: datetime) -> None:
        """Record feed items whose document is already stored (one transaction)."""
        with self.db.transaction() as con:
            write_feed_items(self.db, con, rows, run_id, now)

    def activity(self, now: datetime, days: int) -> list[FeedActivity]:
        """Active feeds' items per 24-hour bucket back from ``now`` (bucket 0: the last 24 h),
        with their first and last item sightings and health."""
        feeds = self.db.execute(
            "SELECT f.url, f.name, min(i.first_seen_at), max(i.first_seen_at), h.status, h.last_error_kind"
            " FROM feeds f JOIN feed_items i ON i.feed_url = f.url AND i.first_seen_at <= ?"
            " LEFT JOIN v_feed_health h ON h.url = f.url"
            " WHERE f.active GROUP BY ALL ORDER BY f.url",
            [now],
        )
        counts = self.db.execute(
            "SELECT feed_url, CAST(floor(epoch(? - first_seen_at) / 86400) AS INTEGER) AS bucket, count(*)"
            " FROM feed_items WHERE first_seen_at <= ? AND first_seen_at > ? - to_days(CAST(? AS INTEGER))"
            " GROUP BY ALL",
            [now, now, now, days + 1],
        )
        buckets: dict[str, dict[int, int]] = defaultdict(dict)
        for url, bucket, n in counts:
            buckets[url][int(bucket)] = int(n)
        unobserved = frozenset(range(1, days + 1)) - self._run_buckets(now, days)
        return [
            FeedActivity(name, url, first, last, buckets.get(url, {}), status, kind, unobserved)
            for url, name, first, last, status, kind in feeds
        ]

    def _run_buckets(self, now: datetime, days: int) -> set[int]:
        """The 24-hour buckets back from ``now`` in which a monitor run started or a feed item was
        first seen (the others: nobody looked, see newsmon.trends)."""
        rows = self.db.execute(
            "SELECT DISTINCT CAST(floor(epoch(? - seen) / 86400) AS INTEGER) FROM ("
            " SELECT started_at AS seen FROM runs WHERE kind = 'monitor'"
            " UNION ALL SELECT first_seen_at FROM feed_items)"
            " WHERE seen <= ? AND seen > ? - to_days(CAST(? AS INTEGER))",
            [now, now, now, days + 1],
        )
        return {int(bucket) for (bucket,) in rows}

    def open_silences(self) -> dict[str, int]:
        """Feeds still silent since an alert: url -> their quietest day when they went silent."""
        return dict(self.db.execute("SELECT feed_url, quietest FROM feed_silences WHERE ended_at IS NULL"))


def write_feed_items(
    db: Database, con: duckdb.DuckDBPyConnection, rows: Sequence[FeedItemRow], run_id: str, now: datetime
) -> None:
    """Insert or update feed items inside the caller's transaction, counting new and changed items
    on their feeds in the same transaction (a run killed before it saves the feed states loses no
    count: the next run sees these items as stored)."""
    if not rows:
        return
    staged = pa.table(
        {
            "feed_url": pa.array([r.feed_url for r in rows], pa.string()),
            "item_key": pa.array([r.item_key for r in rows], pa.string()),
            "document_id": pa.array([r.document_id for r in rows], pa.string()),
            "content_hash": pa.array([r.content_hash for r in rows], pa.string()),
        }
    )
    with db.registered("staged_items", staged):
        execute(
            con,
            "UPDATE feeds SET items_total = feeds.items_total + c.n FROM (SELECT s.feed_url, count(*) AS n"
            " FROM staged_items s LEFT JOIN feed_items i ON i.feed_url = s.feed_url AND i.item_key = s.item_key"
            " WHERE i.item_key IS NULL OR i.content_hash <> s.content_hash GROUP BY s.feed_url) c"
            " WHERE feeds.url = c.feed_url",
        )
        execute(
            con,
            "INSERT INTO feed_items SELECT feed_url, item_key, document_id, content_hash, ?, ?"
            " FROM staged_items ON CONFLICT (feed_url, item_key) DO UPDATE SET"
            " document_id = excluded.document_id, content_hash = excluded.content_hash",
            [now, run_id],
        )
