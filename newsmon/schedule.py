"""When a run works: its clock (``--now``), the start of a backfill (``--since``), and the
schedule of ``newsmon serve`` (``--interval`` or ``--cron``).

Times without an offset are UTC; a date alone is its midnight.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from newsmon.errors import ConfigError

DEFAULT_SERVE_INTERVAL_S = 1800.0
MIN_SERVE_INTERVAL_S = 5.0
MAX_SERVE_INTERVAL_S = 366 * 86400.0  # longer overflows the clock arithmetic; no monitor waits a year
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
    (default 30 minutes; at least 5 s, at most a year)."""
    if value is None:
        return DEFAULT_SERVE_INTERVAL_S
    match = _DURATION.fullmatch(value)
    if not match:
        raise ConfigError(f"--interval {value!r} is not a duration: use e.g. 90s, 15m, 2h")
    seconds = float(match.group(1)) * _UNITS[match.group(2)]
    if seconds < MIN_SERVE_INTERVAL_S:
        raise ConfigError(f"--interval {value!r} is under 5 s: run less often")
    if seconds > MAX_SERVE_INTERVAL_S:
        raise ConfigError(f"--interval {value!r} is over a year: run more often, or run `newsmon run` by hand")
    return seconds


def serve_schedule(interval: str | None, cron: str | None) -> float | None:
    """The interval in seconds of scheduled runs, or None when a cron expression schedules them
    (one of the two, not both)."""
    if interval and cron:
        raise ConfigError("give --interval or --cron, not both")
    return serve_interval(interval) if not cron else None


@dataclass(frozen=True, slots=True)
class ServeSchedule:
    """When ``newsmon serve`` runs: every ``interval_s`` seconds from the first run, or on the
    UTC times of a cron expression. The first run is always at start."""

    interval_s: float | None = None
    cron: str | None = None

    def next_after(self, now: datetime, first_start: datetime) -> datetime:
        """The first scheduled time after ``now`` (an interval counts from ``first_start``;
        times missed while a run went on are skipped, never made up)."""
        if self.cron is not None:
            from cronsim import CronSim

            return datetime.fromtimestamp(next(CronSim(self.cron, now.astimezone(UTC))).timestamp(), UTC)
        step = timedelta(seconds=self.interval_s or DEFAULT_SERVE_INTERVAL_S)
        done = max(0, int((now - first_start) / step))  # whole intervals already past
        return first_start + step * (done + 1)

    def describe(self) -> str:
        """The schedule in words, e.g. ``every 15m`` or ``on cron '*/15 * * * *' (UTC)``."""
        if self.cron is not None:
            return f"on cron {self.cron!r} (UTC)"
        return f"every {format_duration(self.interval_s or DEFAULT_SERVE_INTERVAL_S)}"


def format_duration(seconds: float) -> str:
    """``90`` → ``1m30s``, ``900`` → ``15m``, ``7200`` → ``2h``: the largest units, no zero parts."""
    rest = round(seconds)
    parts = []
    for unit, size in (("d", 86400), ("h", 3600), ("m", 60), ("s", 1)):
        if rest >= size:
            parts.append(f"{rest // size}{unit}")
            rest %= size
    return "".join(parts) or "0s"


def serve_plan(interval: str | None, cron: str | None) -> ServeSchedule:
    """The schedule of ``newsmon serve`` from ``--interval`` or ``--cron`` (one of the two; the
    default is every 30 minutes); a bad cron expression is a :class:`ConfigError`."""
    seconds = serve_schedule(interval, cron)
    if cron is None:
        return ServeSchedule(interval_s=seconds)
    from cronsim import CronSim, CronSimError

    try:
        CronSim(cron, datetime.now(UTC))
    except CronSimError as err:
        raise ConfigError(f"--cron {cron!r} is not a cron expression ({err}): write e.g. '*/15 * * * *'") from err
    return ServeSchedule(cron=cron)
