"""``newsmon serve``'s loop: a run at start, then one per scheduled time, until stopped.

Why newsmon drives its own loop instead of Prefect's ``flow.serve`` (Prefect 3.8's Runner):

- The Runner creates the first run only at the schedule's first time after the start, one
  interval later, and says nothing about when runs will be.
- Its SIGTERM handler calls ``Runner.stop()`` from inside the running event loop, where that
  call only makes a coroutine that nobody awaits ("coroutine Runner.astop was never
  awaited"), then exits with runs and the server left to atexit handlers; Ctrl-C goes through
  asyncio cancellation, which a busy loop or a blocked API call can hold up for a long time.
- A flow run in the serving process shares its Prefect client, logging workers and memory
  with every later run: one hung API call or leak stays for good.

Here each run is its own process (``newsmon run`` with the same options), in a session of its
own, started at the scheduled times. The serving process imports neither Prefect nor DuckDB's
writer, blocks only in waits that a signal ends, and stops a run by signalling the run's
process group: SIGTERM, then SIGKILL after a grace period. A run stopped so leaves the
database as any killed run does (committed batches kept; the next run marks it crashed). The
runs report to the Prefect server given to them, which keeps their history and logs for the UI.
"""

from __future__ import annotations

import contextlib
import logging
import os
import signal
import subprocess
import threading
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

from newsmon.processes import die_with_parent, stop_group
from newsmon.schedule import ServeSchedule

log = logging.getLogger(__name__)

RUN_STOP_GRACE_S = 8.0  # from SIGTERM to SIGKILL for a run being stopped


@dataclass(frozen=True, slots=True)
class RunOutcome:
    """How one scheduled run ended."""

    number: int  # 1 for the run at start
    started_at: datetime
    seconds: float
    exit_code: int | None  # negative: ended by that signal
    stopped: bool  # stopped by newsmon serve's own stop


class Service:
    """Runs ``command`` at start and at every time of ``schedule`` until :meth:`request_stop`.

    ``before_run()`` is called before each run (it may restart a server) and returns the
    environment changes for it; ``report(outcome, next_at)`` after each (``next_at`` is None
    once stopping). Runs never overlap: times that pass while a run goes on are skipped.
    """

    def __init__(
        self,
        schedule: ServeSchedule,
        command: Sequence[str],
        report: Callable[[RunOutcome, datetime | None], None],
        before_run: Callable[[], Mapping[str, str]] = dict,
        cwd: Path | None = None,
        clock: Callable[[], datetime] = lambda: datetime.now(UTC),
    ) -> None:
        self.schedule = schedule
        self.command = list(command)
        self.report = report
        self.before_run = before_run
        self.cwd = cwd
        self.clock = clock
        self._stop = threading.Event()
        self._stops = 0
        self._run: subprocess.Popen[bytes] | None = None

    @property
    def stopping(self) -> bool:
        """True once a stop was requested."""
        return self._stop.is_set()

    def request_stop(self, signum: int = signal.SIGTERM, _frame: object = None) -> None:
        """Stop: no new run starts, the current one is stopped (SIGTERM, then SIGKILL after
        ``RUN_STOP_GRACE_S``). A second request kills the current run at once. Safe to use as
        a signal handler: it only sets a flag and sends signals."""
        self._stops += 1
        self._stop.set()
        run = self._run
        if self._stops > 1 and run is not None and run.poll() is None:
            with contextlib.suppress(ProcessLookupError, PermissionError):  # already gone
                os.killpg(run.pid, signal.SIGKILL)

    def wait(self, seconds: float) -> bool:
        """Wait up to ``seconds``; True if a stop was requested meanwhile."""
        return self._stop.wait(max(0.0, seconds))

    def serve(self) -> int:
        """Run until stopped; returns how many runs were started."""
        first = self.clock()
        due = first
        number = 0
        while not self.wait((due - self.clock()).total_seconds()):
            number += 1
            outcome = self._run_once(number)
            due = self.schedule.next_after(self.clock(), first)
            self.report(outcome, None if self.stopping else due)
        return number

    def _run_once(self, number: int) -> RunOutcome:
        extra_env = self.before_run()
        started, t0 = self.clock(), time.monotonic()
        run = subprocess.Popen(
            self.command,
            cwd=self.cwd,
            env={**os.environ, **extra_env},
            start_new_session=True,
            preexec_fn=die_with_parent,
        )
        self._run = run
        try:
            while run.poll() is None:
                if self.wait(0.2):
                    break
            stopped = run.poll() is None
            code = stop_group(run, RUN_STOP_GRACE_S)  # also ends whatever the run left in its group
        finally:
            self._run = None
        return RunOutcome(number, started, time.monotonic() - t0, code, stopped)
