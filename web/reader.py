"""The dashboard's connection to the read snapshot (``<db>.snapshot.duckdb``).

The snapshot is opened read-only, never the live file, so the dashboard never blocks the
scheduled writer. A run publishes a new snapshot by renaming a fresh copy over the old one;
before each request the reader compares the file's identity (inode, size, modification time)
with the one it opened and reopens when they differ. The connection is shared by requests, one
at a time (DuckDB connections are not for concurrent use).
"""

from __future__ import annotations

import logging
import os
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import duckdb

from newsmon.errors import DatabaseMissingError
from storage.database import connect
from storage.snapshot import snapshot_path

log = logging.getLogger(__name__)

Stamp = tuple[int, int, int]


class SnapshotReader:
    """A read-only connection to the snapshot of ``db_path``, reopened when the snapshot changes."""

    def __init__(self, db_path: Path) -> None:
        self.db_path = db_path
        self.path = snapshot_path(db_path)
        self.opened = 0  # how many times a snapshot was opened
        self._lock = threading.Lock()
        self._con: duckdb.DuckDBPyConnection | None = None
        self._stamp: Stamp | None = None

    def check(self) -> None:
        """Raise :class:`DatabaseMissingError` when there is no snapshot to read."""
        if not self.path.is_file():
            where = "no database" if not self.db_path.exists() else "no read snapshot"
            raise DatabaseMissingError(
                f"{where} at {self.path}: run `newsmon run` first (it publishes the snapshot) or pass --db PATH"
            )

    def _stamp_now(self) -> Stamp | None:
        try:
            st = os.stat(self.path)
        except FileNotFoundError:
            return None
        return (st.st_ino, st.st_size, st.st_mtime_ns)

    @contextmanager
    def connection(self) -> Iterator[duckdb.DuckDBPyConnection]:
        """The connection, for one request; the latest snapshot's (an open one is kept if the file vanished)."""
        with self._lock:
            stamp = self._stamp_now()
            if self._con is None or (stamp is not None and stamp != self._stamp):
                if stamp is None:
                    self.check()
                self._reopen(stamp)
            assert self._con is not None
            yield self._con

    def _reopen(self, stamp: Stamp | None) -> None:
        if self._con is not None:
            self._con.close()
            self._con = None
        self._con = connect(self.path, read_only=True)
        self._stamp = stamp
        self.opened += 1
        log.info("opened snapshot %s", self.path)

    def close(self) -> None:
        """Close the connection (a later request opens it again)."""
        with self._lock:
            if self._con is not None:
                self._con.close()
                self._con = None
