"""The writer lock: one newsmon writer per database file at a time."""

from __future__ import annotations

import fcntl
import logging
import os
import random
import time
from pathlib import Path
from types import TracebackType

from newsmon.errors import DatabaseLockedError

log = logging.getLogger(__name__)


class WriterLock:
    """An exclusive ``flock`` on ``<db>.lock``, waited for with backoff up to ``timeout_s``.

    The lock file holds the owner's PID for the error message of the next writer. The lock is
    released by the kernel when the process dies, so a killed run never leaves it stuck.
    """

    def __init__(self, db_path: Path, timeout_s: float = 30.0) -> None:
        self.path = db_path.with_name(db_path.name + ".lock")
        self.timeout_s = timeout_s
        self._fd: int | None = None

    def acquire(self) -> None:
        """Take the lock or raise :class:`DatabaseLockedError` after ``timeout_s``."""
        self.path.parent.mkdir(parents=True, exist_ok=True)
        fd = os.open(self.path, os.O_RDWR | os.O_CREAT, 0o644)
        deadline = time.monotonic() + self.timeout_s
        delay = 0.05
        while True:
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
                break
            except BlockingIOError:
                if time.monotonic() >= deadline:
                    owner = os.pread(fd, 32, 0).decode(errors="replace").strip() or "unknown"
                    os.close(fd)
                    raise DatabaseLockedError(
                        f"another newsmon run (PID {owner}) is writing {self.path.with_suffix('')}:"
                        f" waited {self.timeout_s:.0f} s; try again when it has finished"
                    ) from None
                log.info("waiting for the writer lock %s", self.path)
                time.sleep(min(delay, max(0.0, deadline - time.monotonic())) * random.uniform(0.8, 1.2))
                delay = min(delay * 2, 2.0)
        os.ftruncate(fd, 0)
        os.pwrite(fd, str(os.getpid()).encode(), 0)
        self._fd = fd

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
