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
import sys
from datetime import date, datetime
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
topics_app = typer.Typer(help="Inspect topic definitions.\n\nExample:\n\n  newsmon topics list", no_args_is_help=True)
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
) -> None:
    """Run the monitor once: read the seeds folder, poll due feeds, dedupe, tag, store, alert.

    Uses Prefect's ephemeral API unless PREFECT_API_URL points at a Prefect server.
    Running again on the same input adds nothing (only a row in v_runs).

    Examples:

      newsmon run

      newsmon run --seeds corpus/ --db data/news.duckdb --topics my-topics.toml

      newsmon run --feeds feeds.toml
    """
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
    from flows.monitor import monitor

    summary = monitor(settings)
    alerts = ", ".join(summary.alerts) if summary.alerts else "none (nothing new)"
    feeds_part = f"{summary.feeds_polled} feeds polled ({summary.feeds_failed} failed), " if settings.feeds_path else ""
    console.print(
        f"newsmon: {summary.files_seen} files ({summary.files_skipped} skipped), {feeds_part}"
        f"{summary.documents_new} new documents, {summary.stories_new} new stories, "
        f"{summary.tags_new + summary.retagged} tags; alerts: {alerts}; database: {settings.db}",
        highlight=False,
    )


@app.command()
def sql(
    query: Annotated[str, typer.Argument(help="one SQL query (read-only)")],
    db: DbOption = None,
    config: ConfigOption = None,
    fmt: Annotated[OutputFormat, typer.Option("--format", "-f", help="output format")] = OutputFormat.table,
) -> None:
    """Run a read-only SQL query against the database.

    Public views: v_documents, v_document_topics, v_stories, v_topic_daily, v_runs, v_alerts.
    The connection is read-only with external access disabled (no files, no network).

    Examples:

      newsmon sql "select topic, count(*) from v_document_topics group by 1"

      newsmon sql "select * from v_stories order by documents desc limit 10" --format csv
    """
    from storage.store import open_reader, run_query

    settings = load_settings(config, db=db)
    con = open_reader(settings.db)
    try:
        columns, rows = run_query(con, query)
    finally:
        con.close()
    _print_rows(columns, rows, fmt)


@app.command()
def alerts(
    topic: Annotated[str | None, typer.Option("--topic", "-t", help="only this topic")] = None,
    db: DbOption = None,
    config: ConfigOption = None,
) -> None:
    """Print the latest alert summary of each topic (or of one topic).

    Examples:

      newsmon alerts

      newsmon alerts --topic covid-origins
    """
    from storage.store import open_reader, run_query

    settings = load_settings(config, db=db)
    con = open_reader(settings.db)
    try:
        _, rows = run_query(
            con,
            "SELECT topic, created_at, markdown FROM v_alerts QUALIFY row_number() OVER"
            " (PARTITION BY topic ORDER BY created_at DESC) = 1 ORDER BY topic",
        )
    finally:
        con.close()
    rows = [r for r in rows if topic is None or r[0] == topic]
    if not rows:
        where = f" for topic {topic!r}" if topic else ""
        console.print(f"no alerts{where} yet: alerts appear after a run finds new tagged documents")
        return
    for _topic, _created, markdown in rows:
        if console.is_terminal:
            console.print(Markdown(markdown))
        else:
            console.print(markdown, markup=False, highlight=False, soft_wrap=True)
        console.print()


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


@topics_app.command("list")
def topics_list(
    config: ConfigOption = None,
    topics: Annotated[Path | None, typer.Option("--topics", help="topics TOML file", show_default=False)] = None,
) -> None:
    """List the topics in force with their versions.

    Example:

      newsmon topics list --topics my-topics.toml
    """
    from newsmon.topics import load_topics

    settings = load_settings(config, topics=topics)
    table = Table("topic", "name", "version", "rules", title=str(settings.topics_path))
    for t in load_topics(settings.topics_path):
        table.add_row(t.slug, t.name, t.version, str(len(t.rules)))
    console.print(table)


def _jsonable(value: Any) -> Any:
    if isinstance(value, datetime | date):
        return value.isoformat()
    if isinstance(value, Decimal):
        return float(value)
    if isinstance(value, bytes):
        return value.hex()
    return value


def _print_rows(columns: list[str], rows: list[tuple[Any, ...]], fmt: OutputFormat) -> None:
    if fmt is OutputFormat.csv:
        writer = csv.writer(sys.stdout, lineterminator="\n")
        writer.writerow(columns)
        writer.writerows([[_jsonable(v) for v in row] for row in rows])
    elif fmt is OutputFormat.json:
        records = [{c: _jsonable(v) for c, v in zip(columns, row, strict=True)} for row in rows]
        sys.stdout.write(json.dumps(records, ensure_ascii=False, indent=1) + "\n")
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
