"""``newsmon run`` and ``newsmon serve``: the monitor flow, once or on a schedule.

Prefect is imported only here, inside the commands, so that the other commands start fast.
"""

from __future__ import annotations

import logging
import os
import time
from pathlib import Path
from typing import Annotated, Any

import typer

from cli.app import ConfigOption, DbOption, app, console
from cli.report import quiet_console, summary_lines
from newsmon.config import check_inputs, load_settings, settings_parameters
from newsmon.errors import NewsmonError
from newsmon.schedule import backfill_start, parse_time, serve_schedule


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
    clock = parse_time(now) if now is not None else None
    start = backfill_start(since, clock)
    settings = load_settings(config, db=db, seeds=seeds, topics=topics, alerts_dir=alerts_dir, feeds=feeds)
    check_inputs(settings, seeds_given=seeds is not None)  # before Prefect starts
    _prepare_prefect_env()
    from flows.monitor import RunSummary, monitor

    _quiet_newsmon_tracebacks()
    quiet_console()
    started = time.perf_counter()
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


def _quiet_newsmon_tracebacks() -> None:
    """Keep Prefect's console from printing tracebacks for user-facing newsmon errors."""
    quiet = _OneLineErrors()
    for logger in [logging.getLogger(), *(logging.getLogger(n) for n in list(logging.root.manager.loggerDict))]:
        for handler in getattr(logger, "handlers", []):
            if quiet not in handler.filters:
                handler.addFilter(quiet)


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

    seconds = serve_schedule(interval, cron)
    settings = load_settings(config, db=db, seeds=seeds, feeds=feeds, topics=topics)
    params = settings_parameters(settings)
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
