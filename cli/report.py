"""The end-of-run summary: what a run did, what failed and why (by failure class, one example
each), and what to do next; every line fits the terminal."""

from __future__ import annotations

import logging
import shlex
import textwrap
from datetime import UTC, datetime
from pathlib import Path

from cli.app import db_flag, plural
from newsmon.config import Settings
from newsmon.documents import SUPPORTED_SUFFIXES, describe_other_types
from newsmon.errors import failure_hint
from newsmon.models import FailureTally
from newsmon.pipeline import RunSummary

LABEL = 9  # width of the left column


def summary_lines(summary: RunSummary, settings: Settings, seconds: float, width: int) -> list[str]:
    """The run's summary, one fact per line, folded to ``width`` characters (a failure's
    example, which can be long, is cut instead)."""
    lines = [f"newsmon: run {summary.run_id[:8]} completed in {_seconds(seconds)}; database {settings.db}"]
    read = f"{summary.files_seen} files ({summary.files_skipped} skipped)"
    if summary.files_other:
        read += f"; {describe_other_types(summary.files_other)} not read"
    if settings.feeds_path is not None:
        read += f"; {_feeds(summary)}"
    lines.append(_row("read", read))
    if summary.pages_fetched or summary.pages_failed:
        lines.append(_row("pages", f"{summary.pages_fetched} fetched, {summary.pages_failed} failed"))
    lines.append(
        _row(
            "stored",
            f"{summary.documents_new} new documents, {summary.stories_new} new stories, "
            f"{summary.tags_new + summary.retagged} tags ({_changed(summary)}"
            f"{plural(summary.documents_unchanged, 'document')} unchanged)",
        )
    )
    lines.append(_row("alerts", ", ".join(summary.alerts) if summary.alerts else "none (nothing new)"))
    if summary.notified:
        tried = ", ".join(f"{n} {status}" for status, n in sorted(summary.notified.items()))
        failed = " (failed ones are retried next run)" if summary.notified.get("failed") else ""
        lines.append(_row("notified", f"{tried}{failed}: {DELIVERIES_HINT}"))
    if summary.notify_waiting:
        n = summary.notify_waiting
        lines.append(
            _row(
                "notified",
                f"{n} deliver{'ies' if n != 1 else 'y'} waiting for a later run (quiet hours, a daily digest's time,"
                " or a slow receiver: the log says which)",
            )
        )
    if summary.notify_held:
        n = summary.notify_held
        lines.append(
            _row(
                "notified",
                f"{n} alert{'s' if n != 1 else ''} held: the notify file could not be read (the log says why);"
                " they are sent by the first run after it is fixed",
            )
        )
    lines = [wrapped for line in lines for wrapped in _wrap(line, width)]
    lines.extend(_cut(line, width) for line in failure_lines(summary.failures))  # examples may be cut
    lines.extend(wrapped for line in hint_lines(summary, settings) for wrapped in _wrap(line, width))
    return lines


def failure_lines(tallies: list[FailureTally]) -> list[str]:
    """One line per (scope, class): ``feed refused ×2, e.g. URL: message``, then what it means."""
    lines: list[str] = []
    for n, tally in enumerate(tallies):
        example = tally.example
        what = f"{tally.count} {tally.scope}{'s' if tally.count != 1 else ''} {tally.kind}"
        lines.append(_row("failed" if n == 0 else "", f"{what}: e.g. {example.url}: {_one_line(example.message)}"))
        todo = failure_hint(tally.kind).partition(": ")[2]
        if todo:
            lines.append(_row("", f"  → {todo}"))
    return lines


def hint_lines(summary: RunSummary, settings: Settings) -> list[str]:
    """Next steps the run's outcome calls for."""
    hints: list[str] = []
    db = db_flag(settings)  # commands to paste
    feeds = f"{db} --feeds {shlex.quote(str(settings.feeds))}" if settings.feeds is not None else db
    if summary.feeds_failing:
        n = summary.feeds_failing
        hints.append(
            f"next: {n} feed{'s' if n != 1 else ''} failing: `newsmon feeds list --failing{feeds}` shows why;"
            f" after a fix, `newsmon feeds check NAME{feeds}` polls it now"
        )
    if summary.topics_dropped:
        hints.append(
            f"note: {', '.join(summary.topics_dropped)} no longer in {_topics_file(settings)}: their tags are kept"
            " but left out of the views; define them there again to show them"
        )
    if summary.files_other:
        supported = " ".join(sorted(SUPPORTED_SUFFIXES))
        hints.append(f"note: newsmon reads {supported} files; convert the others to text to have them read")
    elif settings.feeds_path is None and summary.files_seen == 0:
        hints.append(
            f"next: nothing to read: put documents in {_folder(settings.seeds)}, or add a feed with"
            " `newsmon feeds add URL`"
        )
    if summary.documents_new:
        stories = 'newsmon sql "select * from v_stories"'
        hints.append(f"next: `{stories}{db}` or `newsmon alerts{db}` to see the results")
    return hints


def _folder(path: Path) -> str:
    """A folder as the user gave it, a relative one as such (``./seeds``)."""
    text = str(path)
    return text if path.is_absolute() or text.startswith(".") else f"./{text}"


def _topics_file(settings: Settings) -> str:
    """The topics file in force, as a user knows it."""
    return str(settings.topics) if settings.topics is not None else "the shipped topics (no topics file set)"


class _QuietTaskRuns(logging.Filter):
    """Drop the task runs' "Finished in state Completed()" lines from the console (they stay in
    Prefect's UI): a run's own progress and summary lines say more."""

    def filter(self, record: logging.LogRecord) -> bool:
        done = record.getMessage().startswith("Finished in state Completed")
        return not (record.name == "prefect.task_runs" and done)


def quiet_console() -> None:
    """Install :class:`_QuietTaskRuns` on the console handlers (the root logger's and Prefect's)."""
    quiet = _QuietTaskRuns()
    for name in ("", "prefect", "prefect.task_runs", "prefect.flow_runs"):
        for handler in logging.getLogger(name).handlers:
            quieted = any(isinstance(f, _QuietTaskRuns) for f in handler.filters)
            if isinstance(handler, logging.StreamHandler) and not quieted:
                handler.addFilter(quiet)


def _feeds(summary: RunSummary) -> str:
    """``3 feeds: 1 polled (0 not modified), 1 failed; 2 failing; next poll 14:05 UTC``."""
    polled = f"{summary.feeds_listed} feeds: {summary.feeds_polled} polled ({summary.feeds_not_modified} not modified)"
    polled += f", {summary.feeds_failed} failed" if summary.feeds_failed else ""
    failing = f"; {summary.feeds_failing} failing" if summary.feeds_failing else ""
    due = summary.feeds_next_due
    when = f"; next poll {_when(due)}" if due is not None else ""
    return polled + failing + when


def _when(moment: datetime) -> str:
    """``14:05 UTC`` today, else ``Dec 07 14:05 UTC``."""
    utc = moment.astimezone(UTC) if moment.tzinfo else moment.replace(tzinfo=UTC)
    return f"{utc:%H:%M} UTC" if utc.date() == datetime.now(UTC).date() else f"{utc:%b %d %H:%M} UTC"


DELIVERIES_HINT = '`newsmon sql "select * from v_deliveries"`'


def _changed(summary: RunSummary) -> str:
    """``N stored documents changed (updated), `` when a document read again had other content."""
    n = summary.documents_changed
    return f"{plural(n, 'stored document')} changed (updated), " if n else ""


def _row(label: str, text: str) -> str:
    return f"  {label:<{LABEL}} {text}"


def _one_line(text: str) -> str:
    return " ".join(text.split())


def _wrap(line: str, width: int) -> list[str]:
    """A line folded to ``width`` (continuations indented under its text), never cut."""
    indent = " " * (len(line) - len(line.lstrip()) + (LABEL + 1 if line.startswith("  ") else 6))
    return textwrap.wrap(line, width, subsequent_indent=indent, break_long_words=False, break_on_hyphens=False) or [""]


def _cut(line: str, width: int) -> str:
    return line if len(line) <= width else line[: max(width - 1, 10)] + "…"


def _seconds(seconds: float) -> str:
    return f"{seconds:.1f} s" if seconds < 120 else f"{seconds / 60:.1f} min"
