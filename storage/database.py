"""The DuckDB file: connections, the writer's transactions, migrations, views, and statements.

All SQL is static text (short statements inline, longer ones in ``storage/sql/*.sql``); values
travel as bound parameters or as Arrow tables registered under fixed names, never by string
formatting. Rows become models by column name (:func:`records`), never by position.
"""

from __future__ import annotations

import contextlib
import dataclasses
import logging
import re
import time
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from functools import cache
from importlib import resources
from pathlib import Path
from typing import Any, TypeVar

import duckdb
import pyarrow as pa

from newsmon.errors import DatabaseLockedError, DatabaseMissingError, Interrupted, QueryError, StorageError
from newsmon.models import SilenceParams, SpikeParams
from storage.lock import WriterLock, notify_wait
from storage.signals import signals_held
from storage.snapshot import publish_snapshot, snapshot_path

log = logging.getLogger(__name__)

_MIGRATION_NAME = re.compile(r"^(\d{4})_[a-z0-9_]+\.sql$")
_LOCK_PID = re.compile(r"PID (\d+)")
_PLACEHOLDER = re.compile(r"\{\{(\w+)\}\}")

T = TypeVar("T")


def view_parameters() -> dict[str, int | float]:
    """The windows and thresholds the views use: the same objects the Python trend code uses,
    so a digest and a view cannot disagree (``{{name}}`` in ``storage/views/*.sql``)."""
    spike, silence = SpikeParams(), SilenceParams()
    return {
        "spike_window_days": spike.window_days,
        "spike_guard_days": spike.guard_days,
        "spike_window_start": spike.window_days + spike.guard_days,  # frame start, days before the day
        "spike_window_end": spike.guard_days + 1,  # frame end, days before the day
        "spike_min_history_days": spike.min_history_days,
        "spike_floor": spike.floor,
        "spike_min_stories": spike.min_stories,
        "spike_min_ratio": spike.min_ratio,
        "spike_alpha": spike.alpha,
        "spike_backlog_days": spike.backlog_days,
        "spike_backlog_seconds": spike.backlog_days * 86400,
        "silence_window_days": silence.window_days,
        "silence_min_history_days": silence.min_history_days,
        "silence_max_share": silence.max_share,
        "silence_alpha": silence.alpha,
    }


def render_view(sql: str, parameters: Mapping[str, int | float]) -> str:
    """A view's SQL with its ``{{name}}`` placeholders replaced by numbers (never by text)."""

    def value(match: re.Match[str]) -> str:
        number = parameters[match.group(1)]
        if not isinstance(number, int | float) or isinstance(number, bool):
            raise StorageError(f"view parameter {match.group(1)} must be a number")
        return repr(number)

    return _PLACEHOLDER.sub(value, sql)


def _sql_files(folder: str) -> list[tuple[str, str]]:
    base = resources.files("storage") / folder
    return sorted((f.name, f.read_text(encoding="utf-8")) for f in base.iterdir() if f.name.endswith(".sql"))


@cache
def load_sql(name: str) -> str:
    """The statement in ``storage/sql/<name>.sql`` (comments and all)."""
    return (resources.files("storage") / "sql" / f"{name}.sql").read_text(encoding="utf-8")


def connect(path: Path, read_only: bool = False, fix: str = "check the path") -> duckdb.DuckDBPyConnection:
    """Open the database, turning DuckDB's lock and file errors into one-line newsmon errors
    (``fix``: what the line says to do about a file that cannot be opened)."""
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
        raise StorageError(f"cannot open database {path} ({message.splitlines()[0]}): {fix}") from err
    except duckdb.Error as err:
        first = str(err).splitlines()[0]
        if "in-memory database in read-only mode" in first:  # DuckDB's words for a file that is not one
            first = "not a DuckDB database file"
        raise StorageError(f"cannot open database {path} ({first}): {fix}") from err


def open_reader(path: Path, live: bool = False) -> duckdb.DuckDBPyConnection:
    """A read-only connection for ad hoc SQL: no writes, no files, no network.

    Reads the snapshot published after the last run, so it never blocks a running writer;
    ``live=True`` (or no snapshot yet) reads the database file itself.
    """
    snap = snapshot_path(path)
    if not live and snap.exists():
        damaged = "the next `newsmon run` publishes this snapshot again; meanwhile read the database with --live"
        return connect(snap, read_only=True, fix=damaged)
    return connect(path, read_only=True)


def _connect_waiting(path: Path, deadline: float) -> duckdb.DuckDBPyConnection:
    """Open read-write, waiting with backoff while another process holds the file."""
    delay = 0.1
    waited = False
    while True:
        try:
            return connect(path)
        except DatabaseLockedError as err:
            if time.monotonic() >= deadline:
                raise DatabaseLockedError(
                    f"{err}; readers should use `newsmon sql` (it reads the snapshot) instead of the live file"
                ) from err
            if not waited:
                waited = True
                pid = _LOCK_PID.search(str(err.__cause__ or err))
                holder = f"process {pid.group(1)}" if pid else "another process"
                notify_wait(f"waiting for {path}: {holder} has the file open (a reader of the live file?)…")
            time.sleep(min(delay, max(0.0, deadline - time.monotonic())))
            delay = min(delay * 2, 2.0)


@contextmanager
def interruptible() -> Iterator[None]:
    """Raise DuckDB's report of a signal that stopped a query (``Query interrupted``: the
    signal's own exception is lost) as :class:`Interrupted`, a stop rather than an error."""
    try:
        yield
    except (duckdb.InterruptException, RuntimeError) as err:
        if isinstance(err, duckdb.InterruptException) or str(err).startswith("Query interrupted"):
            raise Interrupted() from None
        raise


def execute(con: duckdb.DuckDBPyConnection, sql: str, params: Sequence[Any] | None = None) -> list[tuple[Any, ...]]:
    """Execute one statement with bound parameters and consume its whole result.

    DuckDB 2 refuses further work on a connection while a result is unread, so every
    statement's result (even an INSERT's row count) is fetched here.
    """
    try:
        with interruptible():
            return con.execute(sql, params).fetchall() if params is not None else con.execute(sql).fetchall()
    except (duckdb.IOException, duckdb.OutOfMemoryException, duckdb.FatalException, duckdb.TransactionException) as err:
        first = str(err).splitlines()[0]
        raise StorageError(f"database write failed ({first}): {write_failure_advice(first)}") from err


def records(
    con: duckdb.DuckDBPyConnection, model: type[T], sql: str, params: Sequence[Any] | Mapping[str, Any] | None = None
) -> list[T]:
    """Run a query and build one ``model`` (a dataclass) per row, by column name: every column
    the query returns must be a field of the model. ``params`` are positional (``?``) or named
    (``$name``)."""
    try:
        with interruptible():
            result = con.execute(sql, params) if params is not None else con.execute(sql)
            names = [d[0] for d in result.description or []]
            rows = result.fetchall()
    except (duckdb.IOException, duckdb.OutOfMemoryException, duckdb.FatalException, duckdb.TransactionException) as err:
        first = str(err).splitlines()[0]
        raise StorageError(f"database read failed ({first}): {write_failure_advice(first)}") from err
    except (duckdb.BinderException, duckdb.CatalogException) as err:  # a snapshot older than the code
        first = str(err).splitlines()[0]
        raise StorageError(
            f"database read failed ({first}): if the file was written by an earlier newsmon, run `newsmon run`"
            " once to bring it up to date"
        ) from err
    fields = {f.name for f in dataclasses.fields(model)}  # type: ignore[arg-type]
    unknown = [n for n in names if n not in fields]
    if unknown:
        raise StorageError(f"query columns {unknown} are not fields of {model.__name__}")
    return [model(**dict(zip(names, row, strict=True))) for row in rows]


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


class Database:
    """One open connection (the writer's, or a reader's), with transactions and staging.

    Repositories share one ``Database``; it owns the connection and the writer lock.
    """

    def __init__(self, con: duckdb.DuckDBPyConnection, path: Path, lock: WriterLock | None = None):
        self.con = con
        self.path = path
        self._lock = lock
        self.close_error: str | None = None  # why :meth:`close` left readers the previous snapshot

    @classmethod
    def open_writer(cls, path: Path, lock_timeout_s: float = 30.0) -> Database:
        """Take the writer lock, open the file read-write and migrate it to the current schema.

        A process holding the file itself (an ad hoc client on the live file) is waited for
        with backoff within the same timeout, then reported in one clear line.
        """
        lock = WriterLock(path, lock_timeout_s)
        deadline = time.monotonic() + lock_timeout_s
        lock.acquire()
        try:
            path.parent.mkdir(parents=True, exist_ok=True)
            db = cls(_connect_waiting(path, deadline), path, lock)
            db.migrate()
            if not snapshot_path(path).exists():  # readers get a snapshot before the first run ends
                execute(db.con, "CHECKPOINT")
                db.con.close()
                publish_snapshot(path)
                db.con = _connect_waiting(path, deadline)
        except BaseException:
            lock.release()
            raise
        return db

    def close(self, snapshot: bool = True) -> Path | None:
        """Checkpoint, close the connection, publish the read snapshot if asked, release the lock.

        Returns the snapshot path when one was published.
        """
        published: Path | None = None
        failed: str | None = None  # why the checkpoint failed (closing may still checkpoint)
        try:
            self._checkpoint()
        except (duckdb.Error, StorageError) as err:  # the data is committed: readers keep the old snapshot
            failed = str(err).splitlines()[0]
            log.warning("checkpoint of %s failed: %s", self.path, failed)
        finally:
            self.con.close()
            try:
                if snapshot:
                    published = publish_snapshot(self.path)
                    if published is None and failed is not None:
                        self.close_error = self._stale_snapshot("its checkpoint failed", failed)
            except OSError as err:  # e.g. disk full: the database itself is fine, readers keep the old snapshot
                self.close_error = self._stale_snapshot("its read snapshot could not be published", str(err))
                log.warning("could not publish the read snapshot of %s: %s", self.path, err)
            finally:
                if self._lock is not None:
                    self._lock.release()
        return published

    def _stale_snapshot(self, what: str, detail: str) -> str:
        """Why readers still see the previous snapshot though the data is committed, and what to do."""
        return (
            f"the database {self.path} was written, but {what} ({detail}), so readers still see the previous"
            f" run's snapshot: {write_failure_advice(detail)}"
        )

    def _checkpoint(self) -> None:
        """CHECKPOINT; a transaction a stop left open is rolled back first (its work was never committed)."""
        try:
            self.con.execute("CHECKPOINT").fetchall()
        except duckdb.TransactionException:
            with contextlib.suppress(duckdb.Error):
                self.con.execute("ROLLBACK").fetchall()
            execute(self.con, "CHECKPOINT")

    @contextmanager
    def transaction(self) -> Iterator[duckdb.DuckDBPyConnection]:
        """A short write transaction: committed on success, rolled back on any error. A stop
        (SIGTERM, Ctrl-C) that arrives inside it acts once it is over (see :mod:`storage.signals`)."""
        with signals_held():
            execute(self.con, "BEGIN TRANSACTION")
            try:
                yield self.con
            except BaseException:
                try:
                    execute(self.con, "ROLLBACK")
                except (StorageError, duckdb.Error) as err:  # the original error matters more
                    log.warning("rollback failed: %s", err)
                raise
            execute(self.con, "COMMIT")

    @contextmanager
    def registered(self, name: str, table: pa.Table) -> Iterator[None]:
        """``table`` readable by the statements inside the block under ``name``; a stop that
        arrives inside the block (while DuckDB reads the table, say) acts once it is over."""
        with signals_held():
            self.con.register(name, table)
            try:
                yield
            finally:
                self.con.unregister(name)

    def execute(self, sql: str, params: Sequence[Any] | None = None) -> list[tuple[Any, ...]]:
        """:func:`execute` on this connection."""
        return execute(self.con, sql, params)

    def records(self, model: type[T], sql: str, params: Sequence[Any] | Mapping[str, Any] | None = None) -> list[T]:
        """:func:`records` on this connection."""
        return records(self.con, model, sql, params)

    def migrate(self) -> list[int]:
        """Apply pending forward-only migrations, then recreate every view. Returns versions applied."""
        self.execute(
            "CREATE TABLE IF NOT EXISTS schema_migrations ("
            " version INTEGER PRIMARY KEY, name VARCHAR NOT NULL, applied_at TIMESTAMPTZ NOT NULL)",
        )
        current = int(self.execute("SELECT coalesce(max(version), 0) FROM schema_migrations")[0][0])
        applied: list[int] = []
        for name, sql in _sql_files("schema"):
            match = _MIGRATION_NAME.match(name)
            if not match:
                raise StorageError(f"migration file storage/schema/{name} is misnamed: use NNNN_name.sql")
            version = int(match.group(1))
            if version <= current:
                continue
            with self.transaction() as con:
                execute(con, sql)
                execute(con, "INSERT INTO schema_migrations VALUES (?, ?, now())", [version, name])
            applied.append(version)
            log.info("applied migration %s", name)
        parameters = view_parameters()
        with self.transaction() as con:
            for _name, sql in _sql_files("views"):
                execute(con, render_view(sql, parameters))
        return applied


def string_table(name: str, values: Sequence[str]) -> pa.Table:
    """A one-column Arrow table of distinct strings, sorted (for ``IN``/``JOIN`` staging)."""
    return pa.table({name: pa.array(sorted(set(values)), pa.string())})
