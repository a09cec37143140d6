"""Stops (SIGTERM, Ctrl-C) that land where a write is under way, or where they would be lost.

A stop is delivered as an exception raised wherever the main thread is at that moment. Inside
a database write that goes wrong in ways that are not a stop: raised while DuckDB reads a
staged Arrow table, it came back as DuckDB's own error ("reading the schema of the object
registered as 'staged_documents' failed"), and between two statements it left the
transaction aborted, so that the run could not even record that it had stopped. Raised inside
an object's finalizer (an event loop's transport collected), Python prints it as "Exception
ignored" and the run went on as if nothing had been asked.

:func:`signals_held` makes a write one step for stops: a SIGTERM or SIGINT that arrives inside
it is delivered again at its end, to the handler in force (Prefect's, which ends the run as
crashed; Python's, which raises KeyboardInterrupt), so it acts between two writes. The hold
is short (one transaction) and only in the main thread, where signals are handled.

:func:`watch_lost_stops` notes a stop that a finalizer swallowed; the next write (entering
:func:`signals_held`) delivers it again, or the end of the watch if no write follows.
"""

from __future__ import annotations

import logging
import signal
import sys
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from types import FrameType
from typing import Any

log = logging.getLogger(__name__)

HELD = (signal.SIGTERM, signal.SIGINT)
_PRIORITY = [int(s) for s in HELD]


class _State(threading.local):
    depth = 0
    arrived: list[int]
    lost: list[int]

    def __init__(self) -> None:
        self.arrived = []
        self.lost = []


_state = _State()


@contextmanager
def signals_held() -> Iterator[None]:
    """Hold SIGTERM and SIGINT for the block: one that arrives inside it is delivered again as
    the block ends (after a transaction's commit or rollback). A stop lost earlier (see
    :func:`watch_lost_stops`) is delivered on entry. Blocks may nest: the outermost delivers."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return
    _deliver_lost()
    outermost = _state.depth == 0
    previous = {signum: signal.getsignal(signum) for signum in HELD} if outermost else {}
    for signum in previous:
        signal.signal(signum, _hold)
    _state.depth += 1
    try:
        yield
    finally:
        _state.depth -= 1
        for signum, handler in previous.items():
            signal.signal(signum, handler)
        if outermost:
            arrived, _state.arrived = sorted(set(_state.arrived), key=lambda n: _PRIORITY.index(int(n))), []
            for number in arrived:  # SIGTERM first: if its handler raises, it is the stop that counts
                log.debug("delivering signal %d held during a write", number)
                signal.raise_signal(number)


def _hold(signum: int, _frame: FrameType | None) -> None:
    _state.arrived.append(signum)


def _deliver_lost() -> None:
    lost, _state.lost = list(dict.fromkeys(_state.lost)), []
    for signum in lost:
        log.warning("a stop (signal %d) was swallowed where it landed; it takes effect now", signum)
        signal.raise_signal(signum)


@contextmanager
def watch_lost_stops() -> Iterator[None]:
    """For the block, note a stop raised where Python can only print it and go on (a
    finalizer: "Exception ignored in ..."), so that the next write delivers it again."""
    previous: Callable[[Any], object] = sys.unraisablehook

    def hook(unraisable: Any) -> None:
        signum = stop_signal(unraisable.exc_value)
        if signum is not None and threading.current_thread() is threading.main_thread():
            _state.lost.append(signum)
        previous(unraisable)

    sys.unraisablehook = hook
    try:
        yield
    finally:
        sys.unraisablehook = previous
    if threading.current_thread() is threading.main_thread():
        _deliver_lost()  # one lost after the last write acts now


def stop_signal(error: BaseException | None) -> int | None:
    """The signal a stop exception stands for: SIGINT for KeyboardInterrupt, the ``signal`` of
    a termination exception (Prefect's TerminationSignal); None for anything else."""
    if isinstance(error, KeyboardInterrupt):
        return int(signal.SIGINT)
    number = getattr(error, "signal", None)
    if isinstance(error, BaseException) and not isinstance(error, Exception) and isinstance(number, int):
        return number
    return None
