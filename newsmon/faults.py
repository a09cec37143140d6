"""Fault-injection points for crash-safety tests.

A run passes named points, in this order: ``after-fetch`` (feeds polled, nothing stored),
``mid-store`` (inside each batch's transaction), ``before-feed-states``, ``mid-backfill`` (after
each backfill batch), ``mid-retag`` (after each re-tag batch), ``before-register`` (re-tag done,
new topic versions not yet current), ``before-alert``, ``after-alert-store`` (alerts stored, no
files yet) and ``before-notify`` (files written, nothing sent). When the
environment variable ``NEWSMON_FAULT`` names the point, the process kills itself with
SIGKILL right there, the way a power cut or the OOM killer would, so tests can check that
nothing committed is lost and nothing is duplicated. ``NAME@N`` kills at the N-th time the
point is passed (e.g. ``mid-store@3``: during the third batch). ``NAME:interrupt`` raises
:class:`newsmon.errors.Interrupted` there instead, as a signal that stops a database query
does. Unset (always, in normal use), a point costs one dictionary lookup.
"""

from __future__ import annotations

import logging
import os
import signal
from collections import Counter

from newsmon.errors import Interrupted

log = logging.getLogger(__name__)

ENV = "NEWSMON_FAULT"
_passed: Counter[str] = Counter()


def fault_point(name: str) -> None:
    """Die here with SIGKILL if ``NEWSMON_FAULT`` names this point (test use only)."""
    wanted = os.environ.get(ENV)
    if not wanted:
        return
    wanted, _, how = wanted.partition(":")
    target, _, nth = wanted.partition("@")
    if target != name:
        return
    _passed[name] += 1
    if _passed[name] >= (int(nth) if nth.isdigit() else 1):
        if how == "interrupt":
            log.error("fault injection: a database query stopped by a signal at %s", name)
            raise Interrupted()
        log.error("fault injection: killing the process at %s (pass %d)", name, _passed[name])
        os.kill(os.getpid(), signal.SIGKILL)
