"""Read snapshots: a consistent copy of the database that readers use while runs write.

DuckDB allows one read-write process or many read-only ones, so an analyst's open
connection would block the scheduled writer. After each run the writer checkpoints and
closes the file, copies it to ``<name>.snapshot.duckdb`` under a temporary name, and swaps
it in with an atomic rename while still holding the writer lock. Readers open the snapshot
read-only; one that has the old snapshot open keeps reading it undisturbed (the rename
leaves its file in place until it closes).
"""

from __future__ import annotations

import logging
import os
import shutil
from pathlib import Path

log = logging.getLogger(__name__)


def snapshot_path(db_path: Path) -> Path:
    """Where the read snapshot of ``db_path`` lives (``news.duckdb`` -> ``news.snapshot.duckdb``)."""
    return db_path.with_name(f"{db_path.stem}.snapshot{db_path.suffix or '.duckdb'}")


def wal_path(db_path: Path) -> Path:
    """The write-ahead log DuckDB keeps beside ``db_path`` (``news.duckdb`` -> ``news.duckdb.wal``)."""
    return db_path.with_name(db_path.name + ".wal")


def publish_snapshot(db_path: Path) -> Path | None:
    """Copy a closed, checkpointed database to its snapshot path atomically.

    Must be called by the writer, after closing its connection and before releasing the
    writer lock. Returns the snapshot path, or None when the file still has a WAL (the
    checkpoint did not complete), in which case the previous snapshot stays in place.
    """
    wal = wal_path(db_path)
    if wal.exists() and wal.stat().st_size > 0:
        log.warning("not publishing a snapshot of %s: its WAL was not checkpointed", db_path)
        return None
    target = snapshot_path(db_path)
    tmp = target.with_name(f".{target.name}.tmp-{os.getpid()}")
    try:
        shutil.copyfile(db_path, tmp)
        with open(tmp, "rb+") as handle:
            os.fsync(handle.fileno())
        os.replace(tmp, target)
        _fsync_dir(target.parent)
    finally:
        tmp.unlink(missing_ok=True)
    return target


def _fsync_dir(folder: Path) -> None:
    fd = os.open(folder, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)
