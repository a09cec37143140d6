"""The one exception tree of newsmon.

Every error a user can cause or meet derives from :class:`NewsmonError` and carries a
one-line message that says what went wrong, where, and what to do::

    NewsmonError
    ├── ConfigError           bad config file, topics file or setting
    │   └── TopicDefinitionError   a topic in topics.toml cannot be compiled
    ├── InputError            an input folder or file cannot be read at all
    ├── FetchError            an HTTP fetch failed; ``kind`` says how (timeout, dns, blocked, ...)
    └── StorageError          the DuckDB file cannot be used
        ├── DatabaseLockedError    another process holds the database or the writer lock
        ├── DatabaseMissingError   no database yet at that path
        └── QueryError             ad hoc SQL failed (syntax, unknown table, write attempt)

Per-file problems during ingestion (an empty or binary file) are not exceptions: they are
counted and logged as skips so that one bad file never stops a run.
"""

from __future__ import annotations


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

    ``kind`` classifies the failure for back-off and health reporting: ``scheme`` (not
    http/https), ``blocked`` (a non-public address not allowed by config), ``dns``,
    ``connect``, ``timeout`` (the total deadline), ``too_large`` (decoded body over the cap),
    ``redirects`` (loop or more than the maximum), ``encoding`` (bad or unsupported
    content-encoding), ``http_4xx``, ``http_5xx``, ``protocol``.
    """

    def __init__(
        self,
        kind: str,
        url: str,
        message: str,
        status: int | None = None,
        retry_after_s: float | None = None,
    ) -> None:
        super().__init__(f"{kind}: {url}: {message}")
        self.kind = kind
        self.url = url
        self.message = message
        self.status = status
        self.retry_after_s = retry_after_s

    def __reduce__(self) -> tuple[type[FetchError], tuple[str, str, str, int | None, float | None]]:
        """Pickle with all fields (results cross process boundaries)."""
        return (type(self), (self.kind, self.url, self.message, self.status, self.retry_after_s))


class StorageError(NewsmonError):
    """The DuckDB database cannot be opened, migrated or written."""


class DatabaseLockedError(StorageError):
    """Another process holds the database file or the writer lock."""


class DatabaseMissingError(StorageError):
    """There is no database at the given path yet."""


class QueryError(StorageError):
    """An ad hoc SQL query failed."""
