"""``newsmon run`` and ``newsmon serve``: the monitor flow, once or on a schedule.

Prefect is imported only here, inside the commands, so that the other commands start fast.
"""

from __future__ import annotations

import logging
import os
import signal
import sys
import time
import warnings
from collections.abc import Callable
from datetime import datetime, timedelta
from pathlib import Path
from typing import Annotated, Any

import typer

from cli.app import ConfigOption, DbOption, app, console, err_console, print_wait
from cli.report import quiet_console, summary_lines
from newsmon.config import check_inputs, load_settings
from newsmon.errors import ConfigError, NewsmonError, StorageError
from newsmon.schedule import backfill_start, parse_time, serve_plan
from newsmon.service import RunOutcome
from storage.lock import set_wait_notifier


def _prepare_prefect_env() -> None:
    """Defaults that make the first run on a fresh machine work (set only if unset)."""
    # A fresh PREFECT_HOME needs ~10 s of database setup: the default 20 s start-up timeout
    # of the ephemeral API fails first runs on slow machines.
    os.environ.setdefault("PREFECT_SERVER_EPHEMERAL_STARTUP_TIMEOUT_SECONDS", "120")
    os.environ.setdefault("PREFECT_LOGGING_EXTRA_LOGGERS", "newsmon,storage")
    # The telemetry heartbeat of the embedded server races its own SQLite writes.
    os.environ.setdefault("PREFECT_SERVER_ANALYTICS_ENABLED", "false")
    # How long a run waits for an API call, and so how long the API watchdog lets the API be
    # silent before it ends the run (Prefect's default is 60 s).
    os.environ.setdefault("PREFECT_API_REQUEST_TIMEOUT", "30")


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
    fetch_pages: Annotated[
        bool | None,
        typer.Option(
            "--fetch-pages/--no-fetch-pages",
            help="fetch each new feed item's article page, or keep the feed's summary only"
            " [default: fetch_pages in newsmon.toml or NEWSMON_FETCH_PAGES, else fetch]",
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

      newsmon run --feeds feeds.toml --no-fetch-pages

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
    clock = parse_time(now) if now is not None else None
    start = backfill_start(since, clock)
    settings = load_settings(
        config, db=db, seeds=seeds, topics=topics, alerts_dir=alerts_dir, feeds=feeds, fetch_pages=fetch_pages
    )
    check_inputs(settings, seeds_given=seeds is not None)  # before Prefect starts
    _prepare_prefect_env()
    from flows.monitor import RunSummary, monitor
    from flows.watchdog import ApiWatchdog

    _quiet_newsmon_tracebacks()
    quiet_console()
    set_wait_notifier(print_wait)  # also when the command is called without main() (tests)
    signal.signal(signal.SIGTERM, _exit_on_sigterm)
    # A stop (SIGTERM, Ctrl-C) that cuts an HTTP request short leaves httpcore's tracing
    # coroutine unawaited; Python would say so while the run ends as it was told to.
    warnings.filterwarnings("ignore", r"coroutine 'Trace\.__aexit__' was never awaited", RuntimeWarning)
    started = time.perf_counter()
    with ApiWatchdog(on_lost=_end_run_without_api):
        state = monitor(settings, now=clock, since=start, return_state=True)
    outcome = state.result(raise_on_failure=False)
    if isinstance(outcome, BaseException):
        raise outcome
    if not isinstance(outcome, RunSummary):
        raise TypeError(f"the monitor flow returned {type(outcome).__name__}")
    summary = outcome
    width = console.width if console.is_terminal else int(os.environ.get("COLUMNS") or 120)
    for line in summary_lines(summary, settings, time.perf_counter() - started, width):
        console.print(line, highlight=False, markup=False, soft_wrap=True)
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


class _ErrorShownOnce(logging.Filter):
    """On the console, drop the records that repeat the error the command prints itself as its
    last line: the flow's own error record and Prefect's "Finished in state Failed('…')"."""

    def filter(self, record: logging.LogRecord) -> bool:
        if getattr(record, "newsmon_error", False):
            return False
        return not (record.levelno <= logging.INFO and record.getMessage().startswith("Finished in state Failed("))


def _quiet_newsmon_tracebacks() -> None:
    """Keep Prefect's console from printing tracebacks for user-facing newsmon errors, and from
    printing the run's final error before the command prints it (once)."""
    quiet, once = _OneLineErrors(), _ErrorShownOnce()
    for logger in [logging.getLogger(), *(logging.getLogger(n) for n in list(logging.root.manager.loggerDict))]:
        for handler in getattr(logger, "handlers", []):
            if quiet not in handler.filters:
                handler.addFilter(quiet)
            if isinstance(handler, logging.StreamHandler) and once not in handler.filters:
                handler.addFilter(once)  # consoles only: the run's log in Prefect keeps both


def _exit_on_sigterm(signum: int, _frame: object) -> None:
    """SIGTERM before or after the flow, and at the end of its crash handling (Prefect's own
    handler records the crash during the flow, then signals the process again, which lands
    here): end now with the temporary API server and any workers, rather than let the
    signal's default action orphan them or a full interpreter shutdown wait on them."""
    from cli.app import was_interrupted
    from newsmon.processes import exit_now

    if was_interrupted():  # Ctrl-C that stopped a database query, whose stop ends here too
        os.write(2, b"newsmon: interrupted\n")
        exit_now(128 + signal.SIGINT)
    os.write(2, b"newsmon: stopped by SIGTERM\n")
    exit_now(128 + signum)


def _end_run_without_api(cause: str) -> None:
    """The API watchdog's verdict: print the one-line error and end the run as a kill would."""
    from newsmon.processes import exit_now

    advice = (
        "start it again (PREFECT_API_URL), then run again"
        if os.environ.get("PREFECT_API_URL")
        else "run again (a new temporary API starts with the run)"
    )
    err_console.print()  # Prefect's log worker may have left a line unfinished on stderr
    err_console.print(
        f"newsmon: error: {cause}; the run was ended as a killed run would be (committed batches are kept): {advice}",
        highlight=False,
        markup=False,
        soft_wrap=True,
    )
    exit_now(1)


@app.command()
def serve(
    interval: Annotated[
        str | None, typer.Option("--interval", help="run every DURATION, e.g. 90s, 15m, 2h [default 30m]")
    ] = None,
    cron: Annotated[
        str | None, typer.Option("--cron", help="run at the times of a cron expression in UTC, e.g. '*/15 * * * *'")
    ] = None,
    db: DbOption = None,
    seeds: Annotated[Path | None, typer.Option("--seeds", help="folder of documents", show_default=False)] = None,
    feeds: Annotated[Path | None, typer.Option("--feeds", help="feeds TOML file", show_default=False)] = None,
    topics: Annotated[Path | None, typer.Option("--topics", help="topics TOML file", show_default=False)] = None,
    config: ConfigOption = None,
) -> None:
    """Run the monitor now, then on a schedule, until stopped (Ctrl-C or SIGTERM).

    Each run is a `newsmon run` with the same options, in a process of its own; runs never
    overlap (a time that passes while a run goes on is skipped). After each run one line says
    how it ended and when the next one is. Runs report to the Prefect server at
    PREFECT_API_URL, or to a local one started on 127.0.0.1 (its UI address is printed), whose
    state goes to PREFECT_HOME when that is set, else to .newsmon-prefect/ beside the database.

    A stop ends a run in progress within seconds (what it committed is kept; the next run
    marks it crashed), stops the local server, and exits with code 0.

    Examples:

      newsmon serve --interval 15m

      newsmon serve --cron "*/30 * * * *" --feeds feeds.toml

      PREFECT_HOME=/var/lib/newsmon/prefect newsmon serve --db /var/lib/newsmon/news.duckdb
    """
    from newsmon.server import LocalPrefectServer, server_home
    from newsmon.service import Service

    plan = serve_plan(interval, cron)
    settings = load_settings(config, db=db, seeds=seeds, feeds=feeds, topics=topics)
    check_inputs(settings, seeds_given=seeds is not None)
    options = {"--db": db, "--seeds": seeds, "--feeds": feeds, "--topics": topics, "--config": config}
    command = [sys.executable, "-m", "cli", "run"]
    command += [part for name, value in options.items() if value is not None for part in (name, str(value.resolve()))]
    server: LocalPrefectServer | None = None
    env: dict[str, str] = {}

    def before_run() -> dict[str, str]:
        if server is not None and server.exit_code() is not None:
            code, log = server.exit_code(), server.log_path
            _say(f"the local Prefect server had stopped (exit code {code}, log {log}): starting it again")
            server.start(stopping=lambda: service.stopping)
        return env

    service = Service(plan, command, report=_run_reporter(settings.db), before_run=before_run)
    signal.signal(signal.SIGTERM, service.request_stop)
    signal.signal(signal.SIGINT, service.request_stop)
    try:
        if os.environ.get("PREFECT_API_URL"):
            _say(f"runs report to the Prefect API at {os.environ['PREFECT_API_URL']}")
            _warn_unless_answering(os.environ["PREFECT_API_URL"])
        else:
            home, why = server_home(settings.db)
            server = LocalPrefectServer(home)
            _say(f"starting a local Prefect server; its state goes to {home} ({why}) ...")
            if server.start(stopping=lambda: service.stopping):
                env = {"PREFECT_API_URL": server.api_url, "PREFECT_HOME": str(home)}
                _say(f"Prefect UI at http://127.0.0.1:{server.port} (server log {server.log_path})")
        if not service.stopping:
            _say(f"serving {settings.db}: a run now, then {plan.describe()}; Ctrl-C or SIGTERM stops")
            service.serve()
    finally:
        if server is not None:
            server.stop()
    _say("stopped")


def _warn_unless_answering(url: str) -> None:
    """One line now if the configured Prefect API does not answer (it may come up later: serve
    goes on, and each run it starts meanwhile fails in one line)."""
    from flows.watchdog import check_api

    try:
        check_api(url)
    except ConfigError as err:
        _say(f"warning: {err}; runs fail until it answers")


def _say(message: str) -> None:
    console.print(f"newsmon: {message}", highlight=False, markup=False, soft_wrap=True)


def _run_reporter(db: Path) -> Callable[[RunOutcome, datetime | None], None]:
    """The line ``newsmon serve`` prints after each run: how it ended and when the next one is."""

    def report(outcome: RunOutcome, next_at: datetime | None) -> None:
        line = f"run {outcome.number} {_run_outcome(outcome, db)}"
        if next_at is not None:
            line += f"; next run at {next_at:%Y-%m-%d %H:%M:%S} UTC"
        _say(line)

    return report


def _run_outcome(outcome: RunOutcome, db: Path) -> str:
    """How a run ended, in words: from its exit code and its row in ``v_runs`` (read from the snapshot)."""
    took = f"{outcome.seconds:.1f} s"
    if outcome.stopped:
        return f"stopped after {took} (its committed batches are kept; the next run marks it crashed)"
    row = _latest_run(db, outcome.started_at)
    code = outcome.exit_code
    if code == 0 and row is not None and row["status"] == "completed":
        return (
            f"completed in {took}: {row['documents_new']} new documents, {row['stories_new']} new stories,"
            f" {row['tags_new']} new tags, {row['alerts']} alerts"
        )
    how = f"killed by signal {-code}" if code is not None and code < 0 else f"exit code {code}"
    error = (row or {}).get("error") or "see its messages above"
    return f"failed after {took} ({how}): {error}"


def _latest_run(db: Path, since: datetime) -> dict[str, Any] | None:
    """The row of ``v_runs`` of the run started at or after ``since``, if the snapshot has one."""
    from storage.database import open_reader, run_query

    try:
        con = open_reader(db)
    except StorageError:
        return None
    try:
        columns, rows = run_query(
            con,
            "SELECT status, documents_new, stories_new, tags_new, alerts, error FROM v_runs"
            " WHERE started_at >= ? ORDER BY started_at DESC LIMIT 1",
            [since - timedelta(seconds=1)],
        )
    except StorageError:
        return None
    finally:
        con.close()
    return dict(zip(columns, rows[0], strict=True)) if rows else None
