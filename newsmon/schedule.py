"""When a run works: its clock (``--now``), the start of a backfill (``--since``), and the
schedule of ``newsmon serve`` (``--interval`` or ``--cron``).

Times without an offset are UTC; a date alone is its midnight.
"""

from __future__ import annotations

import re
from datetime import UTC, datetime

from newsmon.errors import ConfigError

DEFAULT_SERVE_INTERVAL_S = 1800.0
MIN_SERVE_INTERVAL_S = 5.0
_DURATION = re.compile(r"\s*(\d+(?:\.\d+)?)\s*([smhd]?)\s*")
_UNITS = {"": 1, "s": 1, "m": 60, "h": 3600, "d": 86400}


def parse_time(value: str, option: str = "--now") -> datetime:
    """An ISO 8601 date or time given to ``option``, in UTC (without an offset it is UTC, a date
    alone is its midnight); anything else is a :class:`ConfigError`."""
    try:
        parsed = datetime.fromisoformat(value.strip())
    except ValueError as err:
        raise ConfigError(f"{option} {value!r} is not an ISO 8601 time: write e.g. 2023-05-18T23:59") from err
    return parsed.replace(tzinfo=UTC) if parsed.tzinfo is None else parsed.astimezone(UTC)


def backfill_start(since: str | None, clock: datetime | None = None) -> datetime | None:
    """The start of a backfill (``--since``), or None without one; it may not be later than the
    run's clock (``clock``, else now)."""
    if since is None:
        return None
    start = parse_time(since, "--since")
    if start > (clock or datetime.now(UTC)):
        raise ConfigError(f"--since {since} is later than the run's clock: give a date in the past")
    return start


def serve_interval(value: str | None) -> float:
    """Seconds between scheduled runs from ``90s``, ``15m``, ``2h``, ``1d`` or plain seconds
    (default 30 minutes; at least 5 s)."""
    if value is None:
        return DEFAULT_SERVE_INTERVAL_S
    match = _DURATION.fullmatch(value)
    if not match:
        raise ConfigError(f"--interval {value!r} is not a duration: use e.g. 90s, 15m, 2h")
    seconds = float(match.group(1)) * _UNITS[match.group(2)]
    if seconds < MIN_SERVE_INTERVAL_S:
        raise ConfigError(f"--interval {value!r} is under 5 s: run less often")
    return seconds


def serve_schedule(interval: str | None, cron: str | None) -> float | None:
    """The interval in seconds of scheduled runs, or None when a cron expression schedules them
    (one of the two, not both)."""
    if interval and cron:
        raise ConfigError("give --interval or --cron, not both")
    return serve_interval(interval) if not cron else None
