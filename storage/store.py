"""The DuckDB store: migrations, views, Arrow-staged idempotent upserts, read-only access.

All SQL here is static text; values travel as bound parameters or as Arrow tables registered
under fixed names, never by string formatting. Writes happen in short transactions, one per
batch, so a killed run leaves either a whole batch or none of it.
"""

from __future__ import annotations

import json
import logging
import re
import time
from collections import defaultdict
from collections.abc import Collection, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import date, datetime
from importlib import resources
from pathlib import Path
from typing import Any

import duckdb
import numpy as np
import pyarrow as pa

import newsmon
from newsmon.alerts import AlertRecord, StoryLine
from newsmon.dedupe import (
    BANDS,
    MAX_CANDIDATES,
    SCHEME,
    WINDOW,
    Fingerprint,
    band_hashes,
    fingerprint_documents,
    key64,
)
from newsmon.errors import (
    DatabaseLockedError,
    DatabaseMissingError,
    QueryError,
    StorageError,
)
from newsmon.faults import fault_point
from newsmon.feeds import FeedSpec, FeedState
from newsmon.models import AlertItem, Document, FeedItemRow, StoryAssignment, Tag
from newsmon.notify import Outcome, PendingDelivery, notification_body
from newsmon.topics import Topic
from newsmon.trends import DayCount, FeedActivity
from storage.lock import WriterLock
from storage.snapshot import publish_snapshot, snapshot_path

log = logging.getLogger(__name__)

_MIGRATION_NAME = re.compile(r"^(\d{4})_[a-z0-9_]+\.sql$")
_LOCK_PID = re.compile(r"PID (\d+)")

_SELECT_DOCUMENTS = (
    "SELECT id, url, source, source_kind, title, body, author, origin, published_at, first_seen_at,"
    " content_hash, text_hash, extractor, charset, boilerplate_lines, extraction, page_kind, language,"
    " canonical_url FROM documents WHERE id > ? ORDER BY id LIMIT ?"
)
_SELECT_DOCUMENTS_BY_ID = (
    "SELECT id, url, source, source_kind, title, body, author, origin, published_at, first_seen_at,"
    " content_hash, text_hash, extractor, charset, boilerplate_lines, extraction, page_kind, language,"
    " canonical_url FROM documents JOIN staged_doc_ids USING (id)"
)
_BACKFILL_PLAN = (
    "WITH picked AS (SELECT id FROM documents WHERE first_seen_at >= ? OR published_at >= ?),"
    " stories_of AS (SELECT s.id FROM stories s JOIN picked p ON p.id = s.canonical_document_id),"
    " wanted AS (SELECT id FROM picked UNION"
    "  SELECT m.document_id FROM story_members m JOIN stories_of s ON s.id = m.story_id)"
    " SELECT d.id, coalesce(d.published_at, d.first_seen_at) AS appeared, d.url, d.first_seen_at, d.text_hash,"
    " m.story_id"
    " FROM documents d JOIN wanted USING (id) LEFT JOIN story_members m ON m.document_id = d.id"
    " ORDER BY appeared, d.url"
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
    " consecutive_failures = s.consecutive_failures, next_poll_at = s.next_poll_at"
    " FROM staged_states s WHERE feeds.url = s.url"
)
_STORY_LINES = (
    "WITH tagged AS ("
    " SELECT p.topic, p.story_id, t.evidence, t.score, s.canonical_document_id = t.document_id AS canonical"
    " FROM staged_pairs p JOIN stories s ON s.id = p.story_id"
    " JOIN story_members m ON m.story_id = p.story_id"
    " JOIN document_topics t ON t.document_id = m.document_id AND t.topic = p.topic"
    " JOIN topic_versions v ON v.topic = t.topic AND v.version = t.topic_version AND v.is_current),"
    " best AS (SELECT topic, story_id, arg_max(evidence, (canonical, score)) AS evidence, max(score) AS score"
    " FROM tagged GROUP BY ALL),"
    " spread AS (SELECT p.topic, p.story_id, count(*) AS documents,"
    " list(DISTINCT d.source ORDER BY d.source) AS sources, min(d.first_seen_at) AS first_seen_at"
    " FROM staged_pairs p JOIN story_members m ON m.story_id = p.story_id"
    " JOIN documents d ON d.id = m.document_id GROUP BY ALL)"
    " SELECT sp.topic, sp.story_id, c.title, c.url, sp.documents, sp.sources, b.evidence, b.score, sp.first_seen_at"
    " FROM spread sp JOIN stories s ON s.id = sp.story_id JOIN documents c ON c.id = s.canonical_document_id"
    " LEFT JOIN best b ON b.topic = sp.topic AND b.story_id = sp.story_id"
)
_SET_CURRENT_VERSIONS = (
    "UPDATE topic_versions SET is_current = ((topic, version) IN (SELECT (topic, version) FROM staged_topics))"
    " WHERE is_current <> ((topic, version) IN (SELECT (topic, version) FROM staged_topics))"
)
_SET_CURRENT_VERSIONS_OF_STAGED = (
    "UPDATE topic_versions SET is_current = ((topic, version) IN (SELECT (topic, version) FROM staged_topics))"
    " WHERE is_current <> ((topic, version) IN (SELECT (topic, version) FROM staged_topics))"
    " AND topic IN (SELECT topic FROM staged_topics)"
)
_UPSERT_DOCUMENTS = (
    "INSERT INTO documents BY NAME SELECT * FROM staged_documents ON CONFLICT (id) DO UPDATE SET"
    " title = excluded.title, body = excluded.body, author = excluded.author,"
    " origin = excluded.origin, published_at = excluded.published_at,"
    " content_hash = excluded.content_hash, text_hash = excluded.text_hash,"
    " extractor = excluded.extractor, charset = excluded.charset,"
    " boilerplate_lines = excluded.boilerplate_lines, updated_at = excluded.updated_at,"
    " extraction = excluded.extraction, page_kind = excluded.page_kind,"
    " language = excluded.language, canonical_url = excluded.canonical_url,"
    " updated_run_id = excluded.updated_run_id"
    " WHERE documents.content_hash <> excluded.content_hash OR documents.text_hash <> excluded.text_hash"
    " OR documents.title <> excluded.title OR documents.extractor <> excluded.extractor"
    " OR documents.author IS DISTINCT FROM excluded.author OR documents.origin IS DISTINCT FROM excluded.origin"
    " OR documents.published_at IS DISTINCT FROM excluded.published_at"
    " OR documents.charset IS DISTINCT FROM excluded.charset"
    " OR documents.boilerplate_lines IS DISTINCT FROM excluded.boilerplate_lines"
    " OR documents.extraction IS DISTINCT FROM excluded.extraction"
    " OR documents.page_kind IS DISTINCT FROM excluded.page_kind"
    " OR documents.language IS DISTINCT FROM excluded.language"
    " OR documents.canonical_url IS DISTINCT FROM excluded.canonical_url"
)
_UPSERT_MEMBERS = (
    "INSERT INTO story_members (document_id, story_id, similarity, method, run_id, assigned_at,"
    " containment, coverage, differences) SELECT document_id, story_id, similarity, method, ?, ?,"
    " containment, coverage, differences FROM staged_members ON CONFLICT (document_id) DO UPDATE SET"
    " story_id = excluded.story_id, similarity = excluded.similarity,"
    " method = excluded.method, run_id = excluded.run_id, assigned_at = excluded.assigned_at,"
    " containment = excluded.containment, coverage = excluded.coverage,"
    " differences = excluded.differences"
    " WHERE story_members.story_id <> excluded.story_id OR story_members.method <> excluded.method"
    " OR story_members.similarity IS DISTINCT FROM excluded.similarity"
    " OR story_members.containment IS DISTINCT FROM excluded.containment"
    " OR story_members.coverage IS DISTINCT FROM excluded.coverage"
    " OR story_members.differences IS DISTINCT FROM excluded.differences"
)
# Stories about to be indexed again whose one stored index row and signature would come out the same.
_UNCHANGED_INDEX = (
    "SELECT i.story_id FROM staged_index i"
    " JOIN story_index k ON k.story_id = i.story_id AND k.story_key = i.story_key AND k.day = i.day"
    " AND k.kind = i.kind AND k.exact_key = i.exact_key AND k.headline_key IS NOT DISTINCT FROM i.headline_key"
    " LEFT JOIN document_signatures g ON g.document_id = i.story_id AND g.scheme = ?"
    " LEFT JOIN staged_signatures s ON s.document_id = i.story_id"
    " WHERE s.minhash IS NOT DISTINCT FROM g.minhash AND (k.kind = 'full') = (s.minhash IS NOT NULL)"
    " AND"
    " (SELECT count(*) FROM story_index o WHERE o.story_id = i.story_id) = 1"
)
_DELETE_STALE_TAGS = (
    "DELETE FROM document_topics WHERE document_id IN (SELECT id FROM staged_documents)"
    " AND EXISTS (SELECT 1 FROM staged_versions v"
    "  WHERE v.topic = document_topics.topic AND v.version = document_topics.topic_version)"
    " AND NOT EXISTS (SELECT 1 FROM staged_tag_keys n WHERE n.document_id = document_topics.document_id"
    "  AND n.topic = document_topics.topic AND n.topic_version = document_topics.topic_version)"
)
_WINDOW_DAYS = WINDOW.days + 1  # the widest join window, in whole days (both sides rounded)
_SELECT_CANONICALS = (
    "SELECT t.id, d.id, d.url, d.source, d.source_kind, d.title, d.body, d.author, d.origin, d.published_at,"
    " d.first_seen_at, d.content_hash, d.text_hash, d.extractor, d.charset, d.boilerplate_lines, d.extraction,"
    " d.page_kind, d.language, d.canonical_url FROM staged_stories t JOIN stories s ON s.id = t.id"
    " JOIN documents d ON d.id = s.canonical_document_id"
)
_SELECT_BACKLOG = (
    "SELECT b.story_id, d.id, d.url, d.source, d.source_kind, d.title, d.body, d.author, d.origin, d.published_at,"
    " d.first_seen_at, d.content_hash, d.text_hash, d.extractor, d.charset, d.boilerplate_lines, d.extraction,"
    " d.page_kind, d.language, d.canonical_url"
    " FROM (SELECT story_id FROM story_index_backlog ORDER BY story_id LIMIT ?) b"
    " LEFT JOIN stories s ON s.id = b.story_id LEFT JOIN documents d ON d.id = s.canonical_document_id"
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


@dataclass(frozen=True, slots=True)
class BackfillItem:
    """A stored document a backfill re-processes: when it appeared (published, else first seen),
    its url (the tie-break of the replay order), its first sighting, text hash and story."""

    id: str
    at: datetime
    url: str
    first_seen_at: datetime
    text_hash: str
    story_id: str | None


class Store:
    """Read-write access for one run. Open with :meth:`open_writer`, close with :meth:`close`."""

    def __init__(self, con: duckdb.DuckDBPyConnection, path: Path, lock: WriterLock | None = None):
        self.con = con
        self.path = path
        self._lock = lock
        self._backlog_empty = False

    # -- lifecycle -----------------------------------------------------------------------
    @classmethod
    def open_writer(cls, path: Path, lock_timeout_s: float = 30.0) -> Store:
        """Take the writer lock, open the file read-write and migrate it to the current schema.

        A process holding the file itself (an ad hoc client on the live file) is waited for
        with backoff within the same timeout, then reported in one clear line.
        """
        lock = WriterLock(path, lock_timeout_s)
        deadline = time.monotonic() + lock_timeout_s
        lock.acquire()
        try:
            path.parent.mkdir(parents=True, exist_ok=True)
            store = cls(_connect_waiting(path, deadline), path, lock)
            store.migrate()
            if not snapshot_path(path).exists():  # readers get a snapshot before the first run ends
                _run(store.con, "CHECKPOINT")
                store.con.close()
                publish_snapshot(path)
                store.con = _connect_waiting(path, deadline)
        except BaseException:
            lock.release()
            raise
        return store

    def close(self, snapshot: bool = True) -> Path | None:
        """Checkpoint, close the connection, publish the read snapshot if asked, release the lock.

        Returns the snapshot path when one was published.
        """
        published: Path | None = None
        try:
            _run(self.con, "CHECKPOINT")
        except duckdb.Error as err:  # pragma: no cover - best effort on shutdown
            log.warning("checkpoint of %s failed: %s", self.path, err)
        finally:
            self.con.close()
            try:
                if snapshot:
                    published = publish_snapshot(self.path)
            except OSError as err:  # e.g. disk full: the database itself is fine, readers keep the old snapshot
                log.warning("could not publish the read snapshot of %s: %s", self.path, err)
            finally:
                if self._lock is not None:
                    self._lock.release()
        return published

    @contextmanager
    def transaction(self) -> Iterator[duckdb.DuckDBPyConnection]:
        """A short write transaction: committed on success, rolled back on any error."""
        _run(self.con, "BEGIN TRANSACTION")
        try:
            yield self.con
        except BaseException:
            try:
                _run(self.con, "ROLLBACK")
            except (StorageError, duckdb.Error) as err:  # the original error matters more
                log.warning("rollback failed: %s", err)
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
    def start_run(self, run_id: str, now: datetime, input_desc: str) -> int:
        """Record a run as running; returns how many earlier runs were found crashed.

        Holding the writer lock proves that no other run is alive, so any run still marked
        running was killed (SIGKILL, power loss): it is marked ``crashed``. Its committed
        batches are kept; the work it did not finish is redone by this run.
        """
        crashed = _run(
            self.con,
            "UPDATE runs SET status = 'crashed', finished_at = ?,"
            " error = 'the run ended without finishing (killed or crashed); its committed batches are kept'"
            " WHERE status = 'running' AND id <> ? RETURNING id",
            [now, run_id],
        )
        for (old,) in crashed:
            log.warning("run %s had not finished (killed?): marked crashed", old)
        _run(
            self.con,
            "INSERT INTO runs (id, started_at, status, input, newsmon_version) VALUES (?, ?, 'running', ?, ?)"
            " ON CONFLICT (id) DO UPDATE SET status = 'running', finished_at = NULL, error = NULL",
            [run_id, now, input_desc, newsmon.__version__],
        )
        return len(crashed)

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

    def key_matches(
        self, fingerprints: Sequence[Fingerprint], exclude: Collection[str] = frozenset()
    ) -> tuple[dict[int, str], dict[str, list[str]]]:
        """Indexed stories within the join window of each new document: by exact key (exact key ->
        the latest such story) and by headline key (document id -> stories, latest first).

        Stories in ``exclude`` are left out (a backfill's stories that it has not replayed yet)."""
        indexed = [f for f in fingerprints if f.kind != "boilerplate"]
        if not indexed:
            return {}, {}
        staged = pa.table(
            {
                "document_id": pa.array([f.document_id for f in indexed], pa.string()),
                "exact_key": pa.array([f.exact_key for f in indexed], pa.int64()),
                "headline_key": pa.array([f.headline_key for f in indexed], pa.int64()),
            }
        )
        with self._registered("staged_keys", staged):
            rows = _run(
                self.con,
                "SELECT s.document_id, k.story_id, k.day, true FROM staged_keys s"
                " JOIN story_index k ON k.exact_key = s.exact_key WHERE k.day BETWEEN ? AND ?"
                " UNION ALL SELECT s.document_id, k.story_id, k.day, false FROM staged_keys s"
                " JOIN story_index k ON k.headline_key = s.headline_key WHERE k.day BETWEEN ? AND ?"
                " ORDER BY 3 DESC, 2",
                [*_day_window(indexed), *_day_window(indexed)],
            )
        key_of = {f.document_id: f.exact_key for f in indexed}
        exact: dict[int, str] = {}
        by_headline: dict[str, list[str]] = defaultdict(list)
        for doc_id, story_id, _day, is_exact in rows:
            if story_id == doc_id or story_id in exclude:
                continue  # a changed document finding its own story, or a story not replayed yet
            if is_exact:
                exact.setdefault(key_of[doc_id], story_id)
            elif story_id not in by_headline[doc_id]:
                by_headline[doc_id].append(story_id)
        return exact, dict(by_headline)

    def band_candidates(
        self, fingerprints: Sequence[Fingerprint], limit: int = MAX_CANDIDATES, exclude: Collection[str] = frozenset()
    ) -> dict[str, dict[str, int]]:
        """For each new full document, the indexed stories within the join window whose canonical
        shares an LSH band with it and how many bands, most shared bands first, then by story id
        (at most ``limit``; stories in ``exclude`` left out)."""
        full = [f for f in fingerprints if f.kind == "full"]
        if not full:
            return {}
        staged = _bands_table(full)
        with self._registered("staged_bands", staged):
            rows = _run(
                self.con,
                "SELECT s.document_id, k.story_id, count(*) AS hits FROM staged_bands s"
                " JOIN lsh_bands b ON b.band_key = s.band_key"
                " JOIN story_index k ON k.story_key = b.story_key"
                " WHERE b.day BETWEEN ? AND ? AND k.day BETWEEN ? AND ? AND abs(b.day - s.day) <= ?"
                " GROUP BY ALL ORDER BY 1, 3 DESC, 2",
                [*_day_window(full), *_day_window(full), _WINDOW_DAYS],
            )
        out: dict[str, dict[str, int]] = defaultdict(dict)
        for doc_id, story_id, hits in rows:
            if story_id != doc_id and story_id not in exclude and len(out[doc_id]) < limit:
                out[doc_id][story_id] = hits
        return dict(out)

    def story_canonicals(self, story_ids: Sequence[str]) -> dict[str, Document]:
        """The canonical document of each of these stories."""
        if not story_ids:
            return {}
        staged = pa.table({"id": pa.array(sorted(set(story_ids)), pa.string())})
        with self._registered("staged_stories", staged):
            rows = _run(self.con, _SELECT_CANONICALS)
        return {row[0]: Document(*row[1:]) for row in rows}

    def backfill_story_index(self, batch_size: int = 500, run_id: str | None = None) -> int:
        """Index the stories stored before the current fingerprint scheme (queued by migration
        0004): re-fingerprint their canonicals from the stored text. Returns how many were indexed;
        cheap once the queue is empty. ``run_id`` is recorded on the index rows."""
        if self._backlog_empty:
            return 0
        done = 0
        while True:
            rows = _run(self.con, _SELECT_BACKLOG, [batch_size])
            if not rows:
                self._backlog_empty = True
                if done:
                    log.info("indexed %d stories stored before the current dedupe scheme", done)
                return done
            found = [(row[0], Document(*row[1:])) for row in rows if row[1] is not None]
            fps = fingerprint_documents([doc for _, doc in found])
            index_tbl, bands_tbl = _index_tables(fps, [story_id for story_id, _ in found], run_id)
            queue = pa.table({"story_id": pa.array([row[0] for row in rows], pa.string())})
            with (
                self._registered("staged_index", index_tbl),
                self._registered("staged_bands", bands_tbl),
                self._registered("staged_backlog", queue),
                self.transaction() as con,
            ):
                _run(con, "INSERT INTO story_index BY NAME SELECT * FROM staged_index")
                _run(con, "INSERT INTO lsh_bands SELECT band_key, day, story_key FROM staged_bands")
                _run(con, "DELETE FROM story_index_backlog WHERE story_id IN (SELECT story_id FROM staged_backlog)")
            done += len(found)

    # -- topics --------------------------------------------------------------------------
    def register_topics(
        self, topics: Sequence[Topic], run_id: str, now: datetime, replace_all: bool = True
    ) -> list[Topic]:
        """Record the topic definitions in force; return those whose version is new.

        With ``replace_all`` (a run), exactly these versions become current and every other
        topic stops being current. Without it (re-tagging some topics), only these topics'
        current versions change.
        """
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
            _run(con, _SET_CURRENT_VERSIONS if replace_all else _SET_CURRENT_VERSIONS_OF_STAGED)
        return [t for t in topics if (t.slug, t.version) not in known]

    def stale_topics(self, topics: Sequence[Topic]) -> list[Topic]:
        """The topics whose version is not the current one in the database (new, changed, or back
        to an earlier definition): stored documents must be re-tagged with them before
        :meth:`register_topics` makes them current."""
        staged = pa.table({"topic": [t.slug for t in topics], "version": [t.version for t in topics]})
        with self._registered("staged_topics", staged):
            current = {
                (topic, version)
                for topic, version in _run(
                    self.con,
                    "SELECT v.topic, v.version FROM topic_versions v JOIN staged_topics s USING (topic, version)"
                    " WHERE v.is_current",
                )
            }
        return [t for t in topics if (t.slug, t.version) not in current]

    def count_documents(self) -> int:
        """How many documents are stored."""
        return int(_run(self.con, "SELECT count(*) FROM documents")[0][0])

    def current_tags(self, topic: str) -> dict[str, Tag]:
        """The tags of one topic made by its current version, by document id."""
        rows = _run(
            self.con,
            "SELECT t.document_id, t.topic, t.topic_version, t.score, t.evidence, t.clause FROM document_topics t"
            " JOIN topic_versions v ON v.topic = t.topic AND v.version = t.topic_version AND v.is_current"
            " WHERE t.topic = ?",
            [topic],
        )
        return {row[0]: Tag(*row) for row in rows}

    def topic_status(self) -> dict[str, tuple[str, int]]:
        """Per topic: its current version in the database and how many documents that version tagged."""
        rows = _run(
            self.con,
            "SELECT v.topic, v.version, count(t.document_id) FROM topic_versions v"
            " LEFT JOIN document_topics t ON t.topic = v.topic AND t.topic_version = v.version"
            " WHERE v.is_current GROUP BY ALL",
        )
        return {topic: (version, int(count)) for topic, version, count in rows}

    def iter_documents(self, batch_size: int) -> Iterator[list[Document]]:
        """Every stored document in batches, in id order (keyset pagination)."""
        last_id = ""
        while True:
            rows = _run(self.con, _SELECT_DOCUMENTS, [last_id, batch_size])
            if not rows:
                return
            last_id = rows[-1][0]
            yield [Document(*row) for row in rows]

    # -- backfill ------------------------------------------------------------------------
    def backfill_plan(self, since: datetime) -> tuple[list[BackfillItem], set[str]]:
        """What a backfill from ``since`` re-processes, in replay order (time, then url): the
        documents first seen or published on or after ``since``, and every member of a story whose
        canonical is one of them (so no story is left half replayed). Also returns the stories
        whose canonical is re-processed: they take no new members until it has been."""
        rows = _run(self.con, _BACKFILL_PLAN, [since, since])
        items = [BackfillItem(i, at, url, seen, text_hash, story) for i, at, url, seen, text_hash, story in rows]
        replayed = pa.table({"id": pa.array([item.id for item in items], pa.string())})
        with self._registered("staged_replayed", replayed):
            stories = _run(
                self.con, "SELECT id FROM stories WHERE canonical_document_id IN (SELECT id FROM staged_replayed)"
            )
        return items, {row[0] for row in stories}

    def documents_by_id(self, ids: Sequence[str]) -> dict[str, Document]:
        """The stored documents with these ids."""
        if not ids:
            return {}
        staged = pa.table({"id": pa.array(sorted(set(ids)), pa.string())})
        with self._registered("staged_doc_ids", staged):
            rows = _run(self.con, _SELECT_DOCUMENTS_BY_ID)
        return {row[0]: Document(*row) for row in rows}

    def memberships(self, ids: Sequence[str]) -> dict[str, str]:
        """The story of each of these documents (those that have one)."""
        if not ids:
            return {}
        staged = pa.table({"id": pa.array(sorted(set(ids)), pa.string())})
        with self._registered("staged_doc_ids", staged):
            rows = _run(
                self.con,
                "SELECT m.document_id, m.story_id FROM story_members m JOIN staged_doc_ids s ON s.id = m.document_id",
            )
        return dict(rows)

    def tag_keys(self, ids: Sequence[str], versions: Sequence[tuple[str, str]]) -> set[tuple[str, str, str, str]]:
        """(document, topic, version, evidence) of the stored tags of these documents and versions."""
        if not ids or not versions:
            return set()
        staged = pa.table({"id": pa.array(sorted(set(ids)), pa.string())})
        staged_versions = pa.table({"topic": [t for t, _ in versions], "version": [v for _, v in versions]})
        with self._registered("staged_doc_ids", staged), self._registered("staged_versions", staged_versions):
            rows = _run(
                self.con,
                "SELECT t.document_id, t.topic, t.topic_version, t.evidence FROM document_topics t"
                " JOIN staged_doc_ids s ON s.id = t.document_id"
                " JOIN staged_versions v ON v.topic = t.topic AND v.version = t.topic_version",
            )
        return {(d, t, v, e) for d, t, v, e in rows}

    def existing_stories(self, ids: Sequence[str]) -> set[str]:
        """Which of these story ids are stored."""
        if not ids:
            return set()
        staged = pa.table({"id": pa.array(sorted(set(ids)), pa.string())})
        with self._registered("staged_story_ids", staged):
            return {row[0] for row in _run(self.con, "SELECT s.id FROM stories s JOIN staged_story_ids USING (id)")}

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
        tagged_versions: Sequence[tuple[str, str]] | None = None,
    ) -> int:
        """Store one batch atomically: documents, fingerprints, story membership, tags and the
        feed items they came from.

        Idempotent: rows are keyed by natural keys and rewritten only where a value differs, so a
        document processed again with the same text, story and tags changes no row (and keeps
        its run ids). ``tagged_versions`` lists the (topic, version) pairs the batch was tagged
        with: the batch's tags of those versions then become exactly ``tags`` (a tag the text no
        longer earns is removed). Without it tags are only added or updated. A story left with
        no member (its documents moved to other stories) is removed. Returns how many documents
        were new.
        """
        docs_tbl = _documents_table(documents, run_id, now)
        signed = [f for f in fingerprints if f.kind == "full"]  # only full texts have signatures
        fps_tbl = pa.table(
            {
                "document_id": pa.array([f.document_id for f in signed], pa.string()),
                "minhash": pa.array([f.signature_bytes() for f in signed], pa.binary()),
            }
        )
        unsigned_ids = [f.document_id for f in fingerprints if f.kind != "full"]
        unsigned = pa.table({"document_id": pa.array(unsigned_ids, pa.string())})
        by_id = {f.document_id: f for f in fingerprints}
        starts = [a for a in assignments if a.method == "new" and a.kind != "boilerplate" and a.document_id in by_id]
        index_tbl, bands_tbl = _index_tables(
            [by_id[a.document_id] for a in starts], [a.story_id for a in starts], run_id
        )
        members_tbl = _members_table(assignments)
        with (
            self._registered("staged_documents", docs_tbl),
            self._registered("staged_signatures", fps_tbl),
            self._registered("staged_unsigned", unsigned),
            self._registered("staged_index", index_tbl),
            self._registered("staged_bands", bands_tbl),
            self._registered("staged_members", members_tbl),
            self.transaction() as con,
        ):
            _run(con, _UPSERT_DOCUMENTS)
            fault_point("mid-store")
            # A stored canonical processed again is re-indexed when it starts its story afresh (unless
            # its index rows would come out the same), and unindexed when it moved to another story.
            unchanged = {row[0] for row in _run(con, _UNCHANGED_INDEX, [SCHEME])}
            reindexed = [
                a.document_id
                for a in assignments
                if (a.method == "new" or a.story_id != a.document_id) and a.document_id not in unchanged
            ]
            self._drop_index_rows(con, reindexed)
            if unsigned.num_rows:  # a text that became a summary or a wall page keeps no signature
                _run(
                    con,
                    "DELETE FROM document_signatures WHERE document_id IN (SELECT document_id FROM staged_unsigned)",
                )
            _run(
                con,
                "INSERT INTO document_signatures (document_id, minhash, run_id, scheme)"
                " SELECT document_id, minhash, ?, ? FROM staged_signatures ON CONFLICT (document_id) DO UPDATE SET"
                " minhash = excluded.minhash, run_id = excluded.run_id, scheme = excluded.scheme"
                " WHERE document_signatures.minhash <> excluded.minhash"
                " OR document_signatures.scheme IS DISTINCT FROM excluded.scheme",
                [run_id, SCHEME],
            )
            kept = pa.table({"story_id": pa.array(sorted(unchanged), pa.string())})
            with self._registered("staged_unchanged", kept):
                _run(
                    con,
                    "INSERT INTO story_index BY NAME SELECT * FROM staged_index"
                    " WHERE story_id NOT IN (SELECT story_id FROM staged_unchanged)",
                )
                _run(
                    con,
                    "INSERT INTO lsh_bands SELECT band_key, day, story_key FROM staged_bands WHERE story_key NOT IN"
                    " (SELECT story_key FROM staged_index WHERE story_id IN (SELECT story_id FROM staged_unchanged))",
                )
            _run(
                con,
                "INSERT INTO stories (id, canonical_document_id, first_seen_at, run_id, kind)"
                " SELECT story_id, document_id, ?, ?, kind FROM staged_members"
                " WHERE method = 'new' ON CONFLICT (id) DO UPDATE SET kind = excluded.kind"
                " WHERE stories.kind IS DISTINCT FROM excluded.kind",
                [now, run_id],
            )
            left = [
                row[0]
                for row in _run(
                    con,
                    "SELECT DISTINCT m.story_id FROM story_members m JOIN staged_members s USING (document_id)"
                    " WHERE m.story_id <> s.story_id",
                )
            ]
            _run(con, _UPSERT_MEMBERS, [run_id, now])
            self._drop_empty_stories(con, left)
            new_ids = {
                row[0]
                for row in _run(
                    con,
                    "SELECT id FROM documents WHERE run_id = ? AND id IN (SELECT id FROM staged_documents)",
                    [run_id],
                )
            }
            if tagged_versions is not None:
                self._drop_stale_tags(con, tags, tagged_versions)
            self._store_tags(con, tags, run_id, now, new_ids)
            self._store_feed_items(con, feed_items, run_id, now)
        return len(new_ids)

    def _drop_empty_stories(self, con: duckdb.DuckDBPyConnection, story_ids: Sequence[str]) -> None:
        """Remove the rows of these stories that no document belongs to any more."""
        if not story_ids:
            return
        staged = pa.table({"id": pa.array(sorted(set(story_ids)), pa.string())})
        with self._registered("staged_left", staged):
            _run(
                con,
                "DELETE FROM stories WHERE id IN (SELECT id FROM staged_left)"
                " AND NOT EXISTS (SELECT 1 FROM story_members m WHERE m.story_id = stories.id)",
            )

    def _drop_stale_tags(
        self, con: duckdb.DuckDBPyConnection, tags: Sequence[Tag], versions: Sequence[tuple[str, str]]
    ) -> None:
        """Delete the batch documents' tags of these topic versions that ``tags`` does not hold."""
        staged_versions = pa.table(
            {
                "topic": pa.array([t for t, _ in versions], pa.string()),
                "version": pa.array([v for _, v in versions], pa.string()),
            }
        )
        keys = pa.table(
            {
                "document_id": pa.array([t.document_id for t in tags], pa.string()),
                "topic": pa.array([t.topic for t in tags], pa.string()),
                "topic_version": pa.array([t.topic_version for t in tags], pa.string()),
            }
        )
        with self._registered("staged_versions", staged_versions), self._registered("staged_tag_keys", keys):
            _run(con, _DELETE_STALE_TAGS)

    def _drop_index_rows(self, con: duckdb.DuckDBPyConnection, story_ids: Sequence[str]) -> None:
        """Remove the index rows of these stories (their canonical is being stored again)."""
        if not story_ids:
            return
        staged = pa.table({"story_id": pa.array(list(story_ids), pa.string())})
        with self._registered("staged_reindexed", staged):
            old = _run(
                con,
                "SELECT k.story_key, k.day FROM story_index k JOIN staged_reindexed s ON s.story_id = k.story_id",
            )
        if not old:
            return
        keys = pa.table({"story_key": pa.array([key for key, _ in old], pa.int64())})
        days = [day for _, day in old]
        with self._registered("staged_old_keys", keys):
            _run(
                con,
                "DELETE FROM lsh_bands WHERE day BETWEEN ? AND ?"
                " AND story_key IN (SELECT story_key FROM staged_old_keys)",
                [min(days), max(days)],
            )
            _run(con, "DELETE FROM story_index WHERE story_key IN (SELECT story_key FROM staged_old_keys)")

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
        """Add tags (new documents' ones pending an alert, the others marked backfill); a stored tag
        whose score, evidence or clause differs is updated and keeps its alert."""
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
                " ON CONFLICT (document_id, topic, topic_version) DO UPDATE SET score = excluded.score,"
                " evidence = excluded.evidence, clause = excluded.clause, run_id = excluded.run_id,"
                " tagged_at = excluded.tagged_at WHERE document_topics.score <> excluded.score"
                " OR document_topics.evidence <> excluded.evidence OR document_topics.clause <> excluded.clause",
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
            # counted in the transaction that stores the items: a run killed before it saves the
            # feed states loses no count (the next run sees these items as stored)
            _run(
                con,
                "UPDATE feeds SET items_total = feeds.items_total + c.n FROM (SELECT s.feed_url, count(*) AS n"
                " FROM staged_items s LEFT JOIN feed_items i ON i.feed_url = s.feed_url AND i.item_key = s.item_key"
                " WHERE i.item_key IS NULL OR i.content_hash <> s.content_hash GROUP BY s.feed_url) c"
                " WHERE feeds.url = c.feed_url",
            )
            _run(
                con,
                "INSERT INTO feed_items SELECT feed_url, item_key, document_id, content_hash, ?, ?"
                " FROM staged_items ON CONFLICT (feed_url, item_key) DO UPDATE SET"
                " document_id = excluded.document_id, content_hash = excluded.content_hash",
                [now, run_id],
            )

    # -- alerts --------------------------------------------------------------------------
    def pending_alert_items(self) -> dict[str, list[AlertItem]]:
        """Current-version tags not yet part of any alert, grouped by topic.

        ``is_new_story`` is true when no other document of the story has an earlier tag for the
        topic (alerted, or a backfill of old news): the story is new to the topic.
        """
        rows = _run(
            self.con,
            "SELECT t.topic, d.id, m.story_id, d.title, d.source, d.url, t.evidence, t.score,"
            " NOT EXISTS (SELECT 1 FROM document_topics o"
            "  JOIN story_members om ON om.document_id = o.document_id"
            "  WHERE om.story_id = m.story_id AND o.topic = t.topic AND o.topic_version = t.topic_version"
            "  AND o.alert_id IS NOT NULL)"
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

    def topic_names(self) -> dict[str, str]:
        """Display names of the current topics."""
        return dict(_run(self.con, "SELECT topic, name FROM topic_versions WHERE is_current"))

    def history_start(self) -> date | None:
        """The day (UTC) monitoring began: the first sighting of any document."""
        rows = _run(self.con, "SELECT CAST(timezone('UTC', min(first_seen_at)) AS DATE) FROM documents")
        return rows[0][0] if rows else None

    def topic_day_counts(self, since: date, until: date) -> dict[str, list[DayCount]]:
        """Unique stories and documents per topic and day (days with items only), from v_topic_daily."""
        rows = _run(
            self.con,
            "SELECT topic, day, stories, documents FROM v_topic_daily WHERE day BETWEEN ? AND ? ORDER BY topic, day",
            [since, until],
        )
        out: dict[str, list[DayCount]] = defaultdict(list)
        for topic, day, stories, documents in rows:
            out[topic].append(DayCount(day, int(stories), int(documents)))
        return dict(out)

    def stories_on_day(self, day: date) -> dict[str, set[str]]:
        """The stories each topic had on ``day`` (as v_topic_daily counts them)."""
        rows = _run(self.con, "SELECT DISTINCT topic, story_id FROM v_topic_documents WHERE day = ?", [day])
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
        with self._registered("staged_pairs", staged):
            rows = _run(self.con, _STORY_LINES)
        return {
            (topic, story_id): StoryLine(
                story_id, title, url, int(documents), tuple(sources), evidence or "", float(score or 0.0), first_seen
            )
            for topic, story_id, title, url, documents, sources, evidence, score, first_seen in rows
        }

    def spike_alerted_topics(self, day: date) -> set[str]:
        """Topics that already had a spike alert for ``day``."""
        return {row[0] for row in _run(self.con, "SELECT DISTINCT topic FROM alerts WHERE day = ? AND spike", [day])}

    def feed_activity(self, now: datetime, days: int) -> list[FeedActivity]:
        """Active feeds' items per 24-hour bucket back from ``now`` (bucket 0: the last 24 h),
        with their first and last item sightings and health."""
        feeds = _run(
            self.con,
            "SELECT f.url, f.name, min(i.first_seen_at), max(i.first_seen_at), h.status, h.last_error_kind"
            " FROM feeds f JOIN feed_items i ON i.feed_url = f.url AND i.first_seen_at <= ?"
            " LEFT JOIN v_feed_health h ON h.url = f.url"
            " WHERE f.active GROUP BY ALL ORDER BY f.url",
            [now],
        )
        counts = _run(
            self.con,
            "SELECT feed_url, CAST(floor(epoch(? - first_seen_at) / 86400) AS INTEGER) AS bucket, count(*)"
            " FROM feed_items WHERE first_seen_at <= ? AND first_seen_at > ? - to_days(CAST(? AS INTEGER))"
            " GROUP BY ALL",
            [now, now, now, days + 1],
        )
        buckets: dict[str, dict[int, int]] = defaultdict(dict)
        for url, bucket, n in counts:
            buckets[url][int(bucket)] = int(n)
        return [
            FeedActivity(name, url, first, last, buckets.get(url, {}), status, kind)
            for url, name, first, last, status, kind in feeds
        ]

    def open_silences(self) -> dict[str, int]:
        """Feeds still silent since an alert: url -> their quietest day when they went silent."""
        return dict(_run(self.con, "SELECT feed_url, quietest FROM feed_silences WHERE ended_at IS NULL"))

    def store_alerts(
        self,
        records: Sequence[AlertRecord],
        deliveries: Sequence[tuple[str, str, str]],
        silenced: Sequence[tuple[str, int, str]],
        recovered: Sequence[str],
        now: datetime,
    ) -> None:
        """In one transaction: store a run's alerts, mark their topics' pending tags alerted, queue
        their deliveries (alert id, target key, label), and open (url, quietest, alert id) or
        close (url) feed silences."""
        with self.transaction() as con:
            for record in records:
                _run(
                    con,
                    "INSERT INTO alerts (id, run_id, topic, created_at, document_count, story_count, markdown,"
                    " kind, day, new_stories, spike, triggers, title, html)"
                    " VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?) ON CONFLICT (id) DO NOTHING",
                    [
                        record.id, record.run_id, record.topic, record.created_at, record.document_count,
                        record.story_count, record.markdown, record.kind, record.day, record.new_stories,
                        record.spike, json.dumps(record.triggers, sort_keys=True), record.title, record.html,
                    ],
                )  # fmt: skip
                if record.kind == "topic":
                    _run(
                        con,
                        "UPDATE document_topics SET alert_id = ? WHERE topic = ? AND alert_id IS NULL"
                        " AND topic_version IN (SELECT version FROM topic_versions WHERE topic = ? AND is_current)",
                        [record.id, record.topic, record.topic],
                    )
            run_of = {r.id: r.run_id for r in records}
            for alert, target, label in deliveries:
                _run(
                    con,
                    "INSERT INTO deliveries (alert_id, target, target_label, status, attempts, created_at, run_id)"
                    " VALUES (?, ?, ?, 'pending', 0, ?, ?) ON CONFLICT DO NOTHING",
                    [alert, target, label, now, run_of.get(alert, "")],
                )
            for url in recovered:
                _run(con, "UPDATE feed_silences SET ended_at = ? WHERE feed_url = ? AND ended_at IS NULL", [now, url])
            for url, quietest, alert in silenced:
                _run(
                    con,
                    "INSERT INTO feed_silences (feed_url, started_at, quietest, alert_id, ended_at, run_id)"
                    " VALUES (?, ?, ?, ?, NULL, ?) ON CONFLICT DO NOTHING",
                    [url, now, quietest, alert, run_of.get(alert)],
                )

    def alert_files(self) -> list[tuple[str, str, str | None, str | None]]:
        """Every alert's (id, run id, Markdown path, HTML digest path) as stored."""
        return [(a, r, p, d) for a, r, p, d in _run(self.con, "SELECT id, run_id, path, digest_path FROM alerts")]

    def alert_records(self, run_ids: Sequence[str]) -> list[AlertRecord]:
        """The stored alerts of these runs."""
        if not run_ids:
            return []
        staged = pa.table({"run_id": pa.array(sorted(set(run_ids)), pa.string())})
        with self._registered("staged_runs", staged):
            rows = _run(
                self.con,
                "SELECT alert_id, run_id, topic, kind, created_at, day, document_count, story_count, new_stories,"
                " spike, triggers, markdown, html, title, path, digest_path FROM v_digests"
                " WHERE run_id IN (SELECT run_id FROM staged_runs)",
            )
        return [_alert_record(row) for row in rows]

    def set_alert_paths(self, paths: dict[str, Path], digest_paths: dict[str, Path]) -> None:
        """Record where each alert's Markdown (by alert id) and each run's page (by run id) were written."""
        with self.transaction() as con:
            for alert, path in paths.items():
                _run(con, "UPDATE alerts SET path = ? WHERE id = ?", [str(path), alert])
            for run_id, path in digest_paths.items():
                _run(con, "UPDATE alerts SET digest_path = ? WHERE run_id = ?", [str(path), run_id])

    def due_deliveries(self, max_attempts: int) -> list[PendingDelivery]:
        """Deliveries not made yet (new, failed, or cut short by a crash), oldest alert first."""
        rows = _run(
            self.con,
            "SELECT d.alert_id, d.target, d.target_label, d.attempts, coalesce(a.title, 'newsmon: ' || a.topic),"
            " a.markdown, a.digest_path FROM deliveries d JOIN alerts a ON a.id = d.alert_id"
            " WHERE d.status IN ('pending', 'sending', 'failed') AND d.attempts < ?"
            " ORDER BY a.created_at, d.alert_id, d.target",
            [max_attempts],
        )
        return [
            PendingDelivery(alert, target, label, int(attempts), title, notification_body(markdown, alert, digest))
            for alert, target, label, attempts, title, markdown, digest in rows
        ]

    def record_delivery_attempt(self, delivery: PendingDelivery, now: datetime, run_id: str) -> None:
        """Note an attempt before it is made: if the run dies during it, the next run retries."""
        _run(
            self.con,
            "UPDATE deliveries SET status = 'sending', attempts = attempts + 1, last_attempt_at = ?, last_run_id = ?"
            " WHERE alert_id = ? AND target = ?",
            [now, run_id, delivery.alert_id, delivery.target],
        )

    def record_delivery_outcome(self, delivery: PendingDelivery, outcome: Outcome, now: datetime) -> None:
        """Record a delivery's outcome (sent, failed, gave-up or dropped)."""
        _run(
            self.con,
            "UPDATE deliveries SET status = ?, last_error = ?,"
            " sent_at = CASE WHEN ? = 'sent' THEN CAST(? AS TIMESTAMPTZ) ELSE sent_at END"
            " WHERE alert_id = ? AND target = ?",
            [outcome.status, outcome.error, outcome.status, now, delivery.alert_id, delivery.target],
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


def _day_window(fingerprints: Sequence[Fingerprint]) -> tuple[int, int]:
    """The days an index row may have to be within the join window of any of these documents."""
    days = [f.day for f in fingerprints]
    return min(days) - _WINDOW_DAYS, max(days) + _WINDOW_DAYS


def _bands_table(fingerprints: Sequence[Fingerprint]) -> pa.Table:
    """The band keys of each document, with its id and day (for lookups)."""
    n = len(fingerprints)
    hashes = band_hashes(np.stack([f.signature for f in fingerprints])) if n else np.zeros((0, BANDS), np.int64)
    return pa.table(
        {
            "document_id": pa.array(np.repeat([f.document_id for f in fingerprints], BANDS).tolist(), pa.string()),
            "band_key": pa.array(hashes.reshape(-1), pa.int64()),
            "day": pa.array(np.repeat([f.day for f in fingerprints], BANDS).astype(np.int32), pa.int32()),
        }
    )


def _index_tables(
    fingerprints: Sequence[Fingerprint], story_ids: Sequence[str], run_id: str | None
) -> tuple[pa.Table, pa.Table]:
    """Index rows of new story canonicals: one story_index row each (with the run that indexes
    it), and band rows for full texts."""
    keep = [(f, s) for f, s in zip(fingerprints, story_ids, strict=True) if f.kind != "boilerplate"]
    index = pa.table(
        {
            "story_id": pa.array([s for _, s in keep], pa.string()),
            "story_key": pa.array([key64(s) for _, s in keep], pa.int64()),
            "day": pa.array([f.day for f, _ in keep], pa.int32()),
            "kind": pa.array([f.kind for f, _ in keep], pa.string()),
            "exact_key": pa.array([f.exact_key for f, _ in keep], pa.int64()),
            "headline_key": pa.array([f.headline_key for f, _ in keep], pa.int64()),
            "run_id": pa.array([run_id] * len(keep), pa.string()),
        }
    )
    full = [(f, s) for f, s in keep if f.kind == "full"]
    bands = _bands_table([f for f, _ in full])
    story_keys = np.repeat(np.array([key64(s) for _, s in full], dtype=np.int64), BANDS)
    return index, bands.append_column("story_key", pa.array(story_keys, pa.int64()))


def _members_table(assignments: Sequence[StoryAssignment]) -> pa.Table:
    """Story membership rows, with what differs from the canonical."""
    return pa.table(
        {
            "document_id": pa.array([a.document_id for a in assignments], pa.string()),
            "story_id": pa.array([a.story_id for a in assignments], pa.string()),
            "similarity": pa.array([a.similarity for a in assignments], pa.float64()),
            "method": pa.array([a.method for a in assignments], pa.string()),
            "containment": pa.array([a.containment for a in assignments], pa.float64()),
            "coverage": pa.array([a.coverage for a in assignments], pa.float64()),
            "differences": pa.array(
                [list(a.differences) if a.method != "new" else None for a in assignments], pa.list_(pa.string())
            ),
            "kind": pa.array([a.kind for a in assignments], pa.string()),
        }
    )


def open_reader(path: Path, live: bool = False) -> duckdb.DuckDBPyConnection:
    """A read-only connection for ad hoc SQL: no writes, no files, no network.

    Reads the snapshot published after the last run, so it never blocks a running writer;
    ``live=True`` (or no snapshot yet) reads the database file itself.
    """
    snap = snapshot_path(path)
    if not live and snap.exists():
        return connect(snap, read_only=True)
    return connect(path, read_only=True)


def _connect_waiting(path: Path, deadline: float) -> duckdb.DuckDBPyConnection:
    """Open read-write, waiting with backoff while another process holds the file."""
    delay = 0.1
    while True:
        try:
            return connect(path)
        except DatabaseLockedError as err:
            if time.monotonic() >= deadline:
                raise DatabaseLockedError(
                    f"{err}; readers should use `newsmon sql` (it reads the snapshot) instead of the live file"
                ) from err
            log.info("database %s is held by another process; waiting", path)
            time.sleep(min(delay, max(0.0, deadline - time.monotonic())))
            delay = min(delay * 2, 2.0)


def _alert_record(row: Sequence[Any]) -> AlertRecord:
    """A v_digests row (alert_id, run_id, topic, kind, created_at, day, document_count, story_count,
    new_stories, spike, triggers, markdown, html, title, path, digest_path) as a record."""
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
            rows = _run(
                con,
                "SELECT alert_id, run_id, topic, kind, created_at, day, document_count, story_count, new_stories,"
                " spike, triggers, markdown, html, title, path, digest_path FROM v_digests"
                " WHERE topic = ? ORDER BY created_at DESC, alert_id LIMIT 1",
                [topic],
            )
        else:
            rows = _run(
                con,
                "SELECT alert_id, run_id, topic, kind, created_at, day, document_count, story_count, new_stories,"
                " spike, triggers, markdown, html, title, path, digest_path FROM v_digests"
                " WHERE run_id = (SELECT run_id FROM alerts ORDER BY created_at DESC, id LIMIT 1)",
            )
    except duckdb.Error as err:
        raise QueryError(f"cannot read alerts ({str(err).splitlines()[0]}): run `newsmon run` to migrate") from err
    return [_alert_record(row) for row in rows]


def known_topics(con: duckdb.DuckDBPyConnection) -> list[str]:
    """Every topic the database knows (any version, or an alert), sorted."""
    try:
        rows = _run(con, "SELECT topic FROM topic_versions UNION SELECT topic FROM alerts ORDER BY 1")
    except duckdb.Error as err:
        raise QueryError(f"cannot read topics ({str(err).splitlines()[0]}): run `newsmon run` to migrate") from err
    return [row[0] for row in rows]


def run_query(
    con: duckdb.DuckDBPyConnection, sql: str, params: Sequence[Any] | None = None
) -> tuple[list[str], list[tuple[Any, ...]]]:
    """Run one query (with bound parameters); return column names and rows, or raise :class:`QueryError`."""
    try:
        result = con.execute(sql, params) if params is not None else con.execute(sql)
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
    try:
        return con.execute(sql, params).fetchall() if params is not None else con.execute(sql).fetchall()
    except (duckdb.IOException, duckdb.OutOfMemoryException, duckdb.FatalException, duckdb.TransactionException) as err:
        first = str(err).splitlines()[0]
        raise StorageError(f"database write failed ({first}): {write_failure_advice(first)}") from err


def write_failure_advice(message: str) -> str:
    """What to do about a failed write, from the system's message (disk full, file size limit, ...)."""
    lowered = message.lower()
    if "no space left" in lowered or "disk full" in lowered or "quota" in lowered:
        cause = "the disk is full: free disk space"
    elif "file too large" in lowered or "file size limit" in lowered:
        cause = "a file size limit (ulimit -f) stopped the write: raise the limit or move the database"
    elif "out of memory" in lowered or "memory" in lowered:
        cause = "out of memory: free memory or lower batch_size"
    else:
        cause = "free disk space or memory"
    return f"{cause} and run again; committed data is intact"
