"""The ``newsmon`` typer app: the root group and its error handling, the consoles, the options
that several commands share, and the entry point."""

from __future__ import annotations

import gc
import inspect
import logging
import os
import shlex
import signal
import sys
import traceback
import warnings
from datetime import datetime
from pathlib import Path
from types import FrameType
from typing import TYPE_CHECKING, Annotated, Any

import typer
from rich.console import Console
from typer.core import TyperGroup

from newsmon import __version__
from newsmon.errors import Interrupted, NewsmonError
from storage.lock import set_wait_notifier

if TYPE_CHECKING:
    from newsmon.config import Settings

console = Console()
err_console = Console(stderr=True)
for _console in (console, err_console):  # piped or logged, a line is never broken (a command in it stays whole)
    _console.soft_wrap = not _console.is_terminal


class NewsmonGroup(TyperGroup):
    """The root command group: a newsmon error is one line on stderr and exit code 1 (its
    message says what, where and what to do), as is a path the system refuses (a name too
    long); Ctrl-C exits with 130."""

    def invoke(self, ctx: Any) -> Any:  # a click Context (typer's own copy of click in recent releases)
        try:
            return super().invoke(ctx)
        except KeyboardInterrupt as err:
            err_console.print("newsmon: interrupted")
            _release(err)
            raise typer.Exit(130) from None
        except Interrupted as err:  # a signal that stopped a database query (DuckDB's own error)
            err_console.print("newsmon: interrupted" if _interrupted else "newsmon: stopped")
            _release(err)
            raise typer.Exit(130 if _interrupted else 143) from None
        except BrokenPipeError as err:  # the reader went away (`| head`): quiet, as a killed pipe's writer
            _silence_stdout()
            _release(err)
            raise typer.Exit(EXIT_BROKEN_PIPE) from None
        except Exception as err:
            if _interrupted:  # Ctrl-C that surfaced as another error (DuckDB: "Query interrupted")
                err_console.print("newsmon: interrupted")
                _release(err)
                raise typer.Exit(130) from None
            if isinstance(err, OSError) and err.filename is not None:  # a path the system refused
                err = NewsmonError(f"cannot use {err.filename} ({err.strerror or err}): check the path")
            elif not isinstance(err, NewsmonError):
                raise
            err_console.print(f"newsmon: error: {err}", highlight=False, markup=False, soft_wrap=True)
            _release(err)
            raise typer.Exit(1) from None


_interrupted = False  # set by the entry point's SIGINT handler
EXIT_BROKEN_PIPE = 141  # 128 + SIGPIPE: what a shell reports for `yes | head -1`'s writer


def _silence_stdout() -> None:
    """Point stdout at /dev/null, so that nothing left to flush at exit fails again."""
    try:
        fd = sys.stdout.fileno()
    except (OSError, ValueError, AttributeError):  # not a real file (a test's capture)
        return
    devnull = os.open(os.devnull, os.O_WRONLY)
    os.dup2(devnull, fd)
    os.close(devnull)


def was_interrupted() -> bool:
    """Whether Ctrl-C was pressed (a stop may surface as another error or signal)."""
    return _interrupted


def _on_interrupt(signum: int, frame: FrameType | None) -> None:
    """Ctrl-C: remembered, then raised as usual (a query under way turns it into its own error)."""
    global _interrupted
    _interrupted = True
    signal.default_int_handler(signum, frame)


def _release(err: BaseException) -> None:
    """Let go of what the failed command's frames held (database connections among them), so
    that they close now rather than be reported as leaked when the interpreter exits."""
    traceback.clear_frames(err.__traceback__)
    err.__traceback__ = err.__context__ = err.__cause__ = None
    with warnings.catch_warnings():  # an HTTP request cut short leaves coroutines no one will await
        warnings.simplefilter("ignore", RuntimeWarning)
        gc.collect()


app = typer.Typer(
    name="newsmon",
    cls=NewsmonGroup,
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

DbOption = Annotated[
    Path | None,
    typer.Option("--db", help="DuckDB file [env NEWSMON_DB; default ./newsmon.duckdb]", show_default=False),
]
ConfigOption = Annotated[
    Path | None,
    typer.Option("--config", help="TOML config file [default ./newsmon.toml if present]", show_default=False),
]


def keep_examples(text: str | None) -> str | None:
    """A help text whose examples the help formatter prints as written, one command a line (each
    paragraph after "Examples:" is marked with click's no-rewrap marker), so that one pasted
    from a narrow terminal is whole."""
    if not text or "Examples:" not in text:
        return text
    head, examples = inspect.cleandoc(text).split("Examples:", 1)
    paragraphs = [p for p in examples.split("\n\n") if p.strip()]
    return head + "Examples:\n\n" + "\n\n".join("\b\n" + p.strip("\n") for p in paragraphs)


def keep_all_examples(group: typer.Typer) -> None:
    """:func:`keep_examples` on the help of a typer app, its commands and its sub-apps."""
    group.info.help = keep_examples(group.info.help if isinstance(group.info.help, str) else None)
    for command in group.registered_commands:
        if isinstance(command.help, str):
            command.help = keep_examples(command.help)
        elif command.callback is not None:
            command.callback.__doc__ = keep_examples(command.callback.__doc__)
    for sub_group in group.registered_groups:
        if sub_group.typer_instance is not None:
            keep_all_examples(sub_group.typer_instance)


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


def wide() -> Console:
    """The console; when the output is piped, one as wide as ``COLUMNS`` says, else 240 columns
    (no squeezing to 80)."""
    if console.is_terminal:
        return console
    columns = os.environ.get("COLUMNS", "")
    return Console(width=int(columns) if columns.isdigit() and int(columns) > 0 else 240)


def plural(count: int, noun: str) -> str:
    """ "1 label", "2 labels" (with thousands separators)."""
    return f"{count:,} {noun}{'' if count == 1 else 's'}"


def check_closed(store: Any) -> None:
    """The one-line error of a writer whose close left readers the previous snapshot (its
    checkpoint or snapshot failed: the data is committed, but not yet where readers look)."""
    from newsmon.errors import StorageError

    if store.close_error is not None:
        raise StorageError(store.close_error)


def db_flag(settings: Settings) -> str:
    """`` --db PATH`` (quoted for the shell) for a command to paste, or "" when the database
    is the default one."""
    from newsmon.config import Settings

    return f" --db {shlex.quote(str(settings.db))}" if settings.db != Settings.model_fields["db"].default else ""


def refuse_output_over_inputs(output: Path, settings: Settings, config: Path | None) -> None:
    """A one-line error if ``output`` (links followed) is the database, its snapshot or their
    write-ahead logs, or a file newsmon reads its settings from (the config file, the feeds,
    topics and notify files): an export or a query result must never be written over them."""
    from newsmon.config import DEFAULT_CONFIG_FILE
    from newsmon.errors import OutputError
    from newsmon.exports import is_stdout
    from storage.snapshot import snapshot_path, wal_path

    if is_stdout(output):
        return
    db = settings.db
    target = output.resolve()
    if target in {f.resolve() for base in (db, snapshot_path(db)) for f in (base, wal_path(base))}:
        raise OutputError(f"--output {output} is the database itself: write the result to another file")
    inputs = {
        "config file": config or DEFAULT_CONFIG_FILE,
        "feeds file": settings.feeds_path,
        "topics file": settings.topics_path,
        "notify file": settings.notify_path,
    }
    for what, path in inputs.items():
        if path is not None and path.resolve() == target:
            raise OutputError(f"--output {output} is newsmon's {what}: write the result to another file")


def when(value: Any) -> str:
    """A time in a table cell (minutes; empty when there is none)."""
    return value.strftime("%Y-%m-%d %H:%M") if isinstance(value, datetime) else ""


def main() -> None:
    """Entry point: log warnings to stderr and run the CLI (errors: see :class:`NewsmonGroup`)."""
    logging.basicConfig(level=logging.WARNING, format="%(levelname)s %(name)s: %(message)s")
    signal.signal(signal.SIGINT, _on_interrupt)
    set_wait_notifier(print_wait)  # every writer (run, retag, feeds, review) says it waits the same way
    app()


def print_wait(message: str) -> None:
    """How a command says, once, that it waits for the database's writer lock."""
    err_console.print(f"newsmon: {message}", highlight=False, markup=False, soft_wrap=True)
