"""Notifications of alerts through Apprise URLs configured per topic (``notify.toml``).

Example ``notify.toml``::

    [notify]
    russia-sanctions = ["json://127.0.0.1:8080/hook", "mailto://user:app-password@gmail.com"]
    "*" = ["slack://TokenA/TokenB/TokenC/#news"]        # every alert
    "sources:silent" = ["json://127.0.0.1:8080/feeds"]  # feeds that went silent

    [quiet]                                  # optional: no sends in these hours
    hours = "22:00-07:00"
    timezone = "Europe/Berlin"               # UTC when left out
    urls = ["mailto://user:app-password@gmail.com"]  # only these keep quiet (all when left out)

    [digest]                                 # optional: one message a day to these URLs
    at = "08:00"
    timezone = "Europe/Berlin"
    urls = ["mailto://user:app-password@gmail.com"]  # all URLs when left out

``"*"`` may also be a table that leaves topics out: ``"*" = { urls = [...], except = ["covid-origins"] }``.

Each alert is sent once to each URL configured for its topic (and to ``"*"`` unless it leaves
the topic out) when it is made, or when the URL's quiet hours end, or with its daily digest.
The run records every delivery with its status; a failed one is retried by the next runs (up to
:data:`MAX_ATTEMPTS` attempts), and a delivery that succeeded is never sent again. Each send
has a total deadline (``notify_timeout_s``) and the step :data:`STEP_SENDS` times that: the
deliveries it has not started by then wait for the next run. A notification that fails never
fails the run. URLs are not stored in the database (they often
hold tokens or passwords): deliveries keep a hash of the URL and a redacted label, and the next
run sends only to URLs that are still configured. Nothing is sent anywhere else.
"""

from __future__ import annotations

import logging
import re
import sys
import threading
import time
import tomllib
import warnings
from collections.abc import Callable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from datetime import time as clock_time
from http import HTTPStatus
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from newsmon.errors import ConfigError, connection_failure_kind, failure_hint, root_reason, status_kind
from newsmon.models import Outcome, PendingDelivery
from newsmon.text import read_settings_text, sha256_hex

log = logging.getLogger(__name__)

ALL_ALERTS = "*"
MAX_ATTEMPTS = 8
STEP_SENDS = 4
"""The notify step as a whole stops after this many times ``notify_timeout_s``."""


@dataclass(frozen=True, slots=True)
class Sent:
    """What one send came to: delivered, or not with the failure's class (``kind``: a key of
    ``newsmon.errors.FAILURE_CLASSES``, or ``invalid-url`` or ``notifier``) and one line that says
    what happened and what to do (``error``)."""

    delivered: bool
    kind: str | None = None
    error: str | None = None


DELIVERED = Sent(True)


@dataclass(frozen=True, slots=True)
class _Schedule:
    """What quiet hours and digests share: their time zone and the URLs they cover."""

    zone: str
    urls: tuple[str, ...]

    def applies_to(self, url: str) -> bool:
        """True when this covers ``url`` (every URL when ``urls`` is empty)."""
        return not self.urls or url in self.urls


@dataclass(frozen=True, slots=True)
class QuietHours(_Schedule):
    """Hours of the day (in ``zone``) when nothing is sent to ``urls`` (to every URL when empty);
    deliveries due then wait for the first run after them. ``start`` > ``end`` spans midnight;
    ``start`` == ``end`` is all day (written ``00:00-24:00``)."""

    start: clock_time
    end: clock_time

    def holds(self, now: datetime) -> bool:
        """True when ``now`` falls within the quiet hours."""
        local = now.astimezone(ZoneInfo(self.zone)).time().replace(tzinfo=None)
        if self.start == self.end:  # "00:00-24:00": all day
            return True
        if self.start <= self.end:
            return self.start <= local < self.end
        return local >= self.start or local < self.end

    def describe(self) -> str:
        """``22:00-07:00 Europe/Berlin``."""
        return f"{self.start:%H:%M}-{self.end:%H:%M} {self.zone}"


@dataclass(frozen=True, slots=True)
class DigestSchedule(_Schedule):
    """A daily digest: alerts to ``urls`` (every URL when empty) wait for the first run at or
    after ``at`` (in ``zone``) and go out together, as one message."""

    at: clock_time

    def last_time(self, now: datetime) -> datetime:
        """The latest digest time at or before ``now`` (UTC). On the day clocks change, a time that
        does not exist is read as the same time before the change, one that happens twice as
        its first occurrence; instants are compared, not wall-clock readings."""
        day = now.astimezone(ZoneInfo(self.zone)).date()
        today = self._on(day)
        return today if today <= now.astimezone(UTC) else self._on(day - timedelta(days=1))

    def next_time(self, now: datetime) -> datetime:
        """The first digest time after ``now`` (UTC)."""
        day = self.last_time(now).astimezone(ZoneInfo(self.zone)).date() + timedelta(days=1)
        later = self._on(day)
        return later if later > now.astimezone(UTC) else self._on(day + timedelta(days=1))

    def _on(self, day: date) -> datetime:
        """The digest time of a local day, as a UTC instant."""
        return datetime.combine(day, self.at, ZoneInfo(self.zone)).astimezone(UTC)

    def due(self, made_at: datetime | None, now: datetime) -> bool:
        """True when an alert made at ``made_at`` is due at ``now``: it was made before the
        latest digest time (an alert made after it waits for the next)."""
        return made_at is None or made_at < self.last_time(now)

    def describe(self) -> str:
        """``08:00 Europe/Berlin``."""
        return f"{self.at:%H:%M} {self.zone}"


@dataclass(frozen=True, slots=True)
class NotifyConfig:
    """Where each topic's alerts go: topic (or ``"*"``) -> Apprise URLs; the topics ``"*"``
    leaves out; the quiet hours."""

    routes: Mapping[str, tuple[str, ...]] = field(default_factory=dict)
    path: Path | None = None
    all_except: frozenset[str] = frozenset()
    quiet: QuietHours | None = None
    digest: DigestSchedule | None = None

    def urls_for(self, topic: str) -> tuple[str, ...]:
        """The URLs an alert of ``topic`` goes to (its own, then ``"*"`` unless it leaves the
        topic out), each once."""
        every = () if topic in self.all_except else self.routes.get(ALL_ALERTS, ())
        urls = [*self.routes.get(topic, ()), *every]
        return tuple(dict.fromkeys(urls))

    def is_quiet(self, url: str, now: datetime) -> bool:
        """True when nothing may be sent to ``url`` at ``now`` (quiet hours)."""
        return self.quiet is not None and self.quiet.applies_to(url) and self.quiet.holds(now)

    def urls_by_key(self) -> dict[str, str]:
        """Every configured URL by its :func:`target_key`."""
        return {target_key(url): url for urls in self.routes.values() for url in urls}


def load_notify_config(path: Path | None) -> NotifyConfig:
    """Read the ``[notify]`` table of ``path`` (None: no notifications).

    Raises :class:`ConfigError` for a missing or invalid file, a value that is not a list of
    strings, a string that is not a URL, or a ``[quiet]`` or ``[digest]`` URL that ``[notify]``
    does not list (the schedule would silently apply to no URL: alerts would go out at night).
    """
    if path is None:
        return NotifyConfig()
    try:
        data = tomllib.loads(read_settings_text(path, "notify file"))
    except OSError as err:
        raise ConfigError(
            f"cannot read notify file {path} ({err.strerror}):"
            " check the notify setting (notify = in newsmon.toml, or NEWSMON_NOTIFY) or the file"
        ) from err
    except tomllib.TOMLDecodeError as err:
        raise ConfigError(f"notify file {path} is not valid TOML ({err}): fix it") from err
    unknown = sorted(set(data) - {"notify", "quiet", "digest"})
    if unknown:
        raise ConfigError(
            f"notify file {path}: unknown table(s) {', '.join(unknown)}: use [notify], [quiet] or [digest]"
        )
    table = data.get("notify", {})
    if not isinstance(table, dict):
        raise ConfigError(f"notify file {path}: [notify] must be a table of topic = [URLs]")
    routes: dict[str, tuple[str, ...]] = {}
    all_except: frozenset[str] = frozenset()
    for topic, urls in table.items():
        if topic == ALL_ALERTS and isinstance(urls, dict):
            urls, all_except = _every_table(path, urls)
        routes[topic] = _check_urls(path, topic, urls)
    config = NotifyConfig(
        routes, path, all_except, _quiet_hours(path, data.get("quiet")), _digest_schedule(path, data.get("digest"))
    )
    _check_schedule_urls(config)
    return config


def _check_schedule_urls(config: NotifyConfig) -> None:
    """Every URL of ``[quiet]`` and ``[digest]`` is one that ``[notify]`` lists, as written there."""
    configured = set(config.urls_by_key().values())
    for name, schedule in (("quiet", config.quiet), ("digest", config.digest)):
        for n, url in enumerate(schedule.urls if schedule is not None else (), start=1):
            if url not in configured:
                raise ConfigError(
                    f"notify file {config.path}: [{name}] urls: URL {n} ({redact(url)}) is not one of the URLs"
                    " listed in [notify]: write it exactly as it is written there"
                )


def _every_table(path: Path, table: dict[str, Any]) -> tuple[object, frozenset[str]]:
    """``"*" = { urls = [...], except = [topics] }``: its URLs and the topics it leaves out."""
    unknown = sorted(set(table) - {"urls", "except"})
    if unknown or "urls" not in table:
        extra = f" (not {', '.join(unknown)})" if unknown else ""
        raise ConfigError(
            f'notify file {path}: "*" as a table takes urls and except{extra},'
            ' e.g. "*" = { urls = ["json://host/hook"], except = ["covid-origins"] }'
        )
    left_out = table.get("except", [])
    if not isinstance(left_out, list) or not all(isinstance(t, str) for t in left_out):
        raise ConfigError(
            f'notify file {path}: "*".except must be a list of topic ids, e.g. except = ["covid-origins"]'
        )
    return table["urls"], frozenset(left_out)


_AT = re.compile(r"^\s*(\d{1,2}):(\d{2})\s*$")


def _digest_schedule(path: Path, table: object) -> DigestSchedule | None:
    """The ``[digest]`` table: ``at = "08:00"``, ``timezone`` (UTC) and ``urls`` (all)."""
    if table is None:
        return None
    example = 'e.g. [digest] at = "08:00", timezone = "Europe/Berlin"'
    text, zone, urls = _schedule_table(path, "digest", "at", table, example)
    found = _AT.match(text)
    hour, minute = (int(found.group(1)), int(found.group(2))) if found else (99, 0)
    if hour > 23 or minute > 59:
        raise ConfigError(f"notify file {path}: [digest] at {text!r} is not a time HH:MM, {example}")
    return DigestSchedule(zone, urls, clock_time(hour, minute))


def _schedule_table(path: Path, name: str, key: str, table: object, example: str) -> tuple[str, str, tuple[str, ...]]:
    """A ``[quiet]`` or ``[digest]`` table: its time ``key`` (a string), ``timezone`` (a zone
    that exists; UTC when left out) and ``urls`` (every URL when left out, never an empty list),
    and nothing else."""
    if isinstance(table, list):
        raise ConfigError(f"notify file {path}: [[{name}]] is a list of tables: write one table, [{name}], {example}")
    if not isinstance(table, dict) or not isinstance(table.get(key), str):
        raise ConfigError(f"notify file {path}: [{name}] needs {key}, {example}")
    unknown = sorted(set(table) - {key, "timezone", "urls"})
    if unknown:
        raise ConfigError(f"notify file {path}: [{name}] takes {key}, timezone and urls, not {', '.join(unknown)}")
    urls = _check_urls(path, f"[{name}] urls", table.get("urls", []))
    if "urls" in table and not urls:
        raise ConfigError(f"notify file {path}: [{name}] urls = [] names no URL: leave urls out to mean every URL")
    return table[key], _zone(path, f"[{name}]", table.get("timezone", "UTC")), urls


def _zone(path: Path, where: str, zone: object) -> str:
    """A time zone name that exists (``Europe/Berlin``, ``UTC``)."""
    try:
        ZoneInfo(zone)  # type: ignore[arg-type]
    except (ZoneInfoNotFoundError, ValueError, TypeError) as err:
        raise ConfigError(
            f"notify file {path}: {where} timezone {zone!r} is not a time zone name: use one like Europe/Berlin or UTC"
        ) from err
    return str(zone)


_HOURS = re.compile(r"^\s*(\d{1,2}):(\d{2})\s*-\s*(\d{1,2}):(\d{2})\s*$")


def _quiet_hours(path: Path, table: object) -> QuietHours | None:
    """The ``[quiet]`` table: ``hours = "22:00-07:00"``, ``timezone`` (UTC) and ``urls`` (all)."""
    if table is None:
        return None
    example = 'e.g. [quiet] hours = "22:00-07:00", timezone = "Europe/Berlin"'
    text, zone, urls = _schedule_table(path, "quiet", "hours", table, example)
    found = _HOURS.match(text)
    numbers = [int(n) for n in found.groups()] if found else [99, 0, 99, 0]
    until_midnight = numbers[2:] == [24, 0]  # "22:00-24:00", "00:00-24:00" (all day)
    end_ok = numbers[2] <= 23 or until_midnight
    hours_ok = numbers[0] <= 23 and end_ok and max(numbers[1], numbers[3]) <= 59 and numbers[:2] != numbers[2:]
    if not hours_ok:
        raise ConfigError(f"notify file {path}: [quiet] hours {text!r} is not a span HH:MM-HH:MM, {example}")
    return QuietHours(zone, urls, clock_time(numbers[0], numbers[1]), clock_time(numbers[2] % 24, numbers[3]))


def _check_urls(path: Path, topic: str, urls: object) -> tuple[str, ...]:
    if isinstance(urls, str) or not isinstance(urls, list):
        key = f'"{topic}"' if topic == ALL_ALERTS or ":" in topic else topic
        example = f'{key} = ["json://host/hook"]' if not topic.startswith("[") else 'urls = ["json://host/hook"]'
        raise ConfigError(f"notify file {path}: {key} must be a list of URLs, e.g. {example}")
    for url in urls:
        if not isinstance(url, str) or "://" not in url or url != url.strip():
            raise ConfigError(f"notify file {path}: {topic}: {url!r} is not an Apprise URL (scheme://...)")
    return tuple(urls)


def target_key(url: str) -> str:
    """A stable key for a URL that does not reveal it (URLs often hold tokens)."""
    return sha256_hex(f"newsmon-notify\x00{url}")[:32]


def redact(url: str) -> str:
    """A label for a URL that is safe to store and log: its scheme, its host when that looks like
    a host name or address (many services put tokens there), and a short key to tell URLs apart,
    e.g. ``json://127.0.0.1:8080/… [3f2a9c1e]``."""
    scheme = url.split("://", 1)[0]
    try:
        parts = urlsplit(url)
        host = parts.hostname or ""
        port = f":{parts.port}" if parts.port else ""
    except ValueError:
        host, port = "", ""
    if not (host == "localhost" or "." in host or ":" in host):
        host, port = "…", ""
    return f"{scheme}://{host}{port}/… [{target_key(url)[:8]}]"


def send(url: str, title: str, body: str, timeout_s: float) -> Sent:
    """Send one notification with Apprise, waiting at most ``timeout_s`` for it; never raises.

    Apprise's own timeouts bound each connection and each read, not the whole answer: a receiver
    that trickles its answer would hold the run for as long as it trickles. So the request runs in
    a daemon thread, and past ``timeout_s`` the delivery counts as failed (the next run retries it)
    and the thread is left to end on its own, its result unused.
    """
    try:
        app = _apprise_for(url, timeout_s)
    except Exception as err:  # a notifier bug must never stop the pipeline
        return _bug(err)
    if app is None:
        return INVALID_URL
    return _within(timeout_s, lambda: _notify(app, title, body), target_key(url))


def _apprise_for(url: str, timeout_s: float) -> Any:
    """An Apprise object that sends to ``url``, or None if Apprise cannot read the URL.

    Apprise loads its plugins on first use, so this runs in the calling thread, before any
    deadline starts (one plugin imports the deprecated imghdr, whose warning is silenced here).
    A message longer than the service takes (Telegram's 4,096 characters, Discord's 2,000) is
    sent in parts, unless the URL sets Apprise's ``overflow=`` itself. Apprise's own connect and
    read timeouts (4 s for most services) are raised to ``timeout_s``, unless the URL sets them
    (``cto=``, ``rto=``): a receiver that answers in 6 s must not count as failed and be sent the
    alert again at every run.
    """
    import apprise
    from apprise.common import OverflowMode

    app = apprise.Apprise()
    with _captured(), warnings.catch_warnings():
        warnings.simplefilter("ignore", DeprecationWarning)
        if not app.add(url):
            return None
    query = url.partition("?")[2].lower()
    for plugin in app:
        if "overflow=" not in query:  # a message longer than the service takes goes in parts, never refused
            plugin.overflow_mode = OverflowMode.SPLIT
        if "cto=" not in query:
            plugin.socket_connect_timeout = max(float(plugin.socket_connect_timeout or 0), timeout_s)
        if "rto=" not in query:
            plugin.socket_read_timeout = max(float(plugin.socket_read_timeout or 0), timeout_s)
    return app


def _notify(app: Any, title: str, body: str) -> Sent:
    """Send through ``app``; never raises. The error is Apprise's last warning."""
    import apprise

    try:
        with _captured() as captured:
            ok = bool(app.notify(body=body, title=title, body_format=apprise.NotifyFormat.MARKDOWN))
    except Exception as err:  # a notifier bug must never stop the pipeline
        return _bug(err)
    return DELIVERED if ok else captured.failure()


def _within(timeout_s: float, call: Callable[[], Sent], target: str) -> Sent:
    """``call()`` (which never raises) run in a daemon thread and waited for at most ``timeout_s``;
    past that, a failure, and the thread is left to end on its own (it is kept in
    :data:`_SENDING` under ``target``, so that no other send to that URL starts while it runs)."""
    result: list[Sent] = []
    worker = threading.Thread(target=lambda: result.append(call()), name="newsmon-notify", daemon=True)
    worker.start()
    worker.join(timeout_s)
    if worker.is_alive() or not result:
        _SENDING[target] = worker
        return _failure("timeout", f"no answer within {_seconds(timeout_s)} s (notify_timeout_s)")
    return result[0]


_SENDING: dict[str, threading.Thread] = {}
"""Sends given up on at their deadline, by target key, while their threads still run (a process
that runs many runs, ``newsmon serve``, would otherwise gain a thread stuck on a slow receiver
at every run)."""


def still_sending(target: str) -> bool:
    """Whether a send to the URL with this :func:`target_key`, given up on earlier, still runs."""
    worker = _SENDING.get(target)
    if worker is not None and not worker.is_alive():
        _SENDING.pop(target, None)
        return False
    return worker is not None


def _bug(err: Exception) -> Sent:
    """The failure of a send that raised ``err`` inside Apprise."""
    return Sent(False, "notifier", " ".join(f"{type(err).__name__}: {err}".split())[:500])


def _seconds(value: float) -> str:
    """A duration in seconds as a user reads it: ``30``, ``0.5``, ``12.3``."""
    return f"{round(value, 1):g}"


_ADVICE = {"timeout": "the receiver is slow or hangs: check that it is up"}
"""What to do about a failed notification where the hint of ``newsmon.errors.FAILURE_CLASSES``
(written for feeds and pages) does not fit."""
_APPRISE_TIMEOUT = "no answer within the connect or read timeout (notify_timeout_s, or cto=, rto= in the URL)"
_STATUS = re.compile(r"\berror=([1-5]\d\d)\b")  # how Apprise's HTTP plugins give the status of a failed request


def _failure(kind: str, detail: str = "") -> Sent:
    """A failed notification of class ``kind`` (a key of ``newsmon.errors.FAILURE_CLASSES``), with
    one line: the class, what happened if the class does not say it all, and what to do."""
    return Sent(
        False, kind, ": ".join(part for part in (kind, detail, _ADVICE.get(kind) or failure_hint(kind)) if part)
    )


def _connection_failure(err: OSError) -> Sent:
    """The failure of a request that raised ``err`` (requests' errors are OSErrors)."""
    kind = connection_failure_kind(err)
    if kind == "timeout":
        return _failure(kind, _APPRISE_TIMEOUT)
    return _failure(kind, root_reason(err) if kind == "connect" else "")


def _status_failure(status: int) -> Sent:
    """The failure of a request that the receiver answered with HTTP ``status``."""
    try:
        phrase = f" {HTTPStatus(status).phrase}"
    except ValueError:
        phrase = ""
    return _failure(status_kind(status), f"HTTP {status}{phrase}")


@dataclass(slots=True)
class _Captured:
    """What Apprise logged at WARNING or above in one thread while it sent, and the error it was
    handling then, if any."""

    messages: list[str] = field(default_factory=list)
    raised: BaseException | None = None

    def failure(self) -> Sent:
        """The failure, classified where it can be (a connection that failed, or an HTTP status in
        Apprise's ``error=NNN``), else as Apprise last told it."""
        if isinstance(self.raised, OSError):
            return _connection_failure(self.raised)
        statuses = [m.group(1) for m in map(_STATUS.search, self.messages) if m]
        if statuses:
            return _status_failure(int(statuses[-1]))
        return Sent(False, "notifier", self.messages[-1][:500] if self.messages else "delivery failed")


class _AppriseLines(logging.Filter):
    """Keeps what Apprise logs in a thread that is sending out of the log (newsmon logs one line
    per failure instead) and hands it to that thread's :class:`_Captured`. Apprise's lines from
    other threads pass, so threads that send at the same time never see each other's lines."""

    def __init__(self) -> None:
        super().__init__()
        self.threads: dict[int, _Captured] = {}

    def filter(self, record: logging.LogRecord) -> bool:
        """False (dropped) for a sending thread's line, which is captured if it is a warning or worse."""
        captured = self.threads.get(threading.get_ident())
        if captured is None:
            return True
        if record.levelno >= logging.WARNING:
            captured.messages.append(record.getMessage())
            captured.raised = sys.exc_info()[1] or captured.raised  # Apprise logs in its except blocks
        return False


_APPRISE_LINES = _AppriseLines()


@contextmanager
def _captured() -> Iterator[_Captured]:
    """Capture what Apprise logs in this thread for the duration of the block."""
    own = logging.getLogger("apprise")
    if _APPRISE_LINES not in own.filters:
        own.addFilter(_APPRISE_LINES)
        if own.getEffectiveLevel() > logging.WARNING:  # its warnings say what failed
            own.setLevel(logging.WARNING)
    captured = _Captured()
    thread = threading.get_ident()
    _APPRISE_LINES.threads[thread] = captured
    try:
        yield captured
    finally:
        del _APPRISE_LINES.threads[thread]


Sender = Callable[[str, str, str, float], Sent]  # url, title, body, deadline (s)
INVALID_URL = Sent(False, "invalid-url", "invalid-url: not a valid Apprise URL: fix it in the notify file")


def deliver_all(
    pending: Sequence[PendingDelivery],
    config: NotifyConfig,
    on_attempt: Callable[[PendingDelivery], None],
    on_outcome: Callable[[PendingDelivery, Outcome], None],
    *,
    timeout_s: float,
    sender: Sender = send,
    max_attempts: int = MAX_ATTEMPTS,
    now: datetime | None = None,
) -> dict[str, int]:
    """Attempt the pending deliveries in order; report each attempt before it starts and each outcome.

    ``on_attempt`` lets the caller record the attempt first, so that a crash during the
    request is retried by the next run rather than forgotten. Each send waits at most
    ``timeout_s``, and the whole step at most :data:`STEP_SENDS` times that: a send starts only
    with its whole ``timeout_s`` left. Once a URL has not answered in time, its other
    deliveries wait for the next run (as do those to a URL whose earlier send still runs), so
    that one slow receiver does not hold up the others. At ``now`` (the run's clock),
    deliveries to a URL in its quiet hours wait, and those to a URL that gets a daily digest
    wait for its time, then go out together as one message. What is left is left as it is, no
    attempt counted. Returns counts per status (sent, failed, gave-up, dropped) and, for the
    deliveries left for a later run, per reason (see :func:`left_reasons`).
    """
    counts: dict[str, int] = {}
    step_s = STEP_SENDS * timeout_s
    deadline = time.monotonic() + step_s
    slow: set[str] = set()  # URLs (target keys) that did not answer in time
    urls = config.urls_by_key()
    units, quiet, scheduled = _sends(pending, config, urls, now)
    waiting = late = 0
    for done, (unit, digest) in enumerate(units):
        target = unit[0].target
        if target in slow or still_sending(target):
            slow.add(target)
            waiting += len(unit)
            continue
        if deadline - time.monotonic() < timeout_s:
            late = sum(len(u) for u, _digest in units[done:])
            break
        for delivery, outcome in _deliver_unit(unit, urls, on_attempt, sender, max_attempts, timeout_s, digest):
            on_outcome(delivery, outcome)
            counts[outcome.status] = counts.get(outcome.status, 0) + 1
            if outcome.kind == "timeout":
                slow.add(target)
    left = left_reasons(config, now, step_s, waiting=waiting, late=late, quiet=quiet, scheduled=scheduled)
    for reason, n in left.items():  # a receiver too slow, or the step's deadline, is worth a warning
        log.log(logging.WARNING if reason.startswith("left") else logging.INFO, "notify: %d %s", n, reason)
    return {**counts, **left}


def left_reasons(
    config: NotifyConfig, now: datetime | None, step_s: float, *, waiting: int, late: int, quiet: int, scheduled: int
) -> dict[str, int]:
    """The deliveries left for a later run, by why: ``{"left: the step's deadline …": n, …}``."""
    out: dict[str, int] = {}
    if late:
        out[
            f"left for the next run: the notify step reached its deadline ({_seconds(step_s)} s,"
            f" {STEP_SENDS} × notify_timeout_s)"
        ] = late
    if waiting:
        out["left for the next run: their receiver did not answer in time"] = waiting
    if quiet and config.quiet is not None:
        out[f"held for quiet hours ({config.quiet.describe()})"] = quiet
    if scheduled and config.digest is not None and now is not None:
        when = f"{config.digest.next_time(now):%Y-%m-%d %H:%M} UTC"
        out[f"waiting for the daily digest at {config.digest.describe()} (next {when})"] = scheduled
    return out


def _sends(
    pending: Sequence[PendingDelivery], config: NotifyConfig, urls: Mapping[str, str], now: datetime | None
) -> tuple[list[tuple[list[PendingDelivery], bool]], int, int]:
    """The sends to make, in order: one delivery each, or a URL's whole daily digest (at its
    first delivery's place), each with whether it is a digest; and how many deliveries wait for
    quiet hours or for a digest time."""
    units: list[tuple[list[PendingDelivery], bool]] = []
    digests: dict[str, list[PendingDelivery]] = {}
    quiet = scheduled = 0
    for delivery in pending:
        url = urls.get(delivery.target)
        if now is None or url is None:  # no clock (a direct call), or no longer configured (dropped)
            units.append(([delivery], False))
            continue
        digest = config.digest if config.digest is not None and config.digest.applies_to(url) else None
        if digest is not None and not digest.due(delivery.created_at, now):
            scheduled += 1  # waits for the digest's time, quiet hours or not
        elif config.is_quiet(url, now):
            quiet += 1
        elif digest is None:
            units.append(([delivery], False))
        elif delivery.target in digests:
            digests[delivery.target].append(delivery)
        else:
            digests[delivery.target] = [delivery]
            units.append((digests[delivery.target], True))
    return units, quiet, scheduled


def _deliver_unit(
    unit: Sequence[PendingDelivery],
    urls: Mapping[str, str],
    on_attempt: Callable[[PendingDelivery], None],
    sender: Sender,
    max_attempts: int,
    timeout_s: float,
    digest: bool = False,
) -> list[tuple[PendingDelivery, Outcome]]:
    """Send one delivery, or a digest of several to one URL as one message (or drop them if the
    URL is no longer configured); each delivery's outcome, logged."""
    first = unit[0]
    url = urls.get(first.target)
    if url is None:
        for delivery in unit:
            log.info(
                "delivery of alert %s of %s to %s dropped: no longer configured",
                delivery.alert_id, delivery.topic, delivery.label,
            )  # fmt: skip
        return [(d, Outcome("dropped", "URL no longer configured")) for d in unit]
    for delivery in unit:
        on_attempt(delivery)
    title, body = digest_message(unit) if digest else (first.title, first.body)
    sent = sender(url, title, body, timeout_s)
    ok, error = sent.delivered, sent.error
    if len(unit) > 1:
        if ok:
            log.info("digest of %d alerts sent to %s", len(unit), first.label)
        else:
            log.warning("digest of %d alerts not delivered to %s (each is retried next run): %s", len(unit),
                        first.label, error)  # fmt: skip
    outcomes = []
    for delivery in unit:
        if ok:
            if len(unit) == 1:
                log.info("alert %s of %s sent to %s", delivery.alert_id, delivery.topic, delivery.label)
            outcomes.append((delivery, Outcome("sent")))
            continue
        final = delivery.attempts + 1 >= max_attempts or sent.kind == INVALID_URL.kind  # a bad URL stays bad
        if len(unit) == 1 or final:
            log.warning(
                "alert %s of %s not delivered to %s (attempt %d%s): %s",
                delivery.alert_id, delivery.topic, delivery.label, delivery.attempts + 1,
                ", giving up" if final else ", will retry", error,
            )  # fmt: skip
        outcomes.append((delivery, Outcome("gave-up" if final else "failed", error, sent.kind)))
    return outcomes


def digest_message(unit: Sequence[PendingDelivery]) -> tuple[str, str]:
    """The title and body of one message carrying several alerts: each alert's own text (cut
    at :data:`DIGEST_SECTION_CHARS`, its alert id and digest file kept), oldest first, between
    rules."""
    topics = ", ".join(sorted({d.topic for d in unit}))
    title = f"newsmon digest: {len(unit)} alert{'s' if len(unit) != 1 else ''} ({topics})"
    return title, "\n\n---\n\n".join(f"## {d.title}\n\n{_section(d.body)}" for d in unit)


DIGEST_SECTION_CHARS = 3000
_FOOTER = "\n\n---\nnewsmon alert `"


def _section(body: str, limit: int = DIGEST_SECTION_CHARS) -> str:
    """An alert's text for a digest: at most ``limit`` characters of its Markdown, cut at a line,
    then its footer (alert id, digest file)."""
    text, sep, footer = body.rpartition(_FOOTER)
    if not sep:
        text, footer = body, ""
    if len(text) > limit:
        cut = text.rfind("\n", 0, limit)
        text = text[: cut if cut > 0 else limit].rstrip() + "\n\n… (cut here: the whole alert is in its digest file)"
    return text + (sep + footer if sep else "")


def unknown_routes(config: NotifyConfig, topics: Sequence[str]) -> list[str]:
    """Keys of the ``[notify]`` table that match no topic (likely typos)."""
    from newsmon.alerts import SOURCES_TOPIC

    known = {*topics, ALL_ALERTS, SOURCES_TOPIC}
    keys = [k for k in config.routes if k not in known]
    keys += [f'"*".except: {t}' for t in sorted(config.all_except) if t not in known]
    return sorted(keys)
