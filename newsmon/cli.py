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
) -> None:
    """Run the monitor once: ingest, dedupe, tag, store, alert.

    Uses Prefect's ephemeral API unless PREFECT_API_URL points at a Prefect server.
    Running again on the same input adds nothing (only a row in v_runs).

    Examples:

      newsmon run

      newsmon run --seeds corpus/ --db data/news.duckdb --topics my-topics.toml
    """
    settings = load_settings(config, db=db, seeds=seeds, topics=topics, alerts_dir=alerts_dir)
    from newsmon.documents import iter_document_files
    from newsmon.topics import load_topics

    next(iter(iter_document_files(settings.seeds)), None)  # fail fast on a missing folder
    load_topics(settings.topics_path)  # fail fast on a bad topics file, before Prefect starts
    _prepare_prefect_env()
    from flows.monitor import monitor

    summary = monitor(settings)
    alerts = ", ".join(summary.alerts) if summary.alerts else "none (nothing new)"
    console.print(
        f"newsmon: {summary.files_seen} files ({summary.files_skipped} skipped), "
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
