"""The run's one process pool for CPU work: page extraction, feed parsing and tagging.

A run creates one :class:`WorkerPool` and hands it to every step that needs processes (it is
injected, never a module-level pool); the workers start on first use (``forkserver``), so a
run with nothing to extract starts none. Each worker's address space is capped, so a
pathological page fails that page, not the run; :meth:`WorkerPool.kill` ends them all (a hung
page) and the next job starts fresh ones.

Read-only data every job of a run needs (the compiled topics) is sent once, when a worker
starts, as the pool's ``state``; jobs read it with :func:`worker_state`. That per-process slot
is the only state the workers keep.
"""

from __future__ import annotations

import logging
import multiprocessing
import os
import pickle
import resource
import signal
import threading
import time
from collections.abc import Callable, Iterable, Mapping
from concurrent.futures import Future, ProcessPoolExecutor
from pathlib import Path
from typing import Any, TypeVar

from newsmon.errors import NewsmonError

log = logging.getLogger(__name__)

WORKER_MEMORY_BYTES = 2 * 1024**3
OWNER_CHECK_S = 1.0  # how often a worker checks that the process owning its pool still runs
_PROC = Path("/proc/self")
T = TypeVar("T")
R = TypeVar("R")

_state: dict[str, Any] = {}  # in a worker process: the pool's state, installed when it starts


def _start_worker(memory_bytes: int, state: bytes, owner: int | None = None) -> None:
    """Cap the worker's address space, install the pool's state (pickled once by the pool, and
    unpickled here: the process starting the worker waits while the worker reads its arguments,
    and unpickling compiled topics recompiles their patterns, 0.4 s), and watch the process that
    owns the pool (``owner``): a worker outlives it otherwise, blocked on its job queue, and
    keeps the forkserver alive with it, when newsmon is killed (SIGKILL, the OOM killer)."""
    try:
        resource.setrlimit(resource.RLIMIT_AS, (memory_bytes, memory_bytes))
    except (ValueError, OSError):  # pragma: no cover - platform without the limit
        log.debug("could not limit worker memory")
    _state.clear()
    _state.update(pickle.loads(state))
    signal.signal(signal.SIGINT, signal.SIG_IGN)  # Ctrl-C is the owner's to handle: it ends the pool
    if owner is not None:
        started = _started(owner)
        threading.Thread(target=_exit_with, args=(owner, started), name="newsmon-owner-watch", daemon=True).start()


def _exit_with(owner: int, started: str | None) -> None:
    """End this worker at once when ``owner`` is gone (checked every :data:`OWNER_CHECK_S`)."""
    while is_alive(owner, started):
        time.sleep(OWNER_CHECK_S)
    os._exit(1)


def is_alive(pid: int, started: str | None = None) -> bool:
    """Whether process ``pid`` runs: not a zombie (dead, not yet reaped) and, given its start
    time (:func:`_started`), not another process that took its number since. Without /proc
    (not Linux), whether a signal could reach it."""
    if not _PROC.is_dir():
        try:
            os.kill(pid, 0)
        except ProcessLookupError:
            return False
        except PermissionError:
            return True
        return True
    fields = _stat_fields(pid)
    return fields is not None and fields[0] != "Z" and (started is None or fields[19] == started)


def _started(pid: int) -> str | None:
    """When process ``pid`` started (clock ticks after boot, from /proc), or None without /proc."""
    fields = _stat_fields(pid) if _PROC.is_dir() else None
    return fields[19] if fields is not None else None


def _stat_fields(pid: int) -> list[str] | None:
    """The fields of /proc/PID/stat after the command name (state first), or None when gone."""
    try:
        with open(f"/proc/{pid}/stat", "rb") as stat:
            return stat.read().rsplit(b")", 1)[1].decode("ascii", "replace").split()
    except OSError:
        return None


def worker_state(name: str) -> Any:
    """In a worker: the value the pool was created with under ``name``."""
    try:
        return _state[name]
    except KeyError:
        raise NewsmonError(f"worker state {name!r} was not given to this pool: pass state={{{name!r}: ...}}") from None


class WorkerPool:
    """A lazily started process pool of ``workers`` processes (see the module's docstring)."""

    def __init__(
        self, workers: int, memory_bytes: int = WORKER_MEMORY_BYTES, state: Mapping[str, Any] | None = None
    ) -> None:
        self.workers = max(1, workers)
        self.memory_bytes = memory_bytes
        self._state = dict(state or {})
        self._pickled_state: bytes | None = None  # pickled when the first worker starts, once
        self._executor: ProcessPoolExecutor | None = None
        self._starting = threading.Lock()  # jobs may be submitted from more than one thread

    @property
    def current(self) -> ProcessPoolExecutor | None:
        """The executor now running, if any (jobs queued on an earlier one were cut short)."""
        return self._executor

    def executor(self) -> ProcessPoolExecutor:
        """The running executor, started if need be."""
        with self._starting:
            if self._executor is None:
                if self._pickled_state is None:
                    self._pickled_state = pickle.dumps(self._state)
                self._executor = ProcessPoolExecutor(
                    max_workers=self.workers,
                    mp_context=multiprocessing.get_context("forkserver"),
                    initializer=_start_worker,
                    initargs=(self.memory_bytes, self._pickled_state, os.getpid()),
                )
            return self._executor

    def submit(self, fn: Callable[..., R], /, *args: Any) -> Future[R]:
        """Run ``fn(*args)`` in a worker."""
        return self.executor().submit(fn, *args)

    def map(self, fn: Callable[[T], R], items: Iterable[T], chunksize: int = 1) -> list[R]:
        """``fn`` over ``items`` in the workers, results in order."""
        return list(self.executor().map(fn, items, chunksize=chunksize))

    def kill(self) -> None:
        """End every worker now, busy or not (the next job starts new ones)."""
        if self._executor is None:
            return
        for process in list(getattr(self._executor, "_processes", {}).values()):
            process.kill()
        self._executor.shutdown(wait=False, cancel_futures=True)
        self._executor = None

    def close(self) -> None:
        """Let the workers finish and stop them."""
        if self._executor is not None:
            self._executor.shutdown(wait=True, cancel_futures=True)
            self._executor = None

    def __enter__(self) -> WorkerPool:
        return self

    def __exit__(self, *_exc: object) -> None:
        self.close()
