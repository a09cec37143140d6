"""The writer's view of the database: one :class:`Database` and a repository per entity.

``Store.open_writer`` takes the writer lock, opens and migrates the file; ``close``
checkpoints, publishes the read snapshot and releases the lock. Each entity's reads and
writes live in its own module (``storage/documents.py``, ``stories.py``, ``topics.py``,
``feeds.py``, ``failures.py``, ``alerts.py``, ``deliveries.py``, ``runs.py``; a batch's write in ``batches.py``).
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import duckdb

from newsmon.models import INDEX_SCHEME, IndexScheme
from storage.alerts import AlertRepository, known_topics, latest_digest, retired_topics
from storage.batches import BatchWriter
from storage.database import Database, open_reader, run_query, write_failure_advice
from storage.deliveries import DeliveryRepository
from storage.documents import DocumentRepository
from storage.failures import FailureRepository
from storage.feeds import FeedRepository
from storage.lock import WriterLock, lock_path
from storage.reviews import ReviewRepository
from storage.runs import RunRepository
from storage.snapshot import snapshot_path, wal_path
from storage.stories import StoryRepository
from storage.topics import TopicRepository

__all__ = [
    "Database",
    "Store",
    "known_topics",
    "latest_digest",
    "open_reader",
    "retired_topics",
    "run_query",
    "write_failure_advice",
]


class Store:
    """Read-write access for one run. Open with :meth:`open_writer`, close with :meth:`close`.

    ``scheme`` tells the story repository how the reprint index is read (the fingerprint
    scheme, join window and candidate cap that dedupe uses: ``newsmon.models.INDEX_SCHEME``).
    """

    def __init__(self, db: Database, scheme: IndexScheme = INDEX_SCHEME) -> None:
        self.db = db
        self.runs = RunRepository(db)
        self.documents = DocumentRepository(db)
        self.stories = StoryRepository(db, scheme)
        self.topics = TopicRepository(db)
        self.reviews = ReviewRepository(db)
        self.feeds = FeedRepository(db)
        self.failures = FailureRepository(db)
        self.alerts = AlertRepository(db)
        self.deliveries = DeliveryRepository(db)
        self.batches = BatchWriter(db, scheme.scheme)

    @classmethod
    def open_writer(cls, path: Path, lock_timeout_s: float = 30.0, scheme: IndexScheme = INDEX_SCHEME) -> Store:
        """Take the writer lock, open the file read-write and migrate it (see :meth:`Database.open_writer`)."""
        return cls(Database.open_writer(path, lock_timeout_s), scheme)

    @classmethod
    def on_connection(
        cls,
        con: duckdb.DuckDBPyConnection,
        path: Path,
        scheme: IndexScheme = INDEX_SCHEME,
        lock: WriterLock | None = None,
    ) -> Store:
        """A store on an open connection (a reader's, or a test's)."""
        return cls(Database(con, path, lock), scheme)

    @property
    def con(self) -> duckdb.DuckDBPyConnection:
        """The connection (for ad hoc reads in tests and tools)."""
        return self.db.con

    @property
    def path(self) -> Path:
        """The database file."""
        return self.db.path

    def own_files(self) -> list[Path]:
        """The files this store writes: the database, its write-ahead log and lock, the read
        snapshot and its log (never input, even in the folder a run reads)."""
        snapshot = snapshot_path(self.path)
        return [self.path, wal_path(self.path), lock_path(self.path), snapshot, wal_path(snapshot)]

    def close(self, snapshot: bool = True) -> Path | None:
        """Checkpoint, close, publish the read snapshot if asked, release the lock; the snapshot
        path. When the checkpoint or the snapshot failed, :attr:`close_error` says so."""
        return self.db.close(snapshot)

    @property
    def close_error(self) -> str | None:
        """Why the last :meth:`close` left readers the previous snapshot (one line), if it did."""
        return self.db.close_error

    @contextmanager
    def transaction(self) -> Iterator[duckdb.DuckDBPyConnection]:
        """A short write transaction (see :meth:`Database.transaction`)."""
        with self.db.transaction() as con:
            yield con

    def migrate(self) -> list[int]:
        """Apply pending migrations and recreate the views; the versions applied."""
        return self.db.migrate()
