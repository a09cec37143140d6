"""``newsmon topics list|test|retag``: the topic definitions in force, back-tests on the stored
documents, and re-tagging history with changed definitions."""

from __future__ import annotations

import json
import shlex
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import typer
from rich.console import Console
from rich.table import Table

from cli.app import ConfigOption, DbOption, app, check_closed, console, db_flag, err_console, wide
from newsmon.config import Settings, load_settings

if TYPE_CHECKING:
    from newsmon.topics import Backtest, Topic

topics_app = typer.Typer(
    help="Inspect, back-test, re-apply and review topic definitions (topics.toml).\n\nExamples:\n\n"
    "  newsmon topics list\n\n  newsmon topics test russia-sanctions --file my-topics.toml\n\n"
    "  newsmon topics retag\n\n"
    "  newsmon topics review russia-sanctions    # then: topics judge SHEET, topics score",
    no_args_is_help=True,
)
app.add_typer(topics_app, name="topics")

TopicsFileOption = Annotated[
    Path | None,
    typer.Option(
        "--topics", "--file", help="topics TOML file [default: the configured or shipped topics]", show_default=False
    ),
]


def load_topic_file(settings: Settings, name: str | None) -> tuple[list[Topic], list[Topic]]:
    """All topics of the configured file, and those selected by ``name`` (all when None)."""
    from newsmon.topics import load_topics, select_topics

    topics = load_topics(settings.topics_path)
    return topics, select_topics(topics, name, settings.topics_path)


@topics_app.command("list")
def topics_list(
    topics: TopicsFileOption = None,
    db: DbOption = None,
    config: ConfigOption = None,
) -> None:
    """List the topics with their versions, and (when there is a database) the version stored
    there, how many documents it tagged, and the precision and recall of the latest review
    judged (`newsmon topics review`).

    Examples:

      newsmon topics list

      newsmon topics list --topics my-topics.toml --db data/news.duckdb
    """
    settings = load_settings(config, topics=topics, db=db)
    loaded, _ = load_topic_file(settings, None)
    status: dict[str, tuple[str, int]] = {}
    known: dict[tuple[str, str], int] = {}
    reviewed: dict[str, str] = {}
    if settings.db.exists():
        from cli.review import summarize_reviews
        from storage.store import Store, open_reader

        con = open_reader(settings.db)
        try:
            store = Store.on_connection(con, settings.db)
            status = store.topics.status()
            known = store.topics.version_counts([(t.slug, t.version) for t in loaded])
            reviewed = summarize_reviews(store)
        finally:
            con.close()
    columns = ("topic", "name", "version", "scoring", "in database", "documents", "latest review")
    table = Table(*columns, title=str(settings.topics_path))
    for t in loaded:
        stored, count = status.get(t.slug, (None, None))
        retag = f"run `newsmon topics retag {t.slug}{_file_flag(topics)}{db_flag(settings)}`"
        if stored == t.version:
            where = "this version"
        elif (t.slug, t.version) in known:  # tagged before, but another version (or none) is current
            where, count = f"this version, not current ({retag})", known[(t.slug, t.version)]
        elif stored is None:
            where = "not yet" if settings.db.exists() else ""
        else:
            where = f"{stored} ({retag})"
        scoring = "rules + semantic" if t.semantic else "rules"
        review = reviewed.get(t.slug, "")
        table.add_row(t.slug, t.name, t.version, scoring, where, "" if count is None else str(count), review)
    out = wide()
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
    examples and counterexamples come out right (exit status 1 if one does not). Reads the
    database only; nothing is saved.

    Examples:

      newsmon topics test russia-sanctions --file my-topics.toml

      newsmon topics test covid-origins --db data/news.duckdb --samples 10
    """
    from newsmon.topics import Backtest, check_examples, tag_documents
    from storage.store import Store, open_reader

    settings = load_settings(config, topics=topics, db=db)
    _, (topic,) = load_topic_file(settings, name)
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
    out = wide()
    _print_backtest(out, Backtest(topic, total, current, new), settings, titles, samples)
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
        what = "example NOT tagged" if check.expected else f"counterexample tagged (by {check.clause})"
        out.print(f"  ! {what}: {check.text}", highlight=False, markup=False)
    out.print(f"nothing was saved; {_apply_hint(topic.slug, topics, settings)}", style="dim", highlight=False)
    if failed:  # a script checking a topics file before it is used stops here
        raise typer.Exit(1)


def _file_flag(given: Path | None) -> str:
    """`` --topics FILE`` for a command to paste, when a topics file was given on the command line."""
    return f" --topics {shlex.quote(str(given))}" if given is not None else ""


def _apply_hint(slug: str, given: Path | None, settings: Settings) -> str:
    """How to apply a back-tested definition: retag with the same file, and keep it for runs
    (a run with another topics file hides this topic's tags again)."""
    db = db_flag(settings)
    if given is None:
        return f"to apply: `newsmon topics retag {slug}{db}`"
    file = shlex.quote(str(given))
    return (
        f"to apply: `newsmon topics retag {slug} --topics {file}{db}`, and make {file} the topics file"
        f" of every run (topics = {json.dumps(str(given))} in newsmon.toml, or NEWSMON_TOPICS)"
    )


def _print_backtest(out: Console, test: Backtest, settings: Settings, titles: dict[str, str], samples: int) -> None:
    """Print a back-test's counts and samples of added and dropped documents."""
    topic = test.topic
    now_version = f" (version {', '.join(test.stored_versions)})" if test.stored_versions else ""
    same = " (the same definition)" if test.same_definition else ""
    out.print(
        f"{topic.slug}: version {topic.version} from {settings.topics_path}{same}\n"
        f"would tag {len(test.new)} of {test.documents} stored documents; tagged now: {len(test.current)}"
        f"{now_version}\n"
        f"+{len(test.added)} added, -{len(test.dropped)} dropped, {test.kept} kept",
        highlight=False,
        markup=False,
    )
    for sign, label, ids, tags in (("+", "added", test.added, test.new), ("-", "dropped", test.dropped, test.current)):
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
    defined, chosen = load_topic_file(settings, name)
    if not settings.db.exists():
        raise DatabaseMissingError(f"no database at {settings.db}: run `newsmon run` first or pass --db PATH")
    store = Store.open_writer(settings.db, settings.lock_timeout_s)
    run_id, now, t0 = f"retag-{uuid.uuid4()}", datetime.now(UTC), time.perf_counter()
    tags = documents = 0
    try:
        before = store.topics.status()
        dropped = store.topics.current_other_than([t.slug for t in defined])
        store.runs.start(run_id, now, f"topics retag {name or 'all'}", __version__, kind="retag")
        columns = (TextColumn("retag"), BarColumn(), MofNCompleteColumn(), TextColumn("documents"), TimeElapsedColumn())
        with Progress(*columns, console=err_console, transient=False) as progress:
            task = progress.add_task("retag", total=store.documents.count())
            tags = retag_stored(
                store, chosen, run_id, now, settings.batch_size, tag_documents,
                progress=lambda done, _total: progress.update(task, completed=done),
            )  # fmt: skip
            documents = store.documents.count()
        store.topics.register(chosen, run_id, now, replace_all=name is None, retire=dropped)
        store.runs.record_stage(run_id, "retag", documents, tags, 0, time.perf_counter() - t0)
        store.runs.finish(run_id, "completed", datetime.now(UTC))
    except BaseException as err:
        store.runs.finish(run_id, "failed", datetime.now(UTC), f"{type(err).__name__}: {err}")
        raise
    finally:
        store.close()
    check_closed(store)
    changed = [f"{t.slug} {t.version}" for t in chosen if before.get(t.slug, ("",))[0] != t.version]
    console.print(
        f"retagged {documents} documents with {len(chosen)} topic(s): {tags} tags; current versions changed: "
        + (", ".join(changed) or "none"),
        highlight=False,
    )
    if dropped:
        console.print(
            f"not in {settings.topics_path}, so left out of the views (their tags are kept): {', '.join(dropped)};"
            " define them there again to show them",
            highlight=False,
            soft_wrap=True,
        )
