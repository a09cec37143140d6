"""Notifications of alerts through Apprise URLs configured per topic (``notify.toml``).

Example ``notify.toml``::

    [notify]
    russia-sanctions = ["json://127.0.0.1:8080/hook", "mailto://user:app-password@gmail.com"]
    "*" = ["slack://TokenA/TokenB/TokenC/#news"]        # every alert
    "sources:silent" = ["json://127.0.0.1:8080/feeds"]  # feeds that went silent

Each alert is sent once to each URL configured for its topic (and to ``"*"``) when it is made.
The run records every delivery with its status; a failed one is retried by the next runs (up to
:data:`MAX_ATTEMPTS` attempts), and a delivery that succeeded is never sent again. A
notification that fails never fails the run. URLs are not stored in the database (they often
hold tokens or passwords): deliveries keep a hash of the URL and a redacted label, and the next
run sends only to URLs that are still configured. Nothing is sent anywhere else.
"""

from __future__ import annotations

import logging
import os
import tomllib
import warnings
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import urlsplit

from newsmon.config import DEFAULT_NOTIFY_FILE
from newsmon.errors import ConfigError
from newsmon.models import Outcome, PendingDelivery
from newsmon.text import read_settings_text, sha256_hex

log = logging.getLogger(__name__)

NOTIFY_ENV = "NEWSMON_NOTIFY"
ALL_ALERTS = "*"
MAX_ATTEMPTS = 8


@dataclass(frozen=True, slots=True)
class NotifyConfig:
    """Where each topic's alerts go: topic (or ``"*"``) -> Apprise URLs."""

    routes: Mapping[str, tuple[str, ...]] = field(default_factory=dict)
    path: Path | None = None

    def urls_for(self, topic: str) -> tuple[str, ...]:
        """The URLs an alert of ``topic`` goes to (its own, then ``"*"``), each once."""
        urls = [*self.routes.get(topic, ()), *self.routes.get(ALL_ALERTS, ())]
        return tuple(dict.fromkeys(urls))

    def url_for_key(self, key: str) -> str | None:
        """The configured URL with this :func:`target_key`, if it is still configured."""
        for urls in self.routes.values():
            for url in urls:
                if target_key(url) == key:
                    return url
        return None


def notify_config_path(env: Mapping[str, str] | None = None) -> Path | None:
    """The notify file in force: ``$NEWSMON_NOTIFY``, else ``./notify.toml`` if present, else None."""
    env = os.environ if env is None else env
    value = env.get(NOTIFY_ENV, "").strip()
    if value:
        return Path(value)
    return DEFAULT_NOTIFY_FILE if DEFAULT_NOTIFY_FILE.is_file() else None


def load_notify_config(path: Path | None) -> NotifyConfig:
    """Read the ``[notify]`` table of ``path`` (None: no notifications).

    Raises :class:`ConfigError` for a missing or invalid file, a value that is not a list of
    strings, or a string that is not a URL.
    """
    if path is None:
        return NotifyConfig()
    try:
        data = tomllib.loads(read_settings_text(path, "notify file"))
    except OSError as err:
        raise ConfigError(f"cannot read notify file {path} ({err.strerror}): check {NOTIFY_ENV} or the path") from err
    except tomllib.TOMLDecodeError as err:
        raise ConfigError(f"notify file {path} is not valid TOML ({err}): fix it") from err
    table = data.get("notify", {})
    if not isinstance(table, dict):
        raise ConfigError(f"notify file {path}: [notify] must be a table of topic = [URLs]")
    routes: dict[str, tuple[str, ...]] = {}
    for topic, urls in table.items():
        routes[topic] = _check_urls(path, topic, urls)
    return NotifyConfig(routes, path)


def _check_urls(path: Path, topic: str, urls: object) -> tuple[str, ...]:
    if isinstance(urls, str) or not isinstance(urls, list):
        raise ConfigError(f'notify file {path}: {topic} must be a list of URLs, e.g. {topic} = ["json://host/hook"]')
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


def send(url: str, title: str, body: str) -> tuple[bool, str | None]:
    """Send one notification with Apprise; never raises. Returns (delivered, error)."""
    try:
        with warnings.catch_warnings():  # apprise's plugins import the deprecated imghdr
            warnings.simplefilter("ignore", DeprecationWarning)
            return _send(url, title, body)
    except Exception as err:  # a notifier bug must never stop the pipeline
        return False, f"{type(err).__name__}: {err}"[:500]


def _send(url: str, title: str, body: str) -> tuple[bool, str | None]:
    import apprise

    app = apprise.Apprise()
    own = logging.getLogger("apprise")
    propagate, own.propagate = own.propagate, False  # its lines are captured: newsmon logs one per failure
    try:
        with apprise.LogCapture(level=logging.WARNING, fmt="%(message)s") as captured:
            if not app.add(url):
                return False, INVALID_URL
            ok = bool(app.notify(body=body, title=title, body_format=apprise.NotifyFormat.MARKDOWN))
            messages = captured.getvalue().strip().splitlines()
    finally:
        own.propagate = propagate
    return ok, None if ok else (messages[-1][:500] if messages else "delivery failed")


Sender = Callable[[str, str, str], tuple[bool, str | None]]
INVALID_URL = "not a valid Apprise URL: fix it in the notify file"


def deliver_all(
    pending: Iterable[PendingDelivery],
    config: NotifyConfig,
    on_attempt: Callable[[PendingDelivery], None],
    on_outcome: Callable[[PendingDelivery, Outcome], None],
    sender: Sender = send,
    max_attempts: int = MAX_ATTEMPTS,
) -> dict[str, int]:
    """Attempt every pending delivery; report each attempt before it starts and each outcome.

    ``on_attempt`` lets the caller record the attempt first, so that a crash during the
    request is retried by the next run rather than forgotten. Returns counts per status.
    """
    counts: dict[str, int] = {}
    for delivery in pending:
        outcome = _deliver_one(delivery, config, on_attempt, sender, max_attempts)
        on_outcome(delivery, outcome)
        counts[outcome.status] = counts.get(outcome.status, 0) + 1
    return counts


def _deliver_one(
    delivery: PendingDelivery,
    config: NotifyConfig,
    on_attempt: Callable[[PendingDelivery], None],
    sender: Sender,
    max_attempts: int,
) -> Outcome:
    url = config.url_for_key(delivery.target)
    if url is None:
        log.info("delivery of alert %s to %s dropped: no longer configured", delivery.alert_id, delivery.label)
        return Outcome("dropped", "URL no longer configured")
    on_attempt(delivery)
    ok, error = sender(url, delivery.title, delivery.body)
    if ok:
        log.info("alert %s sent to %s", delivery.alert_id, delivery.label)
        return Outcome("sent")
    final = delivery.attempts + 1 >= max_attempts or error == INVALID_URL  # a bad URL stays bad
    log.warning(
        "alert %s not delivered to %s (attempt %d%s): %s",
        delivery.alert_id, delivery.label, delivery.attempts + 1, ", giving up" if final else ", will retry", error,
    )  # fmt: skip
    return Outcome("gave-up" if final else "failed", error)


def unknown_routes(config: NotifyConfig, topics: Sequence[str]) -> list[str]:
    """Keys of the ``[notify]`` table that match no topic (likely typos)."""
    from newsmon.alerts import SOURCES_TOPIC

    known = {*topics, ALL_ALERTS, SOURCES_TOPIC}
    return sorted(k for k in config.routes if k not in known)
