"""The one exception tree of newsmon.

Every error a user can cause or meet derives from :class:`NewsmonError` and carries a
one-line message that says what went wrong, where, and what to do::

    NewsmonError
    ├── ConfigError           bad config file, topics file or setting
    │   └── TopicDefinitionError   a topic in topics.toml cannot be compiled
    ├── InputError            an input folder or file cannot be read at all
    ├── OutputError           an output file (an export, a query's --output) cannot be written
    ├── FetchError            an HTTP fetch failed; ``kind`` says how (timeout, dns, blocked, ...)
    ├── FeedError             a feed cannot be added or failed a check (unreachable, blocked, not a feed)
    └── StorageError          the DuckDB file cannot be used
        ├── DatabaseLockedError    another process holds the database or the writer lock
        ├── DatabaseMissingError   no database yet at that path
        └── QueryError             ad hoc SQL failed (syntax, unknown table, write attempt)

Per-file problems during ingestion (an empty or binary file) are not exceptions: they are
counted and logged as skips so that one bad file never stops a run.

Outside the tree, as a stop is not an error: :class:`Interrupted`, a signal that stopped a
database query.
"""

from __future__ import annotations

import errno
import os
import socket
import ssl
from collections.abc import Iterator


class NewsmonError(Exception):
    """Base class of every newsmon error; ``str(err)`` is a complete one-line message."""


class ConfigError(NewsmonError):
    """A configuration, feeds or topics file, or a setting, is invalid."""


class TopicDefinitionError(ConfigError):
    """A topic definition cannot be compiled (unknown key, empty term list, bad pattern)."""


class InputError(NewsmonError):
    """An input folder or file cannot be read at all (missing, not a folder, no permission)."""


class FetchError(NewsmonError):
    """An HTTP fetch failed or was refused.

    ``kind`` is the failure's class (a key of :data:`FAILURE_CLASSES`), for back-off, health
    reporting and the run summary.
    """

    def __init__(
        self,
        kind: str,
        url: str,
        message: str,
        status: int | None = None,
        retry_after_s: float | None = None,
        host: str | None = None,
    ) -> None:
        super().__init__(f"{kind}: {url}: {message}")
        self.kind = kind
        self.url = url
        self.message = message
        self.status = status
        self.retry_after_s = retry_after_s
        self.host = host  # host:port a connection failed with (the requested one, or a redirect's target)

    def __reduce__(self) -> tuple[type[FetchError], tuple[str, str, str, int | None, float | None]]:
        """Pickle with all fields (results cross process boundaries)."""
        return (type(self), (self.kind, self.url, self.message, self.status, self.retry_after_s))


class FeedError(NewsmonError):
    """A feed cannot be added (unreachable, on a blocked address, not a feed), or failed a check."""


FAILURE_CLASSES: dict[str, str] = {
    # class: what happened, and what to do (one line each; feeds check and run summaries print them)
    "dns": "the host name does not resolve: check the URL's host name (and this machine's DNS)",
    "refused": "the connection was refused (nothing listens there): check the host and port, or whether"
    " the site is down",
    "timeout": "no complete answer within the deadline: the site is slow or unreachable; raise"
    " http_timeout_s if it is slow",
    "connect": "the connection failed or broke: retry later; check the network",
    "tls": "the TLS handshake failed (certificate or protocol): check the URL's scheme and the site's certificate",
    "blocked-address": "a loopback, private or otherwise non-public address: list the host or range in http_allow"
    " (newsmon.toml) or NEWSMON_HTTP_ALLOW if it is meant to be fetched",
    "scheme": "not an http(s) URL: only web addresses are fetched",
    "redirects": "a redirect loop or too many redirects: use the URL the site ends on",
    "too-large": "the body is over the size cap: check that the URL is a feed or article, or raise the cap",
    "encoding": "a corrupt or unsupported content-encoding: the site's compression is broken",
    "http-4xx": "the server answered with a client error (404 gone, 403 forbidden, 429 too many requests):"
    " check the URL",
    "http-5xx": "the server answered with a server error: retry later",
    "protocol": "the server broke the HTTP protocol: retry later",
    "not-a-feed": "the address gives no RSS or Atom feed (an HTML page?): `newsmon feeds add URL` offers the"
    " feeds a page links",
    "parse": "the feed is malformed XML and gave no items: tell the site, or try its other feed format",
    "too-many-items": "the feed lists more items than feed_items_max: the first ones were kept; raise"
    " feed_items_max (newsmon.toml) if the feed is meant to be that long",
    "extraction": "the page was fetched but no article text could be extracted from it",
}
"""Every failure newsmon records, per feed and per page, has one of these classes."""


def failure_hint(kind: str | None) -> str:
    """What a failure class means and what to do about it ("" for an unknown class)."""
    return FAILURE_CLASSES.get(kind or "", "")


def connection_failure_kind(err: BaseException) -> str:
    """The class of a connection or request that failed, from the errors it came from: ``tls``
    (the handshake failed), ``refused`` (nothing listens there), ``dns`` (the host name does not
    resolve), ``timeout`` (no answer in time), else ``connect``. For httpx's errors (feeds and
    pages) as for those of requests, which Apprise uses (notifications)."""
    chain = list(error_chain(err))
    if any(isinstance(e, ssl.SSLError) for e in chain):
        return "tls"
    if any(isinstance(e, ConnectionRefusedError) or getattr(e, "errno", None) == errno.ECONNREFUSED for e in chain):
        return "refused"
    if any(isinstance(e, socket.gaierror) for e in chain):
        return "dns"
    if any(isinstance(e, TimeoutError) for e in chain):
        return "timeout"
    return "connect"


def status_kind(status: int) -> str:
    """The class of an HTTP answer that is neither a success nor a redirect followed: ``http-4xx``,
    ``http-5xx``, else ``protocol``."""
    if 400 <= status < 500:
        return "http-4xx"
    return "http-5xx" if status >= 500 else "protocol"


def root_reason(err: BaseException) -> str:
    """The innermost OS error's text (e.g. "Connection refused"), else the error's own text."""
    reason = str(err) or type(err).__name__
    for seen in error_chain(err):
        if isinstance(seen, OSError) and seen.errno:
            reason = os.strerror(seen.errno)
    return reason


def error_chain(err: BaseException) -> Iterator[BaseException]:
    """``err`` and the errors it was raised from or while handling, outermost first (8 at most)."""
    seen: BaseException | None = err
    for _ in range(8):
        if seen is None:
            return
        yield seen
        seen = seen.__cause__ or seen.__context__


class OutputError(NewsmonError):
    """An output file (an export, ``newsmon sql --output``) cannot be written."""


class StorageError(NewsmonError):
    """The DuckDB database cannot be opened, migrated or written."""


class DatabaseLockedError(StorageError):
    """Another process holds the database file or the writer lock."""


class DatabaseMissingError(StorageError):
    """There is no database at the given path yet."""


class QueryError(StorageError):
    """An ad hoc SQL query failed."""


class Interrupted(BaseException):
    """A signal (SIGTERM, Ctrl-C) stopped a database query. DuckDB reports such a stop as its own
    error ("Query interrupted") and the signal's exception is lost; this takes its place, so that
    the work stops as the signal meant and the run is recorded as stopped, not as failed."""

    def __init__(self) -> None:
        super().__init__("stopped by a signal during a database query")
