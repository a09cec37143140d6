"""Typed configuration: one :class:`Settings` object for the whole program.

Sources, highest priority first: explicit overrides (CLI flags), ``NEWSMON_*`` environment
variables, a TOML config file (``--config FILE``, else ``./newsmon.toml`` when present), and
the built-in defaults. With no config at all newsmon reads ``./seeds``, writes
``./newsmon.duckdb`` and puts alert summaries in ``./alerts``.

Example ``newsmon.toml``::

    db = "data/newsmon.duckdb"
    seeds = "corpus/"
    topics = "my-topics.toml"
    alerts_dir = "out/alerts"
    http_allow = ["intranet.example", "10.1.0.0/16"]   # fetched although not public
    dashboard_url = "https://dash.example/newsmon"     # digests link {dashboard_url}/stories/{id}
"""

from __future__ import annotations

import difflib
import os
import tomllib
from collections.abc import Callable, Mapping
from importlib import resources
from pathlib import Path
from typing import Any, Literal
from urllib.parse import urlsplit

from pydantic import Field, ValidationError, field_validator
from pydantic.fields import FieldInfo
from pydantic_settings import BaseSettings, EnvSettingsSource, PydanticBaseSettingsSource, SettingsConfigDict

from newsmon.errors import ConfigError
from newsmon.text import read_settings_text

DEFAULT_CONFIG_FILE = Path("newsmon.toml")
DEFAULT_FEEDS_FILE = Path("feeds.toml")
DEFAULT_NOTIFY_FILE = Path("notify.toml")
DEFAULT_NOTIFY_TIMEOUT_S = 30.0
# a story new to a topic alerts only if a copy of it was published within this many days of
# the run (or has no publication time): older ones (a new feed's backlog) wait for the next alert
ALERT_MAX_AGE_DAYS = 3.0


def default_topics_path() -> Path:
    """Return the path of the topics file shipped with newsmon."""
    return Path(str(resources.files("newsmon") / "defaults" / "topics.toml"))


class _EnvSource(EnvSettingsSource):
    """The ``NEWSMON_*`` variables, except ``NEWSMON_HTTP_ALLOW``.

    That one is a comma-separated list that :meth:`newsmon.http.HttpConfig.from_env` reads
    and merges with ``http_allow``, so the file's entries and the environment's add up.
    """

    def get_field_value(self, field: FieldInfo, field_name: str) -> tuple[Any, str, bool]:
        """No value for ``http_allow``; every other field as the environment gives it."""
        if field_name == "http_allow":
            return None, field_name, False
        return super().get_field_value(field, field_name)


class Settings(BaseSettings):
    """Everything a run needs to know; immutable once built."""

    # an empty variable (NEWSMON_DB= from a .env file or compose) is as good as unset; numbers
    # are finite (an infinite http_timeout_s or notify_timeout_s would switch its deadline off)
    model_config = SettingsConfigDict(
        env_prefix="NEWSMON_", frozen=True, extra="forbid", env_ignore_empty=True, allow_inf_nan=False
    )

    db: Path = Field(Path("newsmon.duckdb"), description="DuckDB file (NEWSMON_DB)")
    seeds: Path = Field(Path("seeds"), description="folder of documents to ingest")
    topics: Path | None = Field(None, description="topics TOML file; None = shipped defaults")
    alerts_dir: Path = Field(Path("alerts"), description="folder for alert Markdown files")
    lock_timeout_s: float = Field(30.0, ge=0, description="how long a writer waits for the lock")
    dedupe_threshold: float = Field(0.5, gt=0, le=1, description="least share of each text in the other (reprints)")
    batch_size: int = Field(5000, ge=1, description="most documents in one processing batch (one transaction)")
    batch_bytes: int = Field(16_000_000, ge=1, description="about the most text (bytes) in one processing batch")
    feeds: Path | None = Field(None, description="feeds TOML file; None = ./feeds.toml if present")
    notify: Path | None = Field(
        None, description="notify TOML file (Apprise URLs per topic; NEWSMON_NOTIFY); None = ./notify.toml if present"
    )
    notify_timeout_s: float = Field(
        DEFAULT_NOTIFY_TIMEOUT_S,
        gt=0,
        description="total deadline of one notification; the notify step gives up after 4 times this",
    )
    fetch_pages: bool = Field(True, description="fetch and extract each new feed item's page")
    feed_items_max: int = Field(
        1000, ge=1, description="most items kept from one poll of a feed, in the feed's order (each may be fetched)"
    )
    http_timeout_s: float = Field(20.0, gt=0, description="total deadline of one HTTP request")
    http_concurrency: int = Field(16, ge=1, description="HTTP requests in flight (2 per host at most)")
    extract_workers: int = Field(default_factory=lambda: os.cpu_count() or 1, ge=1, description="extraction processes")
    http_allow: list[str] = Field(
        default_factory=list, description="hosts or CIDR ranges fetched although not public (plus NEWSMON_HTTP_ALLOW)"
    )
    task_runner: Literal["local", "dask"] = Field(
        "local", description="where extraction and tagging run: in this process and its pools, or on Dask"
    )
    dask_address: str | None = Field(
        None, description="scheduler of an existing Dask cluster (tcp://host:8786); None = a local cluster"
    )
    dask_workers: int = Field(
        default_factory=lambda: os.cpu_count() or 1, ge=1, description="workers of the local Dask cluster"
    )
    alert_max_age_days: float = Field(
        ALERT_MAX_AGE_DAYS, gt=0, description="a new story published longer ago than this alerts only with a newer one"
    )
    dashboard_url: str | None = Field(
        None, description="base URL of the dashboard; digests link each story to {dashboard_url}/stories/{story_id}"
    )

    @field_validator("db")
    @classmethod
    def _check_db(cls, value: Path) -> Path:
        """A path that names a file (``--db ''`` is the current folder, which names none)."""
        if not value.name or str(value) in (".", ".."):
            raise ValueError(f"{str(value)!r} names no file: give the DuckDB file's path, e.g. newsmon.duckdb")
        return value

    @field_validator("dashboard_url")
    @classmethod
    def _check_dashboard_url(cls, value: str | None) -> str | None:
        """An http(s) URL with a host and no query or fragment, without its trailing slash."""
        if value is None or not value.strip():
            return None
        url = value.strip().rstrip("/")
        parts = urlsplit(url)
        if parts.scheme not in ("http", "https") or not parts.netloc or parts.query or parts.fragment:
            raise ValueError("must be an http(s) URL with a host and no query, e.g. https://dash.example/newsmon")
        if any(c.isspace() or c in "<>\"'`\\" for c in url):
            raise ValueError("must not hold spaces, quotes or angle brackets")
        return url

    @classmethod
    def settings_customise_sources(
        cls,
        settings_cls: type[BaseSettings],
        init_settings: PydanticBaseSettingsSource,
        env_settings: PydanticBaseSettingsSource,
        dotenv_settings: PydanticBaseSettingsSource,
        file_secret_settings: PydanticBaseSettingsSource,
    ) -> tuple[PydanticBaseSettingsSource, ...]:
        """The usual sources, with ``NEWSMON_HTTP_ALLOW`` left to the HTTP client (see :class:`_EnvSource`)."""
        return init_settings, _EnvSource(settings_cls), dotenv_settings, file_secret_settings

    @property
    def feeds_path(self) -> Path | None:
        """The feeds file in force: the configured one, else ./feeds.toml if it exists."""
        if self.feeds is not None:
            return self.feeds
        return DEFAULT_FEEDS_FILE if DEFAULT_FEEDS_FILE.is_file() else None

    @property
    def notify_path(self) -> Path | None:
        """The notify file in force: the configured one, else ./notify.toml if it exists."""
        if self.notify is not None:
            return self.notify
        return DEFAULT_NOTIFY_FILE if DEFAULT_NOTIFY_FILE.is_file() else None

    @property
    def topics_path(self) -> Path:
        """The topics file in force: the configured one, else the shipped defaults."""
        return self.topics if self.topics is not None else default_topics_path()


# the settings that name files or folders: in a config file, relative to the file's folder
PATH_SETTINGS = frozenset(
    name for name, info in Settings.model_fields.items() if info.annotation in (Path, Path | None)
)


def load_settings(config_file: Path | None = None, **overrides: Any) -> Settings:
    """Build :class:`Settings` from a TOML file, the environment and explicit overrides.

    ``config_file`` must exist when given; ``./newsmon.toml`` is read only if present. The
    file's relative paths (:data:`PATH_SETTINGS`) are relative to its folder.
    Overrides whose value is ``None`` are ignored, so CLI options can be passed as they are.
    """
    file_values: dict[str, Any] = {}
    path = config_file if config_file is not None else DEFAULT_CONFIG_FILE
    if config_file is not None and not path.is_file():
        state = "is a folder, not a file" if path.is_dir() else "does not exist"
        raise ConfigError(f"config file {path} {state}: pass an existing file to --config")
    if path.is_file():
        try:
            file_values = tomllib.loads(read_settings_text(path, "config file"))
        except tomllib.TOMLDecodeError as err:
            raise ConfigError(f"config file {path} is not valid TOML ({err}): fix it") from err
    file_values = _from_folder(file_values, path.parent)
    explicit = {k: v for k, v in overrides.items() if v is not None}
    check_environment(os.environ)
    try:
        env_only = Settings()
    except ValidationError as err:  # the environment's own values
        raise _invalid(err, lambda field: _env_name(field) or "the environment") from err
    try:
        return Settings(**{**file_values, **_env_set_fields(env_only), **explicit})
    except ValidationError as err:
        raise _invalid(err, lambda field: f"--{field.replace('_', '-')}" if field in explicit else str(path)) from err


# NEWSMON_* variables that are not settings: a deployment's working folder, fault injection
# (tests of crash safety) and the length of the fuzz tests' hunt
OTHER_VARIABLES = frozenset({"NEWSMON_HOME", "NEWSMON_FAULT", "NEWSMON_FUZZ_EXAMPLES"})


def check_environment(environ: Mapping[str, str]) -> None:
    """Refuse a NEWSMON_* variable that sets nothing (a misspelt one, NEWSMON_BATCHSIZE, would
    otherwise be ignored in silence, as an unknown key in the config file is not)."""
    known = {f"NEWSMON_{name}".upper() for name in Settings.model_fields} | OTHER_VARIABLES
    for name in sorted(environ):
        upper = name.upper()
        if upper.startswith("NEWSMON_") and upper not in known and environ[name].strip():
            suffixes = sorted(k.removeprefix("NEWSMON_") for k in known)  # compare what follows the prefix
            close = difflib.get_close_matches(upper.removeprefix("NEWSMON_"), suffixes, n=1, cutoff=0.75)
            hint = f"did you mean NEWSMON_{close[0]}? " if close else ""
            raise ConfigError(
                f"environment variable {name} is not a newsmon setting: {hint}unset it or fix its name"
                " (settings: newsmon run --help, README 'Configuration')"
            )


def _from_folder(values: dict[str, Any], folder: Path) -> dict[str, Any]:
    """A config file's values with its relative paths made relative to ``folder``, its own."""
    return {
        key: str(folder / value) if key in PATH_SETTINGS and isinstance(value, str) and value.strip() else value
        for key, value in values.items()
    }


def _env_name(field: str) -> str | None:
    """The NEWSMON_* variable that sets ``field`` (any case, as the settings read it), if one does."""
    wanted = f"NEWSMON_{field}".upper()
    return next((f"the environment ({name})" for name in os.environ if name.upper() == wanted), None)


def _invalid(err: ValidationError, source: Callable[[str], str]) -> ConfigError:
    """One line for a setting's value that does not validate, naming where it came from."""
    first = err.errors()[0]
    where = ".".join(str(p) for p in first["loc"]) or "settings"
    field = str(first["loc"][0]) if first["loc"] else ""
    message = str(first["msg"]).removeprefix("Value error, ")  # a validator's own words, without pydantic's prefix
    return ConfigError(f"invalid setting {where!r} ({message}) in {source(field)}: fix the value")


def _env_set_fields(settings: Settings) -> dict[str, Any]:
    """Fields that the environment actually set (so that they override the file)."""
    return {name: getattr(settings, name) for name in settings.model_fields_set}


def settings_parameters(settings: Settings) -> dict[str, Any]:
    """The settings as plain parameters of a scheduled run, which may start in another folder:
    paths made absolute, unset values left out."""
    values = {k: (str(Path(v).resolve()) if isinstance(v, Path) else v) for k, v in settings.model_dump().items()}
    return {k: v for k, v in values.items() if v is not None}


def check_output_path(path: Path, what: str, option: str, is_file: bool) -> None:
    """Fail (ConfigError, one line) unless ``path`` can be the file or folder a run writes: it
    names something, is not the other kind of thing, and every folder above it that exists is
    a folder newsmon may write in (the missing ones are created)."""
    if not path.name or str(path) in (".", ".."):
        raise ConfigError(f"the {what} path {str(path)!r} names no {'file' if is_file else 'folder'}: pass {option}")
    if path.exists() and path.is_dir() == is_file:
        kind = "a folder" if is_file else "a file"
        raise ConfigError(f"the {what} {path} is {kind}: pass {option} with another path")
    parent = path.parent
    while not parent.exists() and parent != parent.parent:
        parent = parent.parent
    if not parent.is_dir():
        raise ConfigError(f"the {what} {path} cannot be created: {parent} is not a folder; pass {option}")
    if not os.access(parent, os.W_OK | os.X_OK) or (path.exists() and not os.access(path, os.W_OK)):
        why = f"{parent} is on a read-only file system" if _read_only(parent) else f"no permission in {parent}"
        raise ConfigError(f"the {what} {path} cannot be written here ({why}); pass {option}")


def _read_only(folder: Path) -> bool:
    """Whether ``folder`` is on a file system mounted read-only."""
    try:
        return bool(os.statvfs(folder).f_flag & os.ST_RDONLY)
    except (OSError, AttributeError):
        return False


def check_inputs(settings: Settings, seeds_given: bool = False) -> None:
    """Fail fast on the inputs of a run before any work starts: a missing seeds folder (when
    ``--seeds`` was given, the folder exists, or there is no feeds file to read instead), a
    bad feeds file, a bad topics file, a database or alerts path that cannot be one."""
    from newsmon.documents import iter_document_files
    from newsmon.feeds import load_feeds
    from newsmon.http import HttpConfig, check_allow_list
    from newsmon.topics import load_topics

    check_allow_list(HttpConfig.from_env(settings.http_allow))
    check_output_path(settings.db, "database", "--db", is_file=True)
    check_output_path(settings.alerts_dir, "alerts folder", "--alerts-dir", is_file=False)

    if seeds_given or settings.seeds.exists() or settings.feeds_path is None:
        next(iter(iter_document_files(settings.seeds)), None)
    if settings.feeds_path is not None:
        load_feeds(settings.feeds_path)
    load_topics(settings.topics_path)
