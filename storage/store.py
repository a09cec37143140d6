"""The DuckDB store: migrations, views, Arrow-staged idempotent upserts, read-only access.

All SQL here is static text; values travel as bound parameters or as Arrow tables registered
under fixed names, never by string formatting. Writes happen in short transactions, one per
batch, so a killed run leaves either a whole batch or none of it.
"""

from __future__ import annotations

import logging
import re
from collections import defaultdict
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from datetime import datetime
from importlib import resources
from pathlib import Path
from typing import Any

import duckdb
import numpy as np
import pyarrow as pa

import newsmon
from newsmon.dedupe import BANDS, Fingerprint, band_hashes, signature_from_bytes
from newsmon.errors import (
    DatabaseLockedError,
    DatabaseMissingError,
    QueryError,
    StorageError,
)
from newsmon.feeds import FeedSpec, FeedState
from newsmon.models import Alert, AlertItem, Document, FeedItemRow, StoryAssignment, Tag
from newsmon.topics import Topic
from storage.lock import WriterLock

log = logging.getLogger(__name__)

_MIGRATION_NAME = re.compile(r"^(\d{4})_[a-z0-9_]+\.sql$")
_LOCK_PID = re.compile(r"PID (\d+)")

_SELECT_DOCUMENTS = (
    "SELECT id, url, source, source_kind, title, body, author, origin, published_at, first_seen_at,"
    " content_hash, text_hash, extractor, charset, boilerplate_lines, extraction, page_kind, language,"
    " canonical_url FROM documents WHERE id > ? ORDER BY id LIMIT ?"
)
_SELECT_FEEDS = (
    "SELECT url, name, interval_s, etag, last_modified, validators_trusted, validator_churn,"
    " polls_since_full_get, last_body_hash, last_polled_at, last_success_at, last_status, last_error,"
    " last_error_kind, last_error_at, consecutive_failures, next_poll_at, items_total FROM feeds"
)
_UPDATE_FEEDS = (
    "UPDATE feeds SET etag = s.etag, last_modified = s.last_modified,"
    " validators_trusted = s.validators_trusted, validator_churn = s.validator_churn,"
    " polls_since_full_get = s.polls_since_full_get, last_body_hash = s.last_body_hash,"
    " last_polled_at = s.last_polled_at, last_success_at = s.last_success_at, last_status = s.last_status,"
    " last_error = s.last_error, last_error_kind = s.last_error_kind, last_error_at = s.last_error_at,"
    " consecutive_failures = s.consecutive_failures, next_poll_at = s.next_poll_at,"
    " items_total = s.items_total FROM staged_states s WHERE feeds.url = s.url"
)
DOCUMENT_COLUMNS: tuple[str, ...] = (
    "id", "url", "source", "source_kind", "title", "body", "author", "origin", "published_at",
    "first_seen_at", "content_hash", "text_hash", "extractor", "charset", "boilerplate_lines",
    "extraction", "page_kind", "language", "canonical_url",
)  # fmt: skip


def _sql_files(folder: str) -> list[tuple[str, str]]:
    base = resources.files("storage") / folder
    files = sorted((f.name, f.read_text(encoding="utf-8")) for f in base.iterdir() if f.name.endswith(".sql"))
    return files


def connect(path: Path, read_only: bool = False) -> duckdb.DuckDBPyConnection:
    """Open the database, turning DuckDB's lock and file errors into one-line newsmon errors."""
    if read_only and not path.exists():
        raise DatabaseMissingError(f"no database at {path}: run `newsmon run` first or pass --db PATH")
    config: dict[str, Any] = {"enable_external_access": False} if read_only else {}
    try:
        con = duckdb.connect(str(path), read_only=read_only, config=config)
        con.execute("SET TimeZone = 'UTC'").fetchall()
        return con
    except duckdb.IOException as err:
        message = str(err)
        if "lock" in message.lower():
            pid = _LOCK_PID.search(message)
            holder = f"process {pid.group(1)}" if pid else "another process"
            raise DatabaseLockedError(
                f"database {path} is in use by {holder}: wait for it to finish or close it, then retry"
            ) from err
        raise StorageError(f"cannot open database {path} ({message.splitlines()[0]}): check the path") from err
    except duckdb.Error as err:
        raise StorageError(f"cannot open database {path} ({str(err).splitlines()[0]})") from err


class Store:
    """Read-write access for one run. Open with :meth:`open_writer`, close with :meth:`close`."""

    def __init__(self, con: duckdb.DuckDBPyConnection, path: Path, lock: WriterLock | None = None):
        self.con = con
        self.path = path
        self._lock = lock

    # -- lifecycle -----------------------------------------------------------------------
    @classmethod
    def open_writer(cls, path: Path, lock_timeout_s: float = 30.0) -> Store:
        """Take the writer lock, open the file read-write and migrate it to the current schema."""
        lock = WriterLock(path, lock_timeout_s)
        lock.acquire()
        try:
            path.parent.mkdir(parents=True, exist_ok=True)
            store = cls(connect(path), path, lock)
            store.migrate()
        except BaseException:
            lock.release()
            raise
        return store

    def close(self) -> None:
        """Checkpoint, close the connection and release the writer lock."""
        try:
            _run(self.con, "CHECKPOINT")
        except duckdb.Error as err:  # pragma: no cover - best effort on shutdown
            log.warning("checkpoint of %s failed: %s", self.path, err)
        finally:
            self.con.close()
            if self._lock is not None:
                self._lock.release()

    @contextmanager
    def transaction(self) -> Iterator[duckdb.DuckDBPyConnection]:
        """A short write transaction: committed on success, rolled back on any error."""
        _run(self.con, "BEGIN TRANSACTION")
        try:
            yield self.con
        except BaseException:
            _run(self.con, "ROLLBACK")
            raise
        _run(self.con, "COMMIT")

    def migrate(self) -> list[int]:
        """Apply pending forward-only migrations, then recreate every view. Returns versions applied."""
        _run(
            self.con,
            "CREATE TABLE IF NOT EXISTS schema_migrations ("
            " version INTEGER PRIMARY KEY, name VARCHAR NOT NULL, applied_at TIMESTAMPTZ NOT NULL)",
        )
        current = int(_run(self.con, "SELECT coalesce(max(version), 0) FROM schema_migrations")[0][0])
        applied: list[int] = []
        for name, sql in _sql_files("schema"):
            match = _MIGRATION_NAME.match(name)
            if not match:
                raise StorageError(f"migration file storage/schema/{name} is misnamed: use NNNN_name.sql")
            version = int(match.group(1))
            if version <= current:
                continue
            with self.transaction() as con:
                _run(con, sql)
                _run(con, "INSERT INTO schema_migrations VALUES (?, ?, now())", [version, name])
            applied.append(version)
            log.info("applied migration %s", name)
        with self.transaction() as con:
            for _name, sql in _sql_files("views"):
                _run(con, sql)
        return applied

    # -- runs ----------------------------------------------------------------------------
    def start_run(self, run_id: str, now: datetime, input_desc: str) -> None:
        """Record a run as running (a rerun of the same id starts it afresh)."""
        _run(
            self.con,
            "INSERT INTO runs (id, started_at, status, input, newsmon_version) VALUES (?, ?, 'running', ?, ?)"
            " ON CONFLICT (id) DO UPDATE SET status = 'running', finished_at = NULL, error = NULL",
            [run_id, now, input_desc, newsmon.__version__],
        )

    def finish_run(self, run_id: str, status: str, finished_at: datetime, error: str | None = None) -> None:
        """Mark a run completed or failed."""
        _run(
            self.con,
            "UPDATE runs SET status = ?, finished_at = ?, error = ? WHERE id = ?",
            [status, finished_at, error, run_id],
        )

    def record_stage(
        self, run_id: str, stage: str, items_in: int, items_out: int, skipped: int, seconds: float
    ) -> None:
        """Add one batch's counts to a stage of a run."""
        _run(
            self.con,
            "INSERT INTO run_stages VALUES (?, ?, ?, ?, ?, ?) ON CONFLICT (run_id, stage) DO UPDATE SET"
            " items_in = run_stages.items_in + excluded.items_in,"
            " items_out = run_stages.items_out + excluded.items_out,"
            " skipped = run_stages.skipped + excluded.skipped,"
            " seconds = run_stages.seconds + excluded.seconds",
            [run_id, stage, items_in, items_out, skipped, seconds],
        )

    # -- lookups for dedupe --------------------------------------------------------------
    def known_content(self, ids: Sequence[str]) -> dict[str, str]:
        """Content hashes of the given documents that are already stored *and* clustered."""
        if not ids:
            return {}
        staged = pa.table({"id": pa.array(list(ids), pa.string())})
        with self._registered("staged_ids", staged):
            rows = _run(
                self.con,
                "SELECT d.id, d.content_hash FROM documents d JOIN staged_ids s ON s.id = d.id"
                " JOIN story_members m ON m.document_id = d.id",
            )
        return dict(rows)

    def exact_story_matches(self, text_hashes: Sequence[str]) -> dict[str, str]:
        """Stored stories holding a document with each of these normalized-text hashes."""
        if not text_hashes:
            return {}
        staged = pa.table({"text_hash": pa.array(sorted(set(text_hashes)), pa.string())})
        with self._registered("staged_hashes", staged):
            rows = _run(
                self.con,
                "SELECT d.text_hash, min(m.story_id) FROM documents d"
                " JOIN staged_hashes s ON s.text_hash = d.text_hash"
                " JOIN story_members m ON m.document_id = d.id GROUP BY d.text_hash",
            )
        return dict(rows)

    def band_candidates(self, fingerprints: Sequence[Fingerprint]) -> dict[str, list[str]]:
        """For each new document, the stored stories with a member sharing an LSH band."""
        if not fingerprints:
            return {}
        staged = _bands_table(fingerprints)
        with self._registered("staged_bands", staged):
            rows = _run(
                self.con,
                "SELECT DISTINCT s.document_id, m.story_id FROM staged_bands s"
                " JOIN lsh_bands b ON b.band = s.band AND b.band_hash = s.band_hash"
                " JOIN story_members m ON m.document_id = b.document_id"
                " WHERE b.document_id <> s.document_id",
            )
        out: dict[str, list[str]] = defaultdict(list)
        for doc_id, story_id in rows:
            out[doc_id].append(story_id)
        return dict(out)

    def story_signatures(self, story_ids: Sequence[str]) -> dict[str, np.ndarray]:
        """The MinHash signature of each story's canonical document."""
        if not story_ids:
            return {}
        staged = pa.table({"id": pa.array(sorted(set(story_ids)), pa.string())})
        with self._registered("staged_stories", staged):
            rows = _run(
                self.con,
                "SELECT s.id, g.minhash FROM stories s JOIN staged_stories t ON t.id = s.id"
                " JOIN document_signatures g ON g.document_id = s.canonical_document_id",
            )
        return {story_id: signature_from_bytes(blob) for story_id, blob in rows}

    # -- topics --------------------------------------------------------------------------
    def register_topics(self, topics: Sequence[Topic], run_id: str, now: datetime) -> list[Topic]:
        """Record the topic definitions in force; return those whose version is new."""
        staged = pa.table(
            {
                "topic": [t.slug for t in topics],
                "version": [t.version for t in topics],
                "name": [t.name for t in topics],
                "description": [t.description for t in topics],
                "definition": [t.definition for t in topics],
            }
        )
        with self._registered("staged_topics", staged), self.transaction() as con:
            known = {
                (topic, version)
                for topic, version in _run(
                    con, "SELECT v.topic, v.version FROM topic_versions v JOIN staged_topics s USING (topic, version)"
                )
            }
            _run(
                con,
                "INSERT INTO topic_versions SELECT topic, version, name, description, definition,"
                " true, ?, ? FROM staged_topics ON CONFLICT (topic, version) DO NOTHING",
                [now, run_id],
            )
            _run(
                con,
                "UPDATE topic_versions SET is_current = ((topic, version) IN"
                " (SELECT (topic, version) FROM staged_topics))"
                " WHERE is_current <> ((topic, version) IN (SELECT (topic, version) FROM staged_topics))",
            )
        return [t for t in topics if (t.slug, t.version) not in known]

    def iter_documents(self, batch_size: int) -> Iterator[list[Document]]:
        """Every stored document in batches, in id order (keyset pagination)."""
        last_id = ""
        while True:
            rows = _run(self.con, _SELECT_DOCUMENTS, [last_id, batch_size])
            if not rows:
                return
            last_id = rows[-1][0]
            yield [Document(*row) for row in rows]

    # -- the write of one batch ----------------------------------------------------------
    def store_batch(
        self,
        run_id: str,
        now: datetime,
        documents: Sequence[Document],
        fingerprints: Sequence[Fingerprint],
        assignments: Sequence[StoryAssignment],
        tags: Sequence[Tag],
        feed_items: Sequence[FeedItemRow] = (),
    ) -> int:
        """Store one batch atomically: documents, fingerprints, story membership, tags and the
        feed items they came from.

        Idempotent: documents are keyed by id and updated only when their content changed;
        the other rows are keyed by document (and topic version). Returns how many documents
        were new.
        """
        docs_tbl = _documents_table(documents, run_id, now)
        fps_tbl = pa.table(
            {
                "document_id": [f.document_id for f in fingerprints],
                "minhash": pa.array([f.signature_bytes() for f in fingerprints], pa.binary()),
            }
        )
        bands_tbl = _bands_table(fingerprints)
        members_tbl = pa.table(
            {
                "document_id": [a.document_id for a in assignments],
                "story_id": [a.story_id for a in assignments],
                "similarity": pa.array([a.similarity for a in assignments], pa.float64()),
                "method": [a.method for a in assignments],
            }
        )
        with (
            self._registered("staged_documents", docs_tbl),
            self._registered("staged_signatures", fps_tbl),
            self._registered("staged_bands", bands_tbl),
            self._registered("staged_members", members_tbl),
            self.transaction() as con,
        ):
            _run(
                con,
                "INSERT INTO documents BY NAME SELECT * FROM staged_documents ON CONFLICT (id) DO UPDATE SET"
                " title = excluded.title, body = excluded.body, author = excluded.author,"
                " origin = excluded.origin, published_at = excluded.published_at,"
                " content_hash = excluded.content_hash, text_hash = excluded.text_hash,"
                " extractor = excluded.extractor, charset = excluded.charset,"
                " boilerplate_lines = excluded.boilerplate_lines, updated_at = excluded.updated_at,"
                " extraction = excluded.extraction, page_kind = excluded.page_kind,"
                " language = excluded.language, canonical_url = excluded.canonical_url,"
                " updated_run_id = excluded.updated_run_id"
                " WHERE documents.content_hash <> excluded.content_hash",
            )
            # Changed documents are re-clustered: drop their old index rows first.
            _run(con, "DELETE FROM lsh_bands WHERE document_id IN (SELECT document_id FROM staged_signatures)")
            _run(
                con,
                "INSERT INTO document_signatures SELECT document_id, minhash, ? FROM staged_signatures"
                " ON CONFLICT (document_id) DO UPDATE SET minhash = excluded.minhash, run_id = excluded.run_id",
                [run_id],
            )
            _run(
                con,
                "INSERT INTO lsh_bands SELECT band, band_hash, document_id FROM staged_bands ON CONFLICT DO NOTHING",
            )
            _run(
                con,
                "INSERT INTO stories SELECT story_id, document_id, ?, ? FROM staged_members"
                " WHERE method = 'new' ON CONFLICT (id) DO NOTHING",
                [now, run_id],
            )
            _run(
                con,
                "INSERT INTO story_members SELECT document_id, story_id, similarity, method, ?, ?"
                " FROM staged_members ON CONFLICT (document_id) DO UPDATE SET"
                " story_id = excluded.story_id, similarity = excluded.similarity,"
                " method = excluded.method, run_id = excluded.run_id, assigned_at = excluded.assigned_at",
                [run_id, now],
            )
            new_ids = {
                row[0]
                for row in _run(
                    con,
                    "SELECT id FROM documents WHERE run_id = ? AND id IN (SELECT id FROM staged_documents)",
                    [run_id],
                )
            }
            self._store_tags(con, tags, run_id, now, new_ids)
            self._store_feed_items(con, feed_items, run_id, now)
        return len(new_ids)

    def store_tags(self, tags: Sequence[Tag], run_id: str, now: datetime) -> None:
        """Store re-tags of already stored documents (marked as backfill, never alerted)."""
        with self.transaction() as con:
            self._store_tags(con, tags, run_id, now, new_ids=set())

    def _store_tags(
        self,
        con: duckdb.DuckDBPyConnection,
        tags: Sequence[Tag],
        run_id: str,
        now: datetime,
        new_ids: set[str],
    ) -> None:
        tbl = pa.table(
            {
                "document_id": pa.array([t.document_id for t in tags], pa.string()),
                "topic": pa.array([t.topic for t in tags], pa.string()),
                "topic_version": pa.array([t.topic_version for t in tags], pa.string()),
                "score": pa.array([t.score for t in tags], pa.float64()),
                "evidence": pa.array([t.evidence for t in tags], pa.string()),
                "clause": pa.array([t.clause for t in tags], pa.string()),
                "alert_id": pa.array([None if t.document_id in new_ids else "backfill" for t in tags], pa.string()),
            }
        )
        with self._registered("staged_tags", tbl):
            _run(
                con,
                "INSERT INTO document_topics SELECT document_id, topic, topic_version, score, evidence,"
                " clause, ?, ?, alert_id FROM staged_tags"
                " ON CONFLICT (document_id, topic, topic_version) DO NOTHING",
                [run_id, now],
            )

    # -- feeds -------------------------------------------------------------------------
    def sync_feeds(self, specs: Sequence[FeedSpec], now: datetime, run_id: str) -> None:
        """Make the feeds table match the feed list: add new feeds (due now), update the
        others, and mark feeds no longer listed inactive (their history stays)."""
        staged = pa.table(
            {
                "url": pa.array([s.url for s in specs], pa.string()),
                "name": pa.array([s.name for s in specs], pa.string()),
                "interval_s": pa.array([s.interval_s for s in specs], pa.float64()),
                "tags": pa.array([list(s.tags) for s in specs], pa.list_(pa.string())),
            }
        )
        with self._registered("staged_feeds", staged), self.transaction() as con:
            _run(
                con,
                "INSERT INTO feeds (url, name, interval_s, tags, active, validators_trusted, validator_churn,"
                " polls_since_full_get, consecutive_failures, next_poll_at, items_total, created_at, run_id)"
                " SELECT url, name, interval_s, tags, true, true, 0, 0, 0, ?, 0, ?, ? FROM staged_feeds"
                " ON CONFLICT (url) DO UPDATE SET name = excluded.name, interval_s = excluded.interval_s,"
                " tags = excluded.tags, active = true",
                [now, now, run_id],
            )
            _run(con, "UPDATE feeds SET active = false WHERE active AND url NOT IN (SELECT url FROM staged_feeds)")

    def due_feeds(self, now: datetime) -> list[FeedState]:
        """Active feeds whose next poll is due, most overdue first."""
        rows = _run(self.con, _SELECT_FEEDS + " WHERE active AND next_poll_at <= ? ORDER BY next_poll_at, url", [now])
        return [FeedState(*row) for row in rows]

    def feed_states(self) -> list[FeedState]:
        """Every feed's state (active or not)."""
        return [FeedState(*row) for row in _run(self.con, _SELECT_FEEDS + " ORDER BY name, url")]

    def save_feed_states(self, states: Sequence[FeedState]) -> None:
        """Write polled feeds' states back (validators, health, next poll) in one transaction."""
        if not states:
            return
        columns = [f for f in FeedState.__dataclass_fields__ if f not in ("url", "name", "interval_s")]
        data: dict[str, Any] = {"url": [s.url for s in states]}
        for column in columns:
            data[column] = [getattr(s, column) for s in states]
        ts = pa.timestamp("us", tz="UTC")
        types = {c: ts for c in columns if c.endswith("_at")}
        staged = pa.table({k: pa.array(v, types.get(k)) for k, v in data.items()})
        with self._registered("staged_states", staged), self.transaction() as con:
            _run(con, _UPDATE_FEEDS)

    def seen_items(self, keys: Sequence[tuple[str, str]]) -> dict[tuple[str, str], str]:
        """Content hashes of the (feed url, item key) pairs already stored."""
        if not keys:
            return {}
        staged = pa.table({"feed_url": [k[0] for k in keys], "item_key": [k[1] for k in keys]})
        with self._registered("staged_keys", staged):
            rows = _run(
                self.con,
                "SELECT i.feed_url, i.item_key, i.content_hash FROM feed_items i"
                " JOIN staged_keys k ON k.feed_url = i.feed_url AND k.item_key = i.item_key",
            )
        return {(url, key): content_hash for url, key, content_hash in rows}

    def existing_documents(self, ids: Sequence[str]) -> set[str]:
        """Which of these document ids are stored."""
        if not ids:
            return set()
        staged = pa.table({"id": pa.array(sorted(set(ids)), pa.string())})
        with self._registered("staged_doc_ids", staged):
            return {row[0] for row in _run(self.con, "SELECT d.id FROM documents d JOIN staged_doc_ids s USING (id)")}

    def store_feed_items(self, rows: Sequence[FeedItemRow], run_id: str, now: datetime) -> None:
        """Record feed items whose document is already stored (one transaction)."""
        with self.transaction() as con:
            self._store_feed_items(con, rows, run_id, now)

    def _store_feed_items(
        self, con: duckdb.DuckDBPyConnection, rows: Sequence[FeedItemRow], run_id: str, now: datetime
    ) -> None:
        if not rows:
            return
        staged = pa.table(
            {
                "feed_url": [r.feed_url for r in rows],
                "item_key": [r.item_key for r in rows],
                "document_id": [r.document_id for r in rows],
                "content_hash": [r.content_hash for r in rows],
            }
        )
        with self._registered("staged_items", staged):
            _run(
                con,
                "INSERT INTO feed_items SELECT feed_url, item_key, document_id, content_hash, ?, ?"
                " FROM staged_items ON CONFLICT (feed_url, item_key) DO UPDATE SET"
                " document_id = excluded.document_id, content_hash = excluded.content_hash",
                [now, run_id],
            )

    # -- alerts --------------------------------------------------------------------------
    def pending_alert_items(self) -> dict[str, list[AlertItem]]:
        """Current-version tags not yet part of any alert, grouped by topic."""
        rows = _run(
            self.con,
            "SELECT t.topic, d.id, m.story_id, d.title, d.source, d.url, t.evidence, t.score,"
            " s.canonical_document_id = d.id"
            " FROM document_topics t"
            " JOIN topic_versions v ON v.topic = t.topic AND v.version = t.topic_version AND v.is_current"
            " JOIN documents d ON d.id = t.document_id"
            " JOIN story_members m ON m.document_id = d.id"
            " JOIN stories s ON s.id = m.story_id"
            " WHERE t.alert_id IS NULL ORDER BY t.topic, t.score DESC, d.id",
        )
        out: dict[str, list[AlertItem]] = defaultdict(list)
        for topic, *fields in rows:
            out[topic].append(AlertItem(*fields))
        return dict(out)

    def topic_names(self) -> dict[str, str]:
        """Display names of the current topics."""
        return dict(_run(self.con, "SELECT topic, name FROM topic_versions WHERE is_current"))

    def store_alerts(self, alerts: Sequence[Alert], paths: Sequence[Path | None]) -> None:
        """Store alerts and mark their tags as alerted, in one transaction."""
        with self.transaction() as con:
            for alert, path in zip(alerts, paths, strict=True):
                _run(
                    con,
                    "INSERT INTO alerts VALUES (?, ?, ?, ?, ?, ?, ?, ?) ON CONFLICT (id) DO NOTHING",
                    [
                        alert.id, alert.run_id, alert.topic, alert.created_at,
                        alert.document_count, alert.story_count, alert.markdown,
                        str(path) if path else None,
                    ],
                )  # fmt: skip
                _run(
                    con,
                    "UPDATE document_topics SET alert_id = ? WHERE topic = ? AND alert_id IS NULL"
                    " AND topic_version IN (SELECT version FROM topic_versions WHERE topic = ? AND is_current)",
                    [alert.id, alert.topic, alert.topic],
                )

    # -- helpers -------------------------------------------------------------------------
    @contextmanager
    def _registered(self, name: str, table: pa.Table) -> Iterator[None]:
        self.con.register(name, table)
        try:
            yield
        finally:
            self.con.unregister(name)


def _documents_table(documents: Sequence[Document], run_id: str, now: datetime) -> pa.Table:
    cols: dict[str, list[Any]] = {c: [getattr(d, c) for d in documents] for c in DOCUMENT_COLUMNS}
    n = len(documents)
    ts = pa.timestamp("us", tz="UTC")
    return pa.table(
        {
            "id": pa.array(cols["id"], pa.string()),
            "url": pa.array(cols["url"], pa.string()),
            "source": pa.array(cols["source"], pa.string()),
            "source_kind": pa.array(cols["source_kind"], pa.string()),
            "title": pa.array(cols["title"], pa.string()),
            "body": pa.array(cols["body"], pa.string()),
            "author": pa.array(cols["author"], pa.string()),
            "origin": pa.array(cols["origin"], pa.string()),
            "published_at": pa.array(cols["published_at"], ts),
            "first_seen_at": pa.array(cols["first_seen_at"], ts),
            "updated_at": pa.array([now] * n, ts),
            "content_hash": pa.array(cols["content_hash"], pa.string()),
            "text_hash": pa.array(cols["text_hash"], pa.string()),
            "extractor": pa.array(cols["extractor"], pa.string()),
            "charset": pa.array(cols["charset"], pa.string()),
            "boilerplate_lines": pa.array(cols["boilerplate_lines"], pa.int32()),
            "run_id": pa.array([run_id] * n, pa.string()),
            "updated_run_id": pa.array([run_id] * n, pa.string()),
            "extraction": pa.array(cols["extraction"], pa.string()),
            "page_kind": pa.array(cols["page_kind"], pa.string()),
            "language": pa.array(cols["language"], pa.string()),
            "canonical_url": pa.array(cols["canonical_url"], pa.string()),
        }
    )


def _bands_table(fingerprints: Sequence[Fingerprint]) -> pa.Table:
    if not fingerprints:
        return pa.table(
            {
                "band": pa.array([], pa.int16()),
                "band_hash": pa.array([], pa.int64()),
                "document_id": pa.array([], pa.string()),
            }
        )
    hashes = band_hashes(np.stack([f.signature for f in fingerprints]))
    n = len(fingerprints)
    return pa.table(
        {
            "band": pa.array(np.tile(np.arange(BANDS, dtype=np.int16), n)),
            "band_hash": pa.array(hashes.reshape(-1)),
            "document_id": pa.array(np.repeat([f.document_id for f in fingerprints], BANDS).tolist(), pa.string()),
        }
    )


def open_reader(path: Path) -> duckdb.DuckDBPyConnection:
    """A read-only connection for ad hoc SQL: no writes, no files, no network."""
    return connect(path, read_only=True)


def run_query(con: duckdb.DuckDBPyConnection, sql: str) -> tuple[list[str], list[tuple[Any, ...]]]:
    """Run one ad hoc query; return column names and rows, or raise :class:`QueryError`."""
    try:
        result = con.execute(sql)
        columns = [d[0] for d in result.description or []]
        return columns, result.fetchall()
    except duckdb.Error as err:
        first = str(err).splitlines()[0]
        raise QueryError(f"query failed: {first}: fix the SQL (tables: see `newsmon sql --help`)") from err


def _run(con: duckdb.DuckDBPyConnection, sql: str, params: Sequence[Any] | None = None) -> list[tuple[Any, ...]]:
    """Execute one statement with bound parameters and consume its whole result.

    DuckDB 2 refuses further work on a connection while a result is unread, so every
    statement's result (even an INSERT's row count) is fetched here.
    """
    return con.execute(sql, params).fetchall() if params is not None else con.execute(sql).fetchall()
