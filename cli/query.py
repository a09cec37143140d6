"""The reading commands: ``newsmon sql``, ``newsmon runs`` and ``newsmon alerts``.

They open the database read-only (the snapshot of the last run unless ``--live``) and never
import Prefect.
"""

from __future__ import annotations

import json
import os
import sys
import textwrap
from collections.abc import Callable
from enum import StrEnum
from pathlib import Path
from typing import Annotated, Any, TextIO

import typer
from rich.markdown import Markdown
from rich.table import Table

from cli.app import ConfigOption, DbOption, app, console, err_console, refuse_output_over_inputs, when, wide
from newsmon.config import load_settings
from newsmon.errors import ConfigError, InputError, OutputError, QueryError
from newsmon.results import (
    DEFAULT_MAX_WIDTH,
    json_records,
    one_line,
    render_markdown,
    render_table,
    write_csv,
    write_jsonl,
)
from newsmon.text import shorten


class OutputFormat(StrEnum):
    """Output formats of ``newsmon sql``."""

    table = "table"
    csv = "csv"
    json = "json"
    jsonl = "jsonl"
    markdown = "markdown"
    parquet = "parquet"


# --output's suffix gives the format when --format is not given (another suffix: the table)
_SUFFIXES = {
    ".csv": OutputFormat.csv, ".json": OutputFormat.json, ".jsonl": OutputFormat.jsonl, ".ndjson": OutputFormat.jsonl,
    ".md": OutputFormat.markdown, ".parquet": OutputFormat.parquet,
}  # fmt: skip


def _public_views() -> list[str]:
    """The public views (``v_*``) that ``storage/views`` defines, in their files' order."""
    from storage.catalog import public_views

    return [v.name for v in public_views()]


_SQL_HELP = """Run read-only SQL against the database: one statement, or a script of several.

    Public views: {views}. The tables behind them are internal; `newsmon sql --views` lists
    each view with its columns (--format json, csv or jsonl: for scripts). Queries read the
    snapshot published after the last run, so they never block a running monitor (--live reads
    the file itself, possible only between runs). The connection is read-only with external
    access disabled (no files, no network).

    The table format fits the terminal (COLUMNS when the output is not a terminal): columns are
    sized to their content, long text is cut with an ellipsis (--max-width per cell), and a
    result too wide for columns is shown one record per row. Each statement of a script is
    answered in turn, after a header line (-- [2/3] select ...). A query that starts with a
    `--` comment would read as an option: put `--` before it (newsmon sql -- "-- note ..."), or
    use --file.

    Examples:

      newsmon sql "select topic, count(*) from v_document_topics group by 1"

      newsmon sql "select * from v_stories order by documents desc limit 10" --format csv

      newsmon sql --file report.sql --format markdown

      echo "select * from v_runs" | newsmon sql - --format jsonl

      newsmon sql "select * from v_documents" --format parquet --output documents.parquet

      newsmon sql --views

      newsmon sql --views --format json
    """


@app.command(help=_SQL_HELP.format(views=", ".join(_public_views())))
def sql(
    query: Annotated[
        str | None, typer.Argument(help="SQL: one statement or several separated by ';' ('-': read it from stdin)")
    ] = None,
    file: Annotated[
        Path | None, typer.Option("--file", "-F", help="read the SQL from this file", show_default=False)
    ] = None,
    views: Annotated[
        bool, typer.Option("--views", help="list the public views, their columns and what each holds")
    ] = False,
    db: DbOption = None,
    config: ConfigOption = None,
    fmt: Annotated[
        OutputFormat | None,
        typer.Option(
            "--format", "-f", help="output format [default: table, or from --output's suffix]", show_default=False
        ),
    ] = None,
    output: Annotated[
        Path | None,
        typer.Option(
            "--output", "-o", help="write to this file instead of the terminal (needed for parquet; - is the terminal)"
        ),
    ] = None,
    max_width: Annotated[
        int, typer.Option("--max-width", min=0, help="widest a cell is shown in table and markdown (0: no limit)")
    ] = DEFAULT_MAX_WIDTH,
    live: Annotated[
        bool, typer.Option("--live", help="read the database file itself, not the snapshot of the last run")
    ] = False,
) -> None:
    """Run read-only SQL (help: ``_SQL_HELP``, listing every public view)."""
    from newsmon.exports import is_stdout

    settings = load_settings(config, db=db)
    if views and (query is not None or file is not None):
        raise ConfigError("give a query or --views, not both")
    text = "" if views else _query_text(query, file)
    if output is not None and is_stdout(output) and fmt is not OutputFormat.parquet:
        output = None  # `-o -` is the terminal, as `-` is stdin for the query (Parquet: its bytes)
    if output is not None:
        refuse_output_over_inputs(output, settings, config)
    if views and fmt is None and output is None:
        _print_views(settings.db, live)
        return
    if fmt is None:
        fmt = _format_of(output) if output is not None else OutputFormat.table
    if fmt is OutputFormat.parquet and output is None:
        raise OutputError("--format parquet writes a file: add --output FILE.parquet")
    if views:
        _write_views(settings.db, live, fmt, output, max_width)
        return
    from storage.store import open_reader

    con = open_reader(settings.db, live=live)
    try:
        if fmt is OutputFormat.parquet:
            assert output is not None
            _sql_to_parquet(con, text, output)
        elif output is not None:
            _to_file(output, lambda out: _answer(con, text, fmt, max_width, out))
        else:
            _answer(con, text, fmt, max_width, sys.stdout)
    finally:
        con.close()


def _format_of(output: Path) -> OutputFormat:
    """The format --output's suffix gives: a table for .txt or no suffix (a device such as
    /dev/stdout); another suffix is an error, not a file in a format it does not name."""
    suffix = output.suffix.lower()
    if suffix in _SUFFIXES:
        return _SUFFIXES[suffix]
    if suffix in {"", ".txt"}:
        return OutputFormat.table
    names = " ".join(sorted({*_SUFFIXES, ".txt"}))
    raise ConfigError(f"cannot tell the format of {output.name}: use a suffix of {names}, or add --format")


def _query_text(query: str | None, file: Path | None) -> str:
    """The SQL to run: the argument, stdin (``-``) or the file; exactly one of them."""
    if query is not None and file is not None:
        raise ConfigError("give the SQL as an argument or with --file, not both")
    if file is not None:
        try:
            return file.read_text(encoding="utf-8")
        except (OSError, UnicodeDecodeError) as err:
            raise InputError(f"cannot read SQL file {file} ({err}): check the path") from err
    if query is None:
        raise ConfigError('no query: newsmon sql "select * from v_stories limit 5" (or --file F, or - for stdin)')
    return sys.stdin.read() if query == "-" else query


def terminal_width() -> int:
    """Cells a line may take: the terminal's width, else COLUMNS, else 120."""
    if sys.stdout.isatty():
        try:
            return os.get_terminal_size(sys.stdout.fileno()).columns
        except (OSError, ValueError):
            pass
    try:
        columns = int(os.environ.get("COLUMNS", ""))
    except ValueError:
        columns = 0
    return columns if columns > 0 else 120


def _answer(con: Any, text: str, fmt: OutputFormat, max_width: int, out: TextIO) -> int:
    """Run every statement of ``text`` and write each answer to ``out``; the rows written."""
    from storage.exports import run_statement, split_statements, statement_text

    statements = split_statements(con, text)
    width = terminal_width()
    several = len(statements) > 1
    if several and fmt in (OutputFormat.csv, OutputFormat.jsonl) and out is not sys.stdout:
        raise QueryError(
            f"--format {fmt.value} writes one result to a file: give one statement, not {len(statements)}"
            " (or --format json, which writes each statement's rows)"
        )
    answers: list[dict[str, Any]] = []
    total = 0
    for n, statement in enumerate(statements, 1):
        sql_text = statement_text(statement)
        where = f"statement {n} of {len(statements)}" if several else "query"
        columns, rows, returns_rows = run_statement(con, statement, where)
        total += len(rows)
        if fmt is OutputFormat.json:
            answers.append({"statement": " ".join(sql_text.split()).rstrip("; "), "rows": json_records(columns, rows)})
            continue
        if several:
            if n > 1:
                out.write("\n")
            out.write(f"-- [{n}/{len(statements)}] {one_line(sql_text, max(20, width - 12))}\n")
        if not returns_rows:
            out.write("ok\n")
            continue
        _write_result(columns, rows, fmt, max_width, width, out)
        out.flush()
    if fmt is OutputFormat.json:
        body: Any = answers[0]["rows"] if not several else answers
        _write_text(out, json.dumps(body, ensure_ascii=False, indent=1) + "\n")
    return total


def _write_text(out: TextIO, text: str) -> None:
    """``text`` written in pieces of :data:`~newsmon.exports.PIPE_PIECE` characters."""
    from newsmon.exports import PIPE_PIECE

    for start in range(0, len(text), PIPE_PIECE):
        out.write(text[start : start + PIPE_PIECE])


def _write_result(
    columns: list[str], rows: list[tuple[Any, ...]], fmt: OutputFormat, max_width: int, width: int, out: TextIO
) -> None:
    """One statement's rows in a text format."""
    if fmt is OutputFormat.csv:
        write_csv(columns, rows, out)
    elif fmt is OutputFormat.jsonl:
        write_jsonl(columns, rows, out)
    elif fmt is OutputFormat.json:
        _write_text(out, json.dumps(json_records(columns, rows), ensure_ascii=False, indent=1) + "\n")
    elif fmt is OutputFormat.markdown:
        out.writelines(f"{line}\n" for line in render_markdown(columns, rows, max_width or None))
    else:  # line by line, as _write_text
        lines = render_table(columns, rows, width, max_width or None)
        lines.append(f"({len(rows)} row{'s' if len(rows) != 1 else ''})")
        out.writelines(f"{line}\n" for line in lines)


def _to_file(output: Path, fill: Callable[[TextIO], int]) -> None:
    """What ``fill`` writes (it returns the rows) as a text file (replaced only when complete; a
    link is written through, a pipe or a device written to), and a summary line."""
    from newsmon.exports import write_output

    def fill_file(file: Path) -> int:
        with file.open("w", encoding="utf-8", newline="") as handle:
            return fill(handle)

    rows, size = write_output(output, fill_file)
    _print_written(rows, output, size)


def _print_written(rows: int, output: Path, size: int | None) -> None:
    """``wrote N rows to FILE (size)`` on stderr, so that it never mixes with the rows."""
    from newsmon.results import human_size

    if size is None:  # a pipe or a device (such as /dev/stdout): the line goes to stderr
        err_console.print(f"wrote {_rows(rows)} to {output}", highlight=False, soft_wrap=True)
    else:
        console.print(f"wrote {_rows(rows)} to {output} ({human_size(size)})", highlight=False, soft_wrap=True)


def _sql_to_parquet(con: Any, text: str, output: Path) -> None:
    """One statement's rows as a Parquet file, and a summary line."""
    from newsmon.exports import write_batches
    from storage.exports import arrow_reader, split_statements, statement_text

    statements = split_statements(con, text)
    if len(statements) != 1:
        raise QueryError(f"--format parquet writes one result: give one statement, not {len(statements)}")
    written = write_batches(arrow_reader(con, statement_text(statements[0])), "parquet", output)
    _print_written(written.rows, output, written.size)


def _rows(n: int) -> str:
    return f"{n:,} row{'s' if n != 1 else ''}"


def _views_rows(db_path: Path, live: bool) -> tuple[list[str], list[tuple[Any, ...]]]:
    """The public views as rows: name, what it holds, and its column names (a list; empty when the
    database predates the view)."""
    from storage.catalog import public_views, schema_catalog

    catalog = schema_catalog(db_path, live)
    rows: list[tuple[Any, ...]] = []
    for view in public_views():
        obj = catalog.get(view.name)
        rows.append((view.name, view.description, obj.column_names if obj is not None else []))
    return ["view", "description", "columns"], rows


def _write_views(db_path: Path, live: bool, fmt: OutputFormat, output: Path | None, max_width: int) -> None:
    """``--views`` in the format asked for (table, markdown, CSV, JSON, JSON Lines), to the
    terminal or to ``output``."""
    if fmt is OutputFormat.parquet:
        raise OutputError("--views lists as table, markdown, csv, json or jsonl, not parquet")
    columns, rows = _views_rows(db_path, live)
    if fmt not in (OutputFormat.json, OutputFormat.jsonl):  # a list in JSON, text in a cell
        rows = [(name, description, ", ".join(names)) for name, description, names in rows]

    def fill(out: TextIO) -> int:
        _write_result(columns, rows, fmt, max_width, terminal_width(), out)
        return len(rows)

    if output is None:
        fill(sys.stdout)
    else:
        _to_file(output, fill)


def _print_views(db_path: Path, live: bool) -> None:
    """Each public view: its name, what it holds, and its columns (from the database, or from the
    current schema when there is none yet), wrapped to the terminal."""
    width = terminal_width()
    lines: list[str] = []
    for name, description, column_names in _views_rows(db_path, live)[1]:
        lines += textwrap.wrap(f"{name} — {description}", max(30, width), subsequent_indent="  ")
        columns = ", ".join(column_names) if column_names else "(not in this database: run `newsmon run`)"
        lines += [f"    {line}" for line in textwrap.wrap(columns, max(30, width - 4))]
    sys.stdout.write("\n".join(lines) + "\n")


@app.command()
def runs(
    limit: Annotated[int, typer.Option("--limit", "-n", min=1, help="how many recent runs")] = 10,
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
    stages.sort(key=lambda row: _STAGE_ORDER.index(row[1]) if row[1] in _STAGE_ORDER else len(_STAGE_ORDER))
    for run_id, stage, items_in, items_out, skipped, seconds in stages:
        extra = f" -{skipped}" if skipped else ""
        per_run.setdefault(run_id, []).append(f"{stage} {items_in}→{items_out}{extra} {seconds:.1f}s")
    table = Table("started (UTC)", "run", "status", "seconds", "stages (in→out -skipped time)", "error")
    for run_id, started, status, seconds, error in rows:
        table.add_row(
            when(started), run_id, status, f"{seconds:.1f}" if seconds is not None else "",
            "; ".join(per_run.get(run_id, [])), shorten(error or "", 160),
        )  # fmt: skip
    wide().print(table)


# the latest recorded first: runs replayed with one --now share their start time (runs.seq breaks the tie)
_RUNS_SQL = (
    "SELECT v.run_id, v.started_at, v.status, v.seconds, v.error FROM v_runs v JOIN runs r ON r.id = v.run_id"
    " ORDER BY v.started_at DESC, r.seq DESC NULLS LAST LIMIT ?"
)
_STAGES_SQL = (
    "SELECT s.run_id, s.stage, s.items_in, s.items_out, s.skipped, s.seconds FROM run_stages s"
    " JOIN runs r ON r.id = s.run_id ORDER BY r.started_at DESC, s.stage"
)
_STAGE_ORDER = ("ingest", "feeds", "dedupe", "tag", "store", "backfill", "retag", "alert")  # as a run does them


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
    table = Table(
        "topic", "trigger", "new stories", "stories with a copy first seen today", "baseline", "ratio", "score"
    )
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
