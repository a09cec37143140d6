"""The reading commands: ``newsmon sql``, ``newsmon runs`` and ``newsmon alerts``.

They open the database read-only (the snapshot of the last run unless ``--live``) and never
import Prefect.
"""

from __future__ import annotations

import csv
import json
import re
import sys
from datetime import date, datetime, timedelta
from decimal import Decimal
from enum import StrEnum
from typing import Annotated, Any

import typer
from rich.markdown import Markdown
from rich.table import Table

from cli.app import ConfigOption, DbOption, app, console, when, wide
from newsmon.config import load_settings


class OutputFormat(StrEnum):
    """Output formats of ``newsmon sql``."""

    table = "table"
    csv = "csv"
    json = "json"


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
        out = wide()  # pipes: don't squeeze to 80
        out.print(table)
        out.print(f"{len(rows)} row{'s' if len(rows) != 1 else ''}", style="dim")


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
    stages.sort(key=lambda row: _STAGE_ORDER.index(row[1]) if row[1] in _STAGE_ORDER else len(_STAGE_ORDER))
    for run_id, stage, items_in, items_out, skipped, seconds in stages:
        extra = f" -{skipped}" if skipped else ""
        per_run.setdefault(run_id, []).append(f"{stage} {items_in}→{items_out}{extra} {seconds:.1f}s")
    table = Table("started (UTC)", "run", "status", "seconds", "stages (in→out -skipped time)", "error")
    for run_id, started, status, seconds, error in rows:
        table.add_row(
            when(started), run_id, status, f"{seconds:.1f}" if seconds is not None else "",
            "; ".join(per_run.get(run_id, [])), (error or "")[:120],
        )  # fmt: skip
    wide().print(table)


_RUNS_SQL = "SELECT run_id, started_at, status, seconds, error FROM v_runs ORDER BY started_at DESC LIMIT ?"
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
