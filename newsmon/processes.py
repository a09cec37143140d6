"""Child processes: stopping one with its process group within a deadline, finding every
descendant of this process, and ending this process at once without leaving any behind.

A child that newsmon stops as a whole (a run under ``newsmon serve``, the local Prefect
server) is started in a session of its own (``start_new_session=True``): a terminal's Ctrl-C
then reaches only newsmon, which decides how to stop it, and its own children (worker pools,
a server's subprocesses) are in its process group, so one signal reaches them all.

Such a child is also started with :func:`die_with_parent`: if newsmon itself is killed
(SIGKILL, the OOM killer), the kernel sends the child SIGTERM, so a killed ``newsmon serve``
does not leave its Prefect server or a run behind (Linux; elsewhere a no-op).
"""

from __future__ import annotations

import contextlib
import logging
import os
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path
from typing import NoReturn

log = logging.getLogger(__name__)


def die_with_parent() -> None:
    """For ``subprocess.Popen(preexec_fn=...)``: the child gets SIGTERM when the thread that
    started it ends, as when newsmon is killed (``PR_SET_PDEATHSIG``; Linux only, else nothing).
    Start such children from a thread that lives as long as they should."""
    if not sys.platform.startswith("linux"):
        return
    import ctypes

    parent = os.getppid()
    with contextlib.suppress(OSError, AttributeError):
        ctypes.CDLL(None, use_errno=True).prctl(_PR_SET_PDEATHSIG, signal.SIGTERM)
    if os.getppid() != parent:  # the parent died before the request took effect
        os.kill(os.getpid(), signal.SIGTERM)


_PR_SET_PDEATHSIG = 1


def stop_group(process: subprocess.Popen[bytes], grace_s: float) -> int | None:
    """Stop ``process`` (the leader of its own process group) and everything in its group:
    SIGTERM, up to ``grace_s`` seconds for the leader to exit, then SIGKILL for what is left.
    Returns the leader's exit code (None if it could not be reaped)."""
    pgid = process.pid
    if process.poll() is None:
        _signal_group(pgid, signal.SIGTERM)
        try:
            process.wait(grace_s)
        except subprocess.TimeoutExpired:
            log.warning("process %d did not stop within %.0f s of SIGTERM: killing it", pgid, grace_s)
    _signal_group(pgid, signal.SIGKILL)  # the leader if it hung, and any member that outlived it
    with contextlib.suppress(subprocess.TimeoutExpired):
        process.wait(5)
    return process.poll()


def _signal_group(pgid: int, signum: int) -> None:
    with contextlib.suppress(ProcessLookupError, PermissionError):
        os.killpg(pgid, signum)


def descendants(pid: int | None = None) -> list[int]:
    """The PIDs of every live descendant of ``pid`` (default: this process), children first.

    Read from ``/proc`` (Linux); elsewhere the list is empty.
    """
    root = os.getpid() if pid is None else pid
    children: dict[int, list[int]] = {}
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            fields = stat.read_text().rsplit(")", 1)[1].split()
        except (OSError, IndexError):
            continue  # gone meanwhile
        if fields[0] not in ("Z", "X"):
            children.setdefault(int(fields[1]), []).append(int(stat.parent.name))
    found: list[int] = []
    todo = [root]
    while todo:
        kids = children.get(todo.pop(0), [])
        found.extend(kids)
        todo.extend(kids)
    return found


def end_descendants(grace_s: float = 2.0) -> None:
    """SIGTERM every descendant of this process, then SIGKILL those still alive after ``grace_s``."""
    pids = descendants()
    for pid in pids:
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.kill(pid, signal.SIGTERM)
    deadline = time.monotonic() + grace_s
    while pids and time.monotonic() < deadline:
        time.sleep(0.05)
        pids = [p for p in pids if p in set(descendants())]
    for pid in pids:
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.kill(pid, signal.SIGKILL)


_exiting = threading.Event()


def exiting() -> bool:
    """Whether :func:`exit_now` has begun: what dies from here on dies because newsmon ends."""
    return _exiting.is_set()


def exit_now(code: int) -> NoReturn:
    """End this process at once with ``code``, as a kill would (no cleanup handlers run, so
    nothing can hang on the way out), after flushing its output and ending its descendants.

    What a run leaves behind is then what a killed run leaves: committed batches are kept, an
    open transaction is discarded, the kernel releases the writer lock, and the next run marks
    the run crashed.
    """
    _exiting.set()
    for stream in (sys.stdout, sys.stderr):
        with contextlib.suppress(Exception):
            stream.flush()
    end_descendants()
    os._exit(code)
