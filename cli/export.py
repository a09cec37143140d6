"""``newsmon export``: a public view or a table, filtered, into a Parquet, CSV or JSON Lines file.

It reads the snapshot of the last run (``--live``: the file itself) through the same sandboxed
read-only connection as ``newsmon sql``; the view's name is checked against the database's
catalog and the filter values are bound, never written into the SQL.
"""

from __future__ import annotations

import sys
import time
from collections.abc import Callable
from datetime import UTC, date, datetime, timedelta
from enum import StrEnum
from pathlib import Path
from typing import Annotated

import typer

from cli.app import ConfigOption, DbOption, app, console, err_console, refuse_output_over_inputs
from newsmon.config import load_settings
from newsmon.errors import ConfigError
from newsmon.schedule import parse_time


class ExportFormat(StrEnum):
    """File formats of ``newsmon export``."""

    parquet = "parquet"
    csv = "csv"
    jsonl = "jsonl"


_SUFFIXES = {".parquet": ExportFormat.parquet, ".csv": ExportFormat.csv, ".jsonl": ExportFormat.jsonl,
             ".ndjson": ExportFormat.jsonl}  # fmt: skip


@app.command()
def export(
    name: Annotated[str, typer.Argument(help="a public view (v_*, see `newsmon sql --views`) or a table")],
    output: Annotated[
        Path, typer.Option("--output", "-o", help="the file to write (replaced when complete; - for stdout)")
    ],
    fmt: Annotated[
        ExportFormat | None,
        typer.Option("--format", "-f", help="file format [default: from the file's suffix]", show_default=False),
    ] = None,
    topic: Annotated[
        str | None, typer.Option("--topic", "-t", help="only this topic (views with a topic column)")
    ] = None,
    since: Annotated[
        str | None,
        typer.Option("--since", help="from this date or time on (ISO 8601, UTC unless it has an offset)"),
    ] = None,
    until: Annotated[
        str | None,
        typer.Option("--until", help="up to this date (the whole day) or time (ISO 8601, UTC unless it has an offset)"),
    ] = None,
    db: DbOption = None,
    config: ConfigOption = None,
    live: Annotated[
        bool, typer.Option("--live", help="read the database file itself, not the snapshot of the last run")
    ] = False,
) -> None:
    """Export a public view (or a table) to Parquet, CSV or JSON Lines, for notebooks and spreadsheets.

    Parquet keeps the types (times with their zone, lists; intervals as seconds) and is read by
    DuckDB, pyarrow, pandas and polars. CSV and JSON Lines write times in ISO 8601 and lists
    as JSON. The file is written under a temporary name and renamed when complete.

    Filters apply where the view has the column: --topic needs a topic column (v_document_topics,
    v_topic_documents, v_topic_daily, v_topic_trend, v_alerts, v_digests, v_deliveries,
    v_topic_reviews); --since/--until filter the first of day, first_seen_at, tagged_at,
    created_at, started_at, failed_at that the view has (v_documents, v_stories, v_reprints,
    v_story_timeline, v_source_cadence: first_seen_at; v_topic_documents, v_topic_daily,
    v_topic_trend, v_digests: day; v_document_topics: tagged_at; v_alerts, v_deliveries:
    created_at; v_runs: started_at; v_failures: failed_at). A filter a view cannot take is refused.

    Examples:

      newsmon export v_documents --output documents.parquet

      newsmon export v_topic_documents --topic russia-sanctions --since 2023-05-01 --output sanctions.csv

      newsmon export v_stories --format jsonl --output stories.jsonl --db data/news.duckdb
    """
    from newsmon.exports import is_stdout, write_batches
    from newsmon.results import human_size
    from storage.catalog import ExportFilter, export_statement, exportable, lookup
    from storage.exports import arrow_reader
    from storage.store import known_topics, open_reader, retired_topics

    if is_stdout(output) and fmt is None:
        raise ConfigError("--output - writes to stdout: add --format csv, jsonl or parquet")
    chosen = fmt or _format_of(output)
    filters = ExportFilter(topic, _bound(since, "--since"), _bound(until, "--until"))
    if filters.since is not None and filters.until is not None and _start(filters.since) > _end(filters.until):
        raise ConfigError(f"--since {since} is after --until {until}: nothing could match; swap them")
    settings = load_settings(config, db=db)
    refuse_output_over_inputs(output, settings, config)
    con = open_reader(settings.db, live=live)
    try:
        objects = exportable(con)
        obj = lookup(objects, name)
        known = known_topics(con) if topic is not None else []
        if topic is not None and topic not in known:
            names = ", ".join(known) or "none yet (run `newsmon run` first)"
            raise ConfigError(f"no topic {topic!r} in {settings.db}: use one of {names}")
        sql, params = export_statement(obj, filters, objects)
        written = write_batches(arrow_reader(con, sql, params), chosen.value, output, _progress(obj.name))
        retired = topic is not None and topic in retired_topics(con)
    finally:
        con.close()
    if err_console.is_terminal:
        sys.stderr.write("\r" + " " * 60 + "\r")
    size = f"{human_size(written.size)}, " if written.size is not None else ""
    line = (
        f"wrote {written.rows:,} row{'s' if written.rows != 1 else ''} of {obj.name} to {output}"
        f" ({size}{chosen.value}) in {written.seconds:.1f} s"
    )
    # to a pipe or a device (such as stdout) the line goes to stderr, never among the rows
    (err_console if written.size is None else console).print(line, highlight=False, soft_wrap=True)
    if retired and not written.rows:
        err_console.print(
            f"note: topic {topic!r} is retired (the topics file in force no longer defines it): views of current"
            " tags have none of its rows; its alerts stay in v_alerts, and `newsmon topics retag --topics FILE`"
            " with a file that defines it brings its tags back",
            highlight=False, soft_wrap=True,
        )  # fmt: skip


def _format_of(output: Path) -> ExportFormat:
    found = _SUFFIXES.get(output.suffix.lower())
    if found is None:
        raise ConfigError(f"cannot tell the format of {output.name}: add --format parquet, csv or jsonl")
    return found


def _start(bound: date | datetime) -> datetime:
    """The first moment a ``--since`` bound lets in (a date: its midnight, UTC)."""
    return bound if isinstance(bound, datetime) else datetime(bound.year, bound.month, bound.day, tzinfo=UTC)


def _end(bound: date | datetime) -> datetime:
    """The last moment an ``--until`` bound lets in (a date: the whole day, UTC)."""
    return bound if isinstance(bound, datetime) else _start(bound) + timedelta(days=1, microseconds=-1)


def _bound(value: str | None, option: str) -> date | datetime | None:
    """A filter bound: a date alone (``2023-05-01``) or a time (UTC unless it has an offset)."""
    if value is None:
        return None
    try:
        return date.fromisoformat(value.strip())
    except ValueError:
        return parse_time(value, option)


def _progress(name: str) -> Callable[[int], None] | None:
    """Rows written so far on stderr, at most twice a second, when stderr is a terminal."""
    if not err_console.is_terminal:
        return None
    last = [0.0]

    def show(rows: int) -> None:
        now = time.monotonic()
        if now - last[0] >= 0.5:
            last[0] = now
            sys.stderr.write(f"\rexporting {name}: {rows:,} rows")
            sys.stderr.flush()

    return show
