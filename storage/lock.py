"""The writer lock: one newsmon writer per database file at a time.

A writer that has to wait says so once, through the wait notifier: by default a log warning;
the command line installs one that prints (:func:`set_wait_notifier`).
"""

from __future__ import annotations

import fcntl
import logging
import os
import random
import time
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path
from types import TracebackType

from newsmon.errors import DatabaseLockedError, StorageError

log = logging.getLogger(__name__)


def _log_wait(message: str) -> None:
    log.warning("%s", message)


_notify_wait: Callable[[str], None] = _log_wait


def set_wait_notifier(notify: Callable[[str], None] | None) -> Callable[[str], None]:
    """Make ``notify(message)`` the way a writer says, once, that it waits for the database
    (None: the default, a log warning); returns the previous notifier."""
    global _notify_wait
    previous, _notify_wait = _notify_wait, notify or _log_wait
    return previous


def notify_wait(message: str) -> None:
    """Say that this writer waits (``message`` is one line), through the installed notifier."""
    _notify_wait(message)


def lock_path(db_path: Path) -> Path:
    """The writer lock's file beside ``db_path`` (``news.duckdb`` -> ``news.duckdb.lock``)."""
    return db_path.with_name(db_path.name + ".lock")


class WriterLock:
    """An exclusive ``flock`` on ``<db>.lock``, waited for with backoff up to ``timeout_s``.

    The lock file holds the owner's PID for the error message of the next writer. The lock is
    released by the kernel when the process dies, so a killed run never leaves it stuck.
    """

    def __init__(self, db_path: Path, timeout_s: float = 30.0) -> None:
        self.path = lock_path(db_path)
        self.timeout_s = timeout_s
        self._fd: int | None = None

    def acquire(self) -> None:
        """Take the lock or raise :class:`DatabaseLockedError` after ``timeout_s``."""
        try:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            fd = os.open(self.path, os.O_RDWR | os.O_CREAT, 0o644)
        except OSError as err:
            raise StorageError(
                f"cannot create the lock file {self.path}: {err.strerror or err}; pass a --db in a folder you can write"
            ) from err
        deadline = time.monotonic() + self.timeout_s
        delay = 0.05
        waited = False
        while True:
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
                break
            except BlockingIOError:
                if time.monotonic() >= deadline:
                    owner = self._holder(fd)[0]
                    os.close(fd)
                    raise DatabaseLockedError(
                        f"another newsmon run (PID {owner}) is writing {self.path.with_suffix('')}:"
                        f" waited {self.timeout_s:.0f} s; try again when it has finished"
                    ) from None
                if not waited:
                    waited = True
                    owner, since = self._holder(fd)
                    notify_wait(
                        f"waiting for the writer lock on {self.path.with_suffix('')} (held by PID {owner},"
                        f" running since {since}) for up to {self.timeout_s:.0f} s…"
                    )
                time.sleep(min(delay, max(0.0, deadline - time.monotonic())) * random.uniform(0.8, 1.2))
                delay = min(delay * 2, 2.0)
        os.ftruncate(fd, 0)
        os.pwrite(fd, str(os.getpid()).encode(), 0)
        self._fd = fd

    @staticmethod
    def _holder(fd: int) -> tuple[str, str]:
        """The holder's PID (the lock file's content) and since when it holds the lock (when it
        wrote its PID: the file's modification time), in UTC."""
        owner = os.pread(fd, 32, 0).decode(errors="replace").strip() or "unknown"
        since = datetime.fromtimestamp(os.fstat(fd).st_mtime, UTC)
        return owner, f"{since:%Y-%m-%d %H:%M:%S} UTC"

    def release(self) -> None:
        """Release the lock (idempotent)."""
        if self._fd is not None:
            fcntl.flock(self._fd, fcntl.LOCK_UN)
            os.close(self._fd)
            self._fd = None

    def __enter__(self) -> WriterLock:
        self.acquire()
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.release()
