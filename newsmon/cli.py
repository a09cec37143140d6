"""The ``newsmon`` command line: the composition root (the one module that wires the domain
to Prefect flows and DuckDB storage).

Heavy imports (Prefect) happen only in the commands that need them, so ``newsmon sql`` and
``newsmon alerts`` start fast.
"""

from __future__ import annotations

import csv
import json
import logging
import os
import re
import sys
from datetime import date, datetime, timedelta
from decimal import Decimal
from enum import StrEnum
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.console import Console
from rich.markdown import Markdown
from rich.table import Table

from newsmon import __version__
from newsmon.config import load_settings
from newsmon.errors import NewsmonError

app = typer.Typer(
    name="newsmon",
    help=(
        "Media monitoring: ingest documents, dedupe reprints, tag topics, store in DuckDB, alert.\n\n"
        "Examples:\n\n"
        "  newsmon run                      # ingest ./seeds into ./newsmon.duckdb\n\n"
        '  newsmon sql "select * from v_stories"\n\n'
        "  newsmon alerts --topic russia-sanctions"
    ),
    no_args_is_help=True,
    add_completion=False,
    rich_markup_mode=None,
    pretty_exceptions_enable=False,
)
feeds_app = typer.Typer(
    help="Manage the feeds newsmon polls (feeds.toml).\n\nExamples:\n\n  newsmon feeds add https://example.com/rss\n\n"
    "  newsmon feeds list",
    no_args_is_help=True,
)
app.add_typer(feeds_app, name="feeds")
topics_app = typer.Typer(
    help="Inspect, back-test and re-apply topic definitions (topics.toml).\n\nExamples:\n\n  newsmon topics list\n\n"
    "  newsmon topics test russia-sanctions --file my-topics.toml\n\n  newsmon topics retag",
    no_args_is_help=True,
)
app.add_typer(topics_app, name="topics")

console = Console()
err_console = Console(stderr=True)

DbOption = Annotated[
    Path | None,
    typer.Option("--db", help="DuckDB file [env NEWSMON_DB; default ./newsmon.duckdb]", show_default=False),
]
ConfigOption = Annotated[
    Path | None,
    typer.Option("--config", help="TOML config file [default ./newsmon.toml if present]", show_default=False),
]


class OutputFormat(StrEnum):
    """Output formats of ``newsmon sql``."""

    table = "table"
    csv = "csv"
    json = "json"


def _version(value: bool) -> None:
    if value:
        console.print(f"newsmon {__version__}")
        raise typer.Exit()


@app.callback()
def _root(
    version: Annotated[
        bool, typer.Option("--version", callback=_version, is_eager=True, help="Show the version.")
    ] = False,
) -> None:
    """Media monitoring pipeline."""


def _prepare_prefect_env() -> None:
    """Defaults that make the first run on a fresh machine work (set only if unset)."""
    # A fresh PREFECT_HOME needs ~10 s of database setup: the default 20 s start-up timeout
    # of the ephemeral API fails first runs on slow machines.
    os.environ.setdefault("PREFECT_SERVER_EPHEMERAL_STARTUP_TIMEOUT_SECONDS", "120")
    os.environ.setdefault("PREFECT_LOGGING_EXTRA_LOGGERS", "newsmon,storage")
    # The telemetry heartbeat of the embedded server races its own SQLite writes.
    os.environ.setdefault("PREFECT_SERVER_ANALYTICS_ENABLED", "false")


@app.command()
def run(
    db: DbOption = None,
    seeds: Annotated[
        Path | None,
        typer.Option(
            "--seeds",
            help="folder of .txt/.md/.html documents [default ./seeds]",
            show_default=False,
        ),
    ] = None,
    config: ConfigOption = None,
    topics: Annotated[
        Path | None,
        typer.Option("--topics", help="topics TOML file [default: the shipped topics]", show_default=False),
    ] = None,
    alerts_dir: Annotated[
        Path | None,
        typer.Option("--alerts-dir", help="where alert Markdown goes [default ./alerts]", show_default=False),
    ] = None,
    feeds: Annotated[
        Path | None,
        typer.Option("--feeds", help="feeds TOML file [default ./feeds.toml if present]", show_default=False),
    ] = None,
    now: Annotated[
        str | None,
        typer.Option(
            "--now",
            help="the run's clock, ISO 8601 (UTC unless it has an offset), to replay past days in order [default: now]",
            show_default=False,
        ),
    ] = None,
    since: Annotated[
        str | None,
        typer.Option(
            "--since",
            help="also re-process (backfill) the stored documents first seen or published on or after this date"
            " (ISO 8601, UTC unless it has an offset): dedupe and tag them again with the current topics",
            show_default=False,
        ),
    ] = None,
) -> None:
    """Run the monitor once: read the seeds folder, poll due feeds, dedupe, tag, store, alert.

    Uses Prefect's ephemeral API unless PREFECT_API_URL points at a Prefect server.
    Running again on the same input adds nothing (only a row in v_runs).

    Examples:

      newsmon run

      newsmon run --seeds corpus/ --db data/news.duckdb --topics my-topics.toml

      newsmon run --feeds feeds.toml

      newsmon run --feeds feeds.toml --now 2023-05-18T23:59

    --now replays a past day: first sightings, trend windows and the alert day use that clock.

    --since DATE is a backfill, e.g. after changing the topics, the boilerplate patterns or the
    dedupe threshold: after the usual work, every stored document first seen or published on
    or after DATE (and every copy in a story whose first copy is one of them) is deduped and
    tagged again, in batches, replaying them in order of time, with progress in the log.
    "Current extractors" means: documents whose file is in the seeds folder are read again from
    it (current charset detection, HTML extraction and boilerplate patterns); feed items keep
    their stored text, since their pages are not stored. Re-tags of old documents never alert.
    Running the same backfill again changes nothing; if one is interrupted, run it again.

      newsmon run --since 2023-05-01
    """
    clock = _parse_now(now) if now is not None else None
    start = _parse_now(since, "--since") if since is not None else None
    if start is not None and start > (clock or _utc_now()):
        from newsmon.errors import ConfigError

        raise ConfigError(f"--since {since} is later than the run's clock: give a date in the past")
    settings = load_settings(config, db=db, seeds=seeds, topics=topics, alerts_dir=alerts_dir, feeds=feeds)
    from newsmon.documents import iter_document_files
    from newsmon.feeds import load_feeds
    from newsmon.topics import load_topics

    if seeds is not None or settings.seeds.exists() or settings.feeds_path is None:
        next(iter(iter_document_files(settings.seeds)), None)  # fail fast on a missing folder
    if settings.feeds_path is not None:
        load_feeds(settings.feeds_path)  # fail fast on a bad feeds file
    load_topics(settings.topics_path)  # fail fast on a bad topics file, before Prefect starts
    _prepare_prefect_env()
    from flows.monitor import RunSummary, monitor

    _quiet_newsmon_tracebacks()
    state = monitor(settings, now=clock, since=start, return_state=True)
    outcome = state.result(raise_on_failure=False)
    if isinstance(outcome, BaseException):
        raise outcome
    if not isinstance(outcome, RunSummary):
        raise TypeError(f"the monitor flow returned {type(outcome).__name__}")
    summary = outcome
    alerts = ", ".join(summary.alerts) if summary.alerts else "none (nothing new)"
    feeds_part = f"{summary.feeds_polled} feeds polled ({summary.feeds_failed} failed), " if settings.feeds_path else ""
    console.print(
        f"newsmon: {summary.files_seen} files ({summary.files_skipped} skipped), {feeds_part}"
        f"{summary.documents_new} new documents, {summary.stories_new} new stories, "
        f"{summary.tags_new + summary.retagged} tags; alerts: {alerts}; database: {settings.db}",
        highlight=False,
    )
    if summary.backfill is not None:
        b = summary.backfill
        console.print(
            f"newsmon: backfill since {b.since:%Y-%m-%d %H:%M} UTC: {b.documents} documents re-processed"
            f" ({b.reread} read again from their file, {b.new_text} with a new text), {b.moved} moved to another"
            f" story, tags +{b.tags_added} -{b.tags_removed} ({b.tags_changed} with new evidence);"
            f" {b.changed} documents changed",
            highlight=False,
        )


class _OneLineErrors(logging.Filter):
    """Drop the traceback from log records about newsmon errors: their message says it all."""

    def filter(self, record: logging.LogRecord) -> bool:
        if record.exc_info and isinstance(record.exc_info[1], NewsmonError):
            record.exc_info = None
            record.exc_text = None
        return True


def _quiet_newsmon_tracebacks() -> None:
    """Keep Prefect's console from printing tracebacks for user-facing newsmon errors."""
    quiet = _OneLineErrors()
    for logger in [logging.getLogger(), *(logging.getLogger(n) for n in list(logging.root.manager.loggerDict))]:
        for handler in getattr(logger, "handlers", []):
            if quiet not in handler.filters:
                handler.addFilter(quiet)


def _parse_now(value: str, option: str = "--now") -> datetime:
    """An ISO 8601 date or time for ``--now`` or ``--since``; without an offset it is UTC (a date
    alone is its midnight)."""
    from datetime import UTC

    from newsmon.errors import ConfigError

    try:
        parsed = datetime.fromisoformat(value.strip())
    except ValueError as err:
        raise ConfigError(f"{option} {value!r} is not an ISO 8601 time: write e.g. 2023-05-18T23:59") from err
    return parsed.replace(tzinfo=UTC) if parsed.tzinfo is None else parsed.astimezone(UTC)


def _utc_now() -> datetime:
    from datetime import UTC

    return datetime.now(UTC)


@app.command()
def serve(
    interval: Annotated[
        str | None, typer.Option("--interval", help="run every DURATION, e.g. 90s, 15m, 2h [default 30m]")
    ] = None,
    cron: Annotated[str | None, typer.Option("--cron", help="run on a cron schedule, e.g. '*/15 * * * *'")] = None,
    db: DbOption = None,
    seeds: Annotated[Path | None, typer.Option("--seeds", help="folder of documents", show_default=False)] = None,
    feeds: Annotated[Path | None, typer.Option("--feeds", help="feeds TOML file", show_default=False)] = None,
    topics: Annotated[Path | None, typer.Option("--topics", help="topics TOML file", show_default=False)] = None,
    config: ConfigOption = None,
) -> None:
    """Run the monitor on a schedule until stopped (Ctrl-C or SIGTERM).

    Uses the Prefect server at PREFECT_API_URL, or starts a local one on 127.0.0.1 (its UI
    address is printed). Runs never overlap: a run due while one is still going is skipped.

    Examples:

      newsmon serve --interval 15m

      newsmon serve --cron "*/30 * * * *" --feeds feeds.toml
    """
    import signal

    from newsmon.errors import ConfigError

    if interval and cron:
        raise ConfigError("give --interval or --cron, not both")
    seconds = _serve_interval(interval) if not cron else None
    settings = load_settings(config, db=db, seeds=seeds, feeds=feeds, topics=topics)
    params = {k: (str(Path(v).resolve()) if isinstance(v, Path) else v) for k, v in settings.model_dump().items()}
    params = {k: v for k, v in params.items() if v is not None}
    _prepare_prefect_env()
    signal.signal(signal.SIGTERM, _raise_keyboard_interrupt)
    server = None
    if not os.environ.get("PREFECT_API_URL"):
        from newsmon.server import LocalPrefectServer

        home = settings.db.resolve().parent / ".newsmon-prefect"
        server = LocalPrefectServer(home)
        console.print(f"newsmon: starting a local Prefect server (state in {home}) ...", highlight=False)
        server.start()
        os.environ["PREFECT_API_URL"] = server.api_url
        os.environ["PREFECT_HOME"] = str(home)
        console.print(f"newsmon: Prefect UI at http://127.0.0.1:{server.port}", highlight=False)
    try:
        _serve_flow(params, seconds, cron)
    except KeyboardInterrupt:
        pass
    finally:
        if server is not None:
            server.stop()
    console.print("newsmon: stopped", highlight=False)


def _serve_interval(value: str | None) -> float:
    from newsmon.errors import ConfigError

    if value is None:
        return 1800.0
    match = re.fullmatch(r"\s*(\d+(?:\.\d+)?)\s*([smhd]?)\s*", value)
    if not match:
        raise ConfigError(f"--interval {value!r} is not a duration: use e.g. 90s, 15m, 2h")
    seconds = float(match.group(1)) * {"": 1, "s": 1, "m": 60, "h": 3600, "d": 86400}[match.group(2)]
    if seconds < 5:
        raise ConfigError(f"--interval {value!r} is under 5 s: run less often")
    return seconds


def _raise_keyboard_interrupt(_signum: int, _frame: object) -> None:
    raise KeyboardInterrupt


def _serve_flow(params: dict[str, Any], seconds: float | None, cron: str | None) -> None:
    from prefect.client.schemas.objects import ConcurrencyLimitConfig, ConcurrencyLimitStrategy
    from prefect.deployments.runner import EntrypointType

    from flows.monitor import monitor

    monitor.serve(
        name="newsmon",
        interval=seconds,
        cron=cron,
        parameters={"settings": params},
        global_limit=ConcurrencyLimitConfig(limit=1, collision_strategy=ConcurrencyLimitStrategy.CANCEL_NEW),
        enforce_parameter_schema=False,
        pause_on_shutdown=False,
        entrypoint_type=EntrypointType.MODULE_PATH,
        description="newsmon monitor: ingest, dedupe, tag, store, alert",
    )


def _public_views() -> list[str]:
    """The public views (``v_*``) that ``storage/views`` defines, in their files' order."""
    from importlib import resources

    files = sorted((f for f in (resources.files("storage") / "views").iterdir() if f.name.endswith(".sql")), key=str)
    return [name for f in files for name in _VIEW_NAME.findall(f.read_text(encoding="utf-8"))]


_VIEW_NAME = re.compile(r"CREATE\s+OR\s+REPLACE\s+VIEW\s+(v_\w+)", re.IGNORECASE)
_SQL_HELP = """Run a read-only SQL query against the database.

    Public views: {views}. The tables behind them are internal. Queries read the snapshot
    published after the last run, so they never block a running monitor (--live reads the
    file itself, possible only between runs). The connection is read-only with external access
    disabled (no files, no network).

    Examples:

      newsmon sql "select topic, count(*) from v_document_topics group by 1"

      newsmon sql "select * from v_stories order by documents desc limit 10" --format csv
    """


@app.command(help=_SQL_HELP.format(views=", ".join(_public_views())))
def sql(
    query: Annotated[str, typer.Argument(help="one SQL query (read-only)")],
    db: DbOption = None,
    config: ConfigOption = None,
    fmt: Annotated[OutputFormat, typer.Option("--format", "-f", help="output format")] = OutputFormat.table,
    live: Annotated[
        bool, typer.Option("--live", help="read the database file itself, not the snapshot of the last run")
    ] = False,
) -> None:
    """Run a read-only SQL query (help: ``_SQL_HELP``, listing every public view)."""
    from storage.store import open_reader, run_query

    settings = load_settings(config, db=db)
    con = open_reader(settings.db, live=live)
    try:
        columns, rows = run_query(con, query)
    finally:
        con.close()
    _print_rows(columns, rows, fmt)


@app.command()
def runs(
    limit: Annotated[int, typer.Option("--limit", "-n", help="how many recent runs")] = 10,
    db: DbOption = None,
    config: ConfigOption = None,
    live: Annotated[bool, typer.Option("--live", help="read the database file, not the snapshot")] = False,
) -> None:
    """List recent runs with their status, per-stage counts and durations, and errors.

    Examples:

      newsmon runs

      newsmon runs -n 50 --live
    """
    from storage.store import open_reader, run_query

    settings = load_settings(config, db=db)
    con = open_reader(settings.db, live=live)
    try:
        _, rows = run_query(con, _RUNS_SQL, [max(1, limit)])
        _, stages = run_query(con, _STAGES_SQL)
    finally:
        con.close()
    per_run: dict[str, list[str]] = {}
    order = ("ingest", "feeds", "dedupe", "tag", "store", "backfill", "retag", "alert")
    stages.sort(key=lambda row: order.index(row[1]) if row[1] in order else len(order))
    for run_id, stage, items_in, items_out, skipped, seconds in stages:
        extra = f" -{skipped}" if skipped else ""
        per_run.setdefault(run_id, []).append(f"{stage} {items_in}→{items_out}{extra} {seconds:.1f}s")
    table = Table("started (UTC)", "run", "status", "seconds", "stages (in→out -skipped time)", "error")
    for run_id, started, status, seconds, error in rows:
        table.add_row(
            _when(started), run_id, status, f"{seconds:.1f}" if seconds is not None else "",
            "; ".join(per_run.get(run_id, [])), (error or "")[:120],
        )  # fmt: skip
    out = console if console.is_terminal else Console(width=240)
    out.print(table)


_RUNS_SQL = "SELECT run_id, started_at, status, seconds, error FROM v_runs ORDER BY started_at DESC LIMIT ?"
_STAGES_SQL = (
    "SELECT s.run_id, s.stage, s.items_in, s.items_out, s.skipped, s.seconds FROM run_stages s"
    " JOIN runs r ON r.id = s.run_id ORDER BY r.started_at DESC, s.stage"
)


@app.command()
def alerts(
    topic: Annotated[str | None, typer.Option("--topic", "-t", help="only this topic's latest alert")] = None,
    db: DbOption = None,
    config: ConfigOption = None,
) -> None:
    """Print the latest digest: what triggered each alert (numbers against the baseline), the
    top stories and silent feeds; or the latest alert of one topic (an unknown topic is an
    error that lists the known ones).

    Examples:

      newsmon alerts

      newsmon alerts --topic covid-origins

    Every alert is in the v_digests view (newsmon sql "select * from v_digests").
    """
    from newsmon.errors import ConfigError
    from storage.store import known_topics, latest_digest, open_reader

    settings = load_settings(config, db=db)
    con = open_reader(settings.db)
    try:
        records = latest_digest(con, topic)
        known = known_topics(con) if topic is not None and not records else []
    finally:
        con.close()
    if topic is not None and not records and topic not in known:
        names = ", ".join(known) or "none yet (run `newsmon run` first)"
        raise ConfigError(f"no topic {topic!r} in {settings.db}: use one of {names}")
    if not records:
        where = f" for topic {topic!r}" if topic else ""
        console.print(f"no alerts{where} yet: alerts appear after a run finds new tagged documents", highlight=False)
        return
    _print_digest(records)


def _print_digest(records: list[Any]) -> None:
    """A digest in the terminal: a summary table, then each section's Markdown."""
    from newsmon.alerts import render_run_markdown

    first = records[0]
    if not console.is_terminal:
        console.print(render_run_markdown(records), markup=False, highlight=False, soft_wrap=True)
        if first.digest_path:
            console.print(f"HTML digest: {first.digest_path}", markup=False, highlight=False, soft_wrap=True)
        return
    console.rule(f"newsmon digest · {first.created_at:%Y-%m-%d %H:%M} UTC · run {first.run_id[:8]}")
    table = Table("topic", "trigger", "new stories", "stories today", "baseline", "ratio", "score")
    for record in records:
        today = record.triggers.get("today") or {}
        trigger = "spike" if record.spike else ("silent feeds" if record.kind == "sources" else "new stories")
        table.add_row(
            record.topic, trigger, str(record.new_stories), str(today.get("stories", "")),
            _number(today.get("baseline")), _number(today.get("ratio")), _number(today.get("score")),
            style="bold red" if record.spike else None,
        )  # fmt: skip
    console.print(table)
    for record in records:
        console.print(Markdown(record.markdown))
        console.print()
    if first.digest_path:
        console.print(f"HTML digest: {first.digest_path}", style="dim", highlight=False)


def _number(value: Any) -> str:
    return f"{value:.1f}" if isinstance(value, int | float) else ""


FeedsFileOption = Annotated[
    Path | None, typer.Option("--feeds", help="feeds TOML file [default ./feeds.toml]", show_default=False)
]


@feeds_app.command("add")
def feeds_add(
    url: Annotated[str, typer.Argument(help="the feed's http(s) URL")],
    name: Annotated[str | None, typer.Option("--name", help="display name [default: the host]")] = None,
    interval: Annotated[
        str | None, typer.Option("--interval", help="poll interval, e.g. 15m, 2h [default 30m]")
    ] = None,
    tag: Annotated[list[str] | None, typer.Option("--tag", help="a tag (repeatable)")] = None,
    feeds: FeedsFileOption = None,
    config: ConfigOption = None,
) -> None:
    """Add a feed to the feeds file (created if absent).

    Examples:

      newsmon feeds add https://www.theguardian.com/world/rss --name Guardian --interval 15m

      newsmon feeds add https://example.com/atom.xml --tag tech --feeds my-feeds.toml
    """
    from urllib.parse import urlsplit

    from newsmon.errors import ConfigError
    from newsmon.feeds import DEFAULT_INTERVAL_S, FeedSpec, append_feeds, parse_duration, safe_http_url

    settings = load_settings(config, feeds=feeds)
    path = settings.feeds or Path("feeds.toml")
    clean = safe_http_url(url)
    if clean is None:
        raise ConfigError(f"{url!r} is not an http(s) URL: give the feed's web address")
    seconds = parse_duration(interval, "--interval") if interval else DEFAULT_INTERVAL_S
    spec = FeedSpec(name or urlsplit(clean).hostname or clean, clean, seconds, tuple(tag or ()))
    added = append_feeds(path, [spec])
    console.print(f"added {spec.name} to {path}" if added else f"{clean} is already in {path}", highlight=False)


@feeds_app.command("import")
def feeds_import(
    opml_file: Annotated[Path, typer.Argument(help="an OPML export of a feed reader")],
    feeds: FeedsFileOption = None,
    config: ConfigOption = None,
) -> None:
    """Import the feeds of an OPML file (folders become tags).

    Example:

      newsmon feeds import subscriptions.opml
    """
    from newsmon.errors import InputError
    from newsmon.feeds import append_feeds, parse_opml

    settings = load_settings(config, feeds=feeds)
    path = settings.feeds or Path("feeds.toml")
    try:
        data = opml_file.read_bytes()
    except OSError as err:
        raise InputError(f"cannot read OPML file {opml_file} ({err.strerror}): check the path") from err
    specs = parse_opml(data)
    added = append_feeds(path, specs)
    console.print(f"imported {len(added)} new feeds of {len(specs)} in {opml_file} into {path}", highlight=False)


@feeds_app.command("list")
def feeds_list(
    feeds: FeedsFileOption = None,
    db: DbOption = None,
    config: ConfigOption = None,
) -> None:
    """List the feeds with their health (from the database, when there is one).

    Example:

      newsmon feeds list
    """
    from newsmon.feeds import load_feeds

    settings = load_settings(config, feeds=feeds, db=db)
    path = settings.feeds_path or Path("feeds.toml")
    specs = load_feeds(path) if path.exists() else []
    health: dict[str, tuple[Any, ...]] = {}
    if settings.db.exists():
        from storage.store import open_reader, run_query

        con = open_reader(settings.db)
        try:
            _, rows = run_query(
                con,
                "SELECT url, status, last_success_at, consecutive_failures, last_error_kind, next_poll_at,"
                " items_stored FROM v_feed_health",
            )
        finally:
            con.close()
        health = {row[0]: row[1:] for row in rows}
    table = Table("name", "url", "every", "status", "last success", "failures", "last error", "next poll", "items")
    for spec in specs:
        status, success, failures, error, next_poll, items = health.get(
            spec.url, ("not polled yet", None, 0, None, None, 0)
        )
        table.add_row(
            spec.name, spec.url, f"{spec.interval_s / 60:.0f}m", str(status), _when(success), str(failures),
            error or "", _when(next_poll), str(items),
        )  # fmt: skip
    out = console if console.is_terminal else Console(width=240)
    out.print(table)
    out.print(f"{len(specs)} feeds in {path}", style="dim")


def _when(value: Any) -> str:
    return value.strftime("%Y-%m-%d %H:%M") if isinstance(value, datetime) else ""


TopicsFileOption = Annotated[
    Path | None,
    typer.Option(
        "--topics", "--file", help="topics TOML file [default: the configured or shipped topics]", show_default=False
    ),
]


def _wide() -> Console:
    """The console, or a wide one when the output is piped (no squeezing to 80 columns)."""
    return console if console.is_terminal else Console(width=240)


def _load_topic_file(settings: Any, name: str | None) -> tuple[list[Any], list[Any]]:
    """All topics of the configured file, and those selected by ``name`` (all when None)."""
    from newsmon.errors import ConfigError
    from newsmon.topics import load_topics

    topics = load_topics(settings.topics_path)
    if name is None:
        return topics, topics
    chosen = [t for t in topics if t.slug == name]
    if not chosen:
        known = ", ".join(t.slug for t in topics)
        raise ConfigError(f"no topic {name!r} in {settings.topics_path}: use one of {known}")
    return topics, chosen


@topics_app.command("list")
def topics_list(
    topics: TopicsFileOption = None,
    db: DbOption = None,
    config: ConfigOption = None,
) -> None:
    """List the topics with their versions, and (when there is a database) the version stored
    there and how many documents it tagged.

    Examples:

      newsmon topics list

      newsmon topics list --topics my-topics.toml --db data/news.duckdb
    """
    settings = load_settings(config, topics=topics, db=db)
    loaded, _ = _load_topic_file(settings, None)
    status: dict[str, tuple[str, int]] = {}
    if settings.db.exists():
        from storage.store import Store, open_reader

        con = open_reader(settings.db)
        try:
            status = Store.on_connection(con, settings.db).topics.status()
        finally:
            con.close()
    table = Table("topic", "name", "version", "scoring", "in database", "documents", title=str(settings.topics_path))
    for t in loaded:
        stored, count = status.get(t.slug, (None, None))
        if stored is None:
            where = "not yet" if settings.db.exists() else ""
        else:
            where = "this version" if stored == t.version else f"{stored} (run `newsmon topics retag {t.slug}`)"
        scoring = "rules + semantic" if t.semantic else "rules"
        table.add_row(t.slug, t.name, t.version, scoring, where, "" if count is None else str(count))
    out = _wide()
    out.print(table)
    if not settings.db.exists():
        out.print(f"no database at {settings.db}: counts appear after `newsmon run`", style="dim", highlight=False)


@topics_app.command("test")
def topics_test(
    name: Annotated[str, typer.Argument(help="the topic to back-test (its slug)")],
    topics: TopicsFileOption = None,
    db: DbOption = None,
    config: ConfigOption = None,
    samples: Annotated[int, typer.Option("--samples", min=0, help="documents to show per list")] = 5,
) -> None:
    """Back-test a (changed) topic on the stored documents before it counts: how many it would
    tag, which it would add and drop against the current tags, with samples; and whether its
    examples and counterexamples come out right. Reads the database only; nothing is saved.

    Examples:

      newsmon topics test russia-sanctions --file my-topics.toml

      newsmon topics test covid-origins --db data/news.duckdb --samples 10
    """
    from newsmon.topics import check_examples, tag_documents
    from storage.store import Store, open_reader

    settings = load_settings(config, topics=topics, db=db)
    _, (topic,) = _load_topic_file(settings, name)
    con = open_reader(settings.db)
    try:
        store = Store.on_connection(con, settings.db)
        current = store.topics.current_tags(topic.slug)
        titles: dict[str, str] = {}
        new: dict[str, Any] = {}
        total = 0
        for batch in store.documents.iter_all(settings.batch_size):
            total += len(batch)
            titles.update((d.id, d.title) for d in batch if d.id in current)
            for tag in tag_documents(batch, [topic]):
                new[tag.document_id] = tag
                titles[tag.document_id] = next(d.title for d in batch if d.id == tag.document_id)
    finally:
        con.close()
    out = _wide()
    _print_backtest(out, topic, settings, total, current, new, titles, samples)
    checks = check_examples(topic)
    failed = [c for c in checks if not c.ok]
    ok_pos = sum(1 for c in checks if c.expected and c.ok)
    ok_neg = sum(1 for c in checks if not c.expected and c.ok)
    out.print(
        f"examples: {ok_pos}/{len(topic.examples)} tagged; counterexamples: {ok_neg}/{len(topic.counterexamples)}"
        " not tagged",
        highlight=False,
    )
    for check in failed:
        what = "example NOT tagged" if check.expected else "counterexample tagged"
        out.print(f"  ! {what}: {check.text}", highlight=False, markup=False)
    out.print("nothing was saved; to apply: edit the topics file in force, then `newsmon topics retag`", style="dim")


def _print_backtest(
    out: Console,
    topic: Any,
    settings: Any,
    total: int,
    current: dict[str, Any],
    new: dict[str, Any],
    titles: dict[str, str],
    samples: int,
) -> None:
    """Print a back-test's counts and samples of added and dropped documents."""
    added = sorted(set(new) - set(current))
    dropped = sorted(set(current) - set(new))
    versions = sorted({t.topic_version for t in current.values()})
    now_version = ", ".join(versions) if versions else "none"
    same = " (the same definition)" if versions == [topic.version] else ""
    out.print(
        f"{topic.slug}: version {topic.version} from {settings.topics_path}{same}\n"
        f"would tag {len(new)} of {total} stored documents; tagged now: {len(current)} (version {now_version})\n"
        f"+{len(added)} added, -{len(dropped)} dropped, {len(set(new) & set(current))} kept",
        highlight=False,
        markup=False,
    )
    for sign, label, ids, tags in (("+", "added", added, new), ("-", "dropped", dropped, current)):
        if ids and samples:
            out.print(f"{label} (first {min(samples, len(ids))} of {len(ids)}):", highlight=False)
        for doc_id in ids[:samples]:
            tag = tags[doc_id]
            out.print(f"  {sign} {titles.get(doc_id, doc_id)}", highlight=False, markup=False)
            out.print(f"      evidence: {tag.evidence[:200]}", highlight=False, markup=False, style="dim")
            out.print(f"      clause: {tag.clause[:200]}", highlight=False, markup=False, style="dim")


@topics_app.command("retag")
def topics_retag(
    name: Annotated[str | None, typer.Argument(help="only this topic [default: every topic]")] = None,
    topics: TopicsFileOption = None,
    db: DbOption = None,
    config: ConfigOption = None,
) -> None:
    """Re-tag every stored document with the current topic definitions, in batches, with
    progress. Takes the writer lock (waits for a running `newsmon run`). The new versions
    become current only when all documents are done, so views never show a half-tagged
    version; re-tags are not sent as alerts.

    Examples:

      newsmon topics retag

      newsmon topics retag russia-sanctions --topics my-topics.toml
    """
    import time
    import uuid
    from datetime import UTC, datetime

    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

    from newsmon import __version__
    from newsmon.backfill import retag_stored
    from newsmon.errors import DatabaseMissingError
    from newsmon.topics import tag_documents
    from storage.store import Store

    settings = load_settings(config, topics=topics, db=db)
    _, chosen = _load_topic_file(settings, name)
    if not settings.db.exists():
        raise DatabaseMissingError(f"no database at {settings.db}: run `newsmon run` first or pass --db PATH")
    store = Store.open_writer(settings.db, settings.lock_timeout_s)
    run_id, now, t0 = f"retag-{uuid.uuid4()}", datetime.now(UTC), time.perf_counter()
    tags = documents = 0
    try:
        before = store.topics.status()
        store.runs.start(run_id, now, f"topics retag {name or 'all'}", __version__)
        columns = (TextColumn("retag"), BarColumn(), MofNCompleteColumn(), TextColumn("documents"), TimeElapsedColumn())
        with Progress(*columns, console=err_console, transient=False) as progress:
            task = progress.add_task("retag", total=store.documents.count())
            tags = retag_stored(
                store, chosen, run_id, now, settings.batch_size, tag_documents,
                progress=lambda done, _total: progress.update(task, completed=done),
            )  # fmt: skip
            documents = store.documents.count()
        store.topics.register(chosen, run_id, now, replace_all=name is None)
        store.runs.record_stage(run_id, "retag", documents, tags, 0, time.perf_counter() - t0)
        store.runs.finish(run_id, "completed", datetime.now(UTC))
    except BaseException as err:
        store.runs.finish(run_id, "failed", datetime.now(UTC), f"{type(err).__name__}: {err}")
        raise
    finally:
        store.close()
    changed = [f"{t.slug} {t.version}" for t in chosen if before.get(t.slug, ("",))[0] != t.version]
    console.print(
        f"retagged {documents} documents with {len(chosen)} topic(s): {tags} tags; current versions changed: "
        + (", ".join(changed) or "none"),
        highlight=False,
    )


def _jsonable(value: Any) -> Any:
    if isinstance(value, datetime | date):
        return value.isoformat()
    if isinstance(value, Decimal):
        return float(value)
    if isinstance(value, bytes):
        return value.hex()
    return value


def _json_default(value: Any) -> Any:
    """JSON for what :func:`_jsonable` leaves (inside lists and structs too): intervals as
    seconds, anything else as its text."""
    if isinstance(value, timedelta):
        return value.total_seconds()
    converted = _jsonable(value)
    return converted if converted is not value else str(value)


def _print_rows(columns: list[str], rows: list[tuple[Any, ...]], fmt: OutputFormat) -> None:
    if fmt is OutputFormat.csv:
        writer = csv.writer(sys.stdout, lineterminator="\n")
        writer.writerow(columns)
        writer.writerows([[_jsonable(v) for v in row] for row in rows])
    elif fmt is OutputFormat.json:
        records = [{c: _jsonable(v) for c, v in zip(columns, row, strict=True)} for row in rows]
        sys.stdout.write(json.dumps(records, ensure_ascii=False, indent=1, default=_json_default) + "\n")
    else:
        table = Table(*columns)
        for row in rows:
            table.add_row(*("" if v is None else str(_jsonable(v)) for v in row))
        out = console if console.is_terminal else Console(width=240)  # pipes: don't squeeze to 80
        out.print(table)
        out.print(f"{len(rows)} row{'s' if len(rows) != 1 else ''}", style="dim")


def main() -> None:
    """Entry point: run the CLI, turning newsmon errors into one line and exit code 1."""
    logging.basicConfig(level=logging.WARNING, format="%(levelname)s %(name)s: %(message)s")
    try:
        app()
    except NewsmonError as err:
        err_console.print(f"newsmon: error: {err}", highlight=False, markup=False, soft_wrap=True)
        sys.exit(1)
    except KeyboardInterrupt:
        err_console.print("newsmon: interrupted")
        sys.exit(130)


if __name__ == "__main__":
    main()
