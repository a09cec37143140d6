"""``newsmon topics list|test|retag``: the topic definitions in force, back-tests on the stored
documents, and re-tagging history with changed definitions."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import typer
from rich.console import Console
from rich.table import Table

from cli.app import ConfigOption, DbOption, app, console, err_console, wide
from newsmon.config import Settings, load_settings

if TYPE_CHECKING:
    from newsmon.models import Document, Review, ReviewItem, Stratum
    from newsmon.review import Estimate
    from newsmon.topics import Backtest, Topic
    from storage.store import Store

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


def _load_topic_file(settings: Settings, name: str | None) -> tuple[list[Topic], list[Topic]]:
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
    loaded, _ = _load_topic_file(settings, None)
    status: dict[str, tuple[str, int]] = {}
    reviewed: dict[str, str] = {}
    if settings.db.exists():
        from storage.store import Store, open_reader

        con = open_reader(settings.db)
        try:
            store = Store.on_connection(con, settings.db)
            status = store.topics.status()
            reviewed = _review_summaries(store)
        finally:
            con.close()
    columns = ("topic", "name", "version", "scoring", "in database", "documents", "latest review")
    table = Table(*columns, title=str(settings.topics_path))
    for t in loaded:
        stored, count = status.get(t.slug, (None, None))
        if stored is None:
            where = "not yet" if settings.db.exists() else ""
        else:
            where = "this version" if stored == t.version else f"{stored} (run `newsmon topics retag {t.slug}`)"
        scoring = "rules + semantic" if t.semantic else "rules"
        review = reviewed.get(t.slug, "")
        table.add_row(t.slug, t.name, t.version, scoring, where, "" if count is None else str(count), review)
    out = wide()
    out.print(table)
    if not settings.db.exists():
        out.print(f"no database at {settings.db}: counts appear after `newsmon run`", style="dim", highlight=False)


def _review_summaries(store: Store) -> dict[str, str]:
    """Per topic, the figures of its latest review (once a document of it is judged), as one table cell."""
    from newsmon.review import Judgement, score_review

    out: dict[str, str] = {}
    for rev in store.reviews.latest():
        items = store.reviews.items(rev.id)
        judgements = [Judgement(i.document_id, i.stratum, i.label, i.stratum == "tagged") for i in items]
        score = score_review(store.reviews.strata(rev.id), judgements)
        if score.judged:
            out[rev.topic] = (
                f"P {_estimate(score.precision)}, R {_estimate(score.recall)}"
                f" ({score.judged} judged, version {rev.topic_version}, {rev.drawn_at:%Y-%m-%d})"
            )
    return out


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
    examples and counterexamples come out right. Reads the database only; nothing is saved.

    Examples:

      newsmon topics test russia-sanctions --file my-topics.toml

      newsmon topics test covid-origins --db data/news.duckdb --samples 10
    """
    from newsmon.topics import Backtest, check_examples, tag_documents
    from storage.store import Store, open_reader

    settings = load_settings(config, topics=topics, db=db)
    _, (topic,) = _load_topic_file(settings, name)
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
        what = "example NOT tagged" if check.expected else "counterexample tagged"
        out.print(f"  ! {what}: {check.text}", highlight=False, markup=False)
    out.print("nothing was saved; to apply: edit the topics file in force, then `newsmon topics retag`", style="dim")


def _print_backtest(out: Console, test: Backtest, settings: Settings, titles: dict[str, str], samples: int) -> None:
    """Print a back-test's counts and samples of added and dropped documents."""
    topic = test.topic
    now_version = ", ".join(test.stored_versions) if test.stored_versions else "none"
    same = " (the same definition)" if test.same_definition else ""
    out.print(
        f"{topic.slug}: version {topic.version} from {settings.topics_path}{same}\n"
        f"would tag {len(test.new)} of {test.documents} stored documents; tagged now: {len(test.current)}"
        f" (version {now_version})\n"
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
    _, chosen = _load_topic_file(settings, name)
    if not settings.db.exists():
        raise DatabaseMissingError(f"no database at {settings.db}: run `newsmon run` first or pass --db PATH")
    store = Store.open_writer(settings.db, settings.lock_timeout_s)
    run_id, now, t0 = f"retag-{uuid.uuid4()}", datetime.now(UTC), time.perf_counter()
    tags = documents = 0
    try:
        before = store.topics.status()
        store.runs.start(run_id, now, f"topics retag {name or 'all'}", __version__)
        columns = (TextColumn("retag"), BarColumn(), MofNCompleteColumn(), TextColumn("documents"), TimeElapsedColumn())
        with Progress(*columns, console=err_console, transient=False) as progress:
            task = progress.add_task("retag", total=store.documents.count())
            tags = retag_stored(
                store, chosen, run_id, now, settings.batch_size, tag_documents,
                progress=lambda done, _total: progress.update(task, completed=done),
            )  # fmt: skip
            documents = store.documents.count()
        store.topics.register(chosen, run_id, now, replace_all=name is None)
        store.runs.record_stage(run_id, "retag", documents, tags, 0, time.perf_counter() - t0)
        store.runs.finish(run_id, "completed", datetime.now(UTC))
    except BaseException as err:
        store.runs.finish(run_id, "failed", datetime.now(UTC), f"{type(err).__name__}: {err}")
        raise
    finally:
        store.close()
    changed = [f"{t.slug} {t.version}" for t in chosen if before.get(t.slug, ("",))[0] != t.version]
    console.print(
        f"retagged {documents} documents with {len(chosen)} topic(s): {tags} tags; current versions changed: "
        + (", ".join(changed) or "none"),
        highlight=False,
    )


@topics_app.command("review")
def topics_review(
    name: Annotated[str, typer.Argument(help="the topic to review (its slug)")],
    out: Annotated[
        Path | None, typer.Option("--out", help="the sheet to write [default: ./<review id>.csv]", show_default=False)
    ] = None,
    tagged: Annotated[int, typer.Option("--tagged", min=0, help="documents to draw among those it tags")] = 50,
    near: Annotated[
        int, typer.Option("--near", min=0, help="documents to draw among the untagged ones holding a query word")
    ] = 30,
    rest: Annotated[int, typer.Option("--rest", min=0, help="documents to draw among all the others")] = 20,
    seed: Annotated[
        int | None, typer.Option("--seed", help="random seed [default: a new one, recorded]", show_default=False)
    ] = None,
    topics: TopicsFileOption = None,
    db: DbOption = None,
    config: ConfigOption = None,
) -> None:
    """Draw a sample of the stored documents for a reader to judge, blind, whether they are about
    a topic: some it tags, some it does not tag although they hold one of its words, some of the
    rest. Writes a CSV sheet with an empty label column (yes, no or unsure) and records the
    draw in the database; `newsmon topics judge` reads the sheet back and `newsmon topics score`
    turns the labels into precision and recall for the whole store.

    Examples:

      newsmon topics review russia-sanctions

      newsmon topics review covid-origins --tagged 100 --near 50 --rest 0 --out covid.csv
    """
    import secrets
    import uuid
    from collections.abc import Iterator
    from datetime import UTC, datetime

    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

    from newsmon.errors import DatabaseMissingError, OutputError
    from newsmon.models import Review
    from newsmon.review import draw_review, make_review_id, sort_strata, write_sheet
    from storage.store import Store

    settings = load_settings(config, topics=topics, db=db)
    _, (topic,) = _load_topic_file(settings, name)
    if not settings.db.exists():
        raise DatabaseMissingError(f"no database at {settings.db}: run `newsmon run` first or pass --db PATH")
    if out is not None and out.exists():
        raise OutputError(f"{out} already exists: pass another --out, or move it away first")
    now, seed = datetime.now(UTC), secrets.randbelow(2**31) if seed is None else seed
    store = Store.open_writer(settings.db, settings.lock_timeout_s)
    try:
        _require_current(store.topics.status(), topic.slug, topic.version, settings)
        columns = (TextColumn("reading"), BarColumn(), MofNCompleteColumn(), TimeElapsedColumn())
        with Progress(*columns, console=err_console, transient=True) as progress:
            task = progress.add_task("review", total=store.documents.count())

            def batches() -> Iterator[list[Document]]:
                for batch in store.documents.iter_all(settings.batch_size):
                    yield batch
                    progress.advance(task, len(batch))

            members = sort_strata(batches(), topic, set(store.topics.current_tags(topic.slug)))
        strata, items = draw_review(members, {"tagged": tagged, "near": near, "rest": rest}, seed)
        # the draw's own id, not a monitor run's: recording it in `runs` would move the trend
        # views' "today" (the latest run) to the wall clock, also in a replayed past
        run_id = f"review-{uuid.uuid4()}"
        review = Review(make_review_id(topic.slug, now, seed), topic.slug, topic.version, seed, now, run_id)
        sheet = out or Path(f"{review.id}.csv")
        write_sheet(sheet, review, items, store.documents.by_id([i.document_id for i in items]))
        try:
            store.reviews.create(review, strata, items)
        except BaseException:
            sheet.unlink(missing_ok=True)
            raise
    finally:
        store.close()
    drawn = ", ".join(f"{s.drawn} of {s.population:,} {s.name}" for s in strata)
    console.print(
        f"review {review.id} of {topic.slug} (version {topic.version}): {len(items)} documents drawn ({drawn})\n"
        f"sheet: {sheet}\n"
        f"label each row yes, no or unsure for: {' '.join(topic.description.split())}\n"
        f"then: newsmon topics judge {sheet}",
        highlight=False,
        markup=False,
    )


def _require_current(status: dict[str, tuple[str, int]], slug: str, version: str, settings: Settings) -> None:
    """Fail unless the database's tags of ``slug`` were made by ``version`` (a review judges them)."""
    from newsmon.errors import ConfigError

    stored = status.get(slug, (None, 0))[0]
    if stored != version:
        held = f"version {stored}" if stored else "no tags"
        raise ConfigError(
            f"the database {settings.db} holds {held} of {slug}, the topics file {settings.topics_path} version"
            f" {version}: run `newsmon topics retag {slug}` first, so that the tags reviewed are this definition's"
        )


@topics_app.command("judge")
def topics_judge(
    sheet: Annotated[Path, typer.Argument(help="a review sheet with its label column filled in")],
    db: DbOption = None,
    config: ConfigOption = None,
) -> None:
    """Store the labels of a review sheet (yes, no or unsure; empty rows are left for later).
    Storing the same sheet again changes nothing, and a corrected label replaces the old one.

    Examples:

      newsmon topics judge rv-russia-sanctions-20261207-3fa2c1.csv

      newsmon topics judge covid.csv --db data/news.duckdb
    """
    import uuid
    from datetime import UTC, datetime

    from newsmon.errors import DatabaseMissingError
    from newsmon.review import check_sheet, read_sheet
    from storage.store import Store

    settings = load_settings(config, db=db)
    rows = read_sheet(sheet)
    if not rows:
        console.print(f"no labels in {sheet} yet: fill its label column with yes, no or unsure", highlight=False)
        return
    if not settings.db.exists():
        raise DatabaseMissingError(f"no database at {settings.db}: pass the --db the review was drawn from")
    now, run_id = datetime.now(UTC), f"judge-{uuid.uuid4()}"
    store = Store.open_writer(settings.db, settings.lock_timeout_s)
    try:
        review_ids = sorted({r.review_id for r in rows})
        drawn = {rid: {i.document_id for i in store.reviews.items(rid)} for rid in review_ids if store.reviews.get(rid)}
        check_sheet(rows, drawn, sheet)
        unique = {(r.review_id, r.document_id): (r.review_id, r.document_id, r.label, r.note) for r in rows}
        changed = store.reviews.store_labels(list(unique.values()), run_id, now)
        progress = {rid: store.reviews.items(rid) for rid in review_ids}
        topics_of = {rid: review.topic for rid in review_ids if (review := store.reviews.get(rid))}
    finally:
        store.close()
    console.print(f"{len(rows)} labels read from {sheet}, {changed} new or changed", highlight=False)
    for rid, items in progress.items():
        counts = {label: sum(1 for i in items if i.label == label) for label in ("yes", "no", "unsure")}
        judged = sum(counts.values())
        console.print(
            f"  {rid}: {judged} of {len(items)} judged (yes {counts['yes']}, no {counts['no']},"
            f" unsure {counts['unsure']}); figures: newsmon topics score {topics_of[rid]}",
            highlight=False,
        )


@topics_app.command("score")
def topics_score(
    name: Annotated[str | None, typer.Argument(help="only this topic [default: every reviewed topic]")] = None,
    review: Annotated[
        str | None, typer.Option("--review", help="this review [default: the latest of each topic]", show_default=False)
    ] = None,
    topics: TopicsFileOption = None,
    db: DbOption = None,
    config: ConfigOption = None,
    samples: Annotated[int, typer.Option("--samples", min=0, help="wrong tags and misses to show")] = 5,
) -> None:
    """Precision and recall of a topic on the store, from a review's labels so far: each judged
    document stands for its share of the store, and the intervals are 95 %. When the topics
    file's definition differs from the one reviewed, it is scored on the same labels too, so a
    change can be judged before `newsmon topics retag`. Reads the database only.

    Examples:

      newsmon topics score

      newsmon topics score russia-sanctions --topics my-topics.toml
    """
    from newsmon.errors import ConfigError
    from newsmon.topics import load_topics
    from storage.store import Store, open_reader

    settings = load_settings(config, topics=topics, db=db)
    by_slug = {t.slug: t for t in load_topics(settings.topics_path)}
    con = open_reader(settings.db)
    try:
        store = Store.on_connection(con, settings.db)
        reviews = [r for r in [store.reviews.get(review)] if r] if review else store.reviews.latest(name)
        if not reviews:
            what = f"review {review}" if review else f"review of {name or 'any topic'}"
            raise ConfigError(f"no {what} in {settings.db}: draw one with `newsmon topics review <topic>`")
        loaded = [(r, store.reviews.strata(r.id), store.reviews.items(r.id)) for r in reviews]
        documents = store.documents.by_id([i.document_id for _, _, items in loaded for i in items if i.label])
    finally:
        con.close()
    out = wide()
    for rev, strata, items in loaded:
        _print_score(out, rev, strata, items, documents, by_slug.get(rev.topic), settings, samples)


def _print_score(
    out: Console,
    rev: Review,
    strata: list[Stratum],
    items: list[ReviewItem],
    documents: dict[str, Document],
    topic: Topic | None,
    settings: Settings,
    samples: int,
) -> None:
    """Print one review's figures for the version reviewed and, when it differs, for the
    topics file's definition; then its wrong tags and misses."""
    from newsmon.review import STRATA, Judgement, score_review
    from newsmon.topics import tag_documents

    strata = sorted(strata, key=lambda s: STRATA.index(s.name) if s.name in STRATA else len(STRATA))

    judged = [documents[i.document_id] for i in items if i.label and i.document_id in documents]
    tags = {t.document_id: t for t in tag_documents(judged, [topic])} if topic is not None else {}
    rows = [(f"version {rev.topic_version} (reviewed)", {i.document_id for i in items if i.stratum == "tagged"})]
    if topic is not None and topic.version != rev.topic_version:
        rows.append((f"version {topic.version} ({settings.topics_path.name})", set(tags)))
    counts = {label: sum(1 for i in items if i.label == label) for label in ("yes", "no", "unsure")}
    out.print(
        f"{rev.id}: {rev.topic}, drawn {rev.drawn_at:%Y-%m-%d %H:%M} (seed {rev.seed}); "
        + ", ".join(f"{s.name} {s.drawn} of {s.population:,}" for s in strata)
        + f"\njudged {sum(counts.values())} of {len(items)}: yes {counts['yes']}, no {counts['no']},"
        f" unsure {counts['unsure']}",
        highlight=False,
        markup=False,
    )
    table = Table("definition", "right", "wrong", "missed", "precision", "recall", "F1", "about the topic")
    scored = []
    for label, predicted in rows:
        judgements = [Judgement(i.document_id, i.stratum, i.label, i.document_id in predicted) for i in items]
        score = score_review(strata, judgements)
        scored.append((label, predicted))
        table.add_row(
            label, str(score.true_positives), str(score.false_positives), str(score.misses),
            _estimate(score.precision), _estimate(score.recall), "" if score.f1 is None else f"{score.f1:.3f}",
            f"~{score.positives:,.0f} documents",
        )  # fmt: skip
    out.print(table)
    if topic is None:
        out.print(f"{rev.topic} is not in {settings.topics_path}: only the reviewed version is scored", style="dim")
    unread = [s.name for s in strata if s.population and not any(i.label for i in items if i.stratum == s.name)]
    if unread:
        out.print(
            f"no document of the {' or '.join(unread)} stratum is judged yet: the figures leave "
            + ("them" if len(unread) > 1 else "it")
            + " out (recall is then recall among the strata judged)",
            highlight=False,
            markup=False,
        )
    label, predicted = scored[-1]
    titles = {d.id: d.title for d in judged}
    wrong = [i.document_id for i in items if i.label == "no" and i.document_id in predicted]
    missed = [i.document_id for i in items if i.label == "yes" and i.document_id not in predicted]
    for what, ids in ((f"wrong tags of {label}", wrong), (f"missed by {label}", missed)):
        if ids and samples:
            out.print(f"{what} (first {min(samples, len(ids))} of {len(ids)}):", highlight=False, markup=False)
        for doc_id in ids[:samples]:
            out.print(f"  - {titles.get(doc_id, doc_id)}", highlight=False, markup=False)
            if doc_id in tags:
                out.print(f"      evidence: {tags[doc_id].evidence[:200]}", style="dim", highlight=False, markup=False)
    out.print(
        "each judged document stands for its stratum's share of the store as it was when drawn;"
        " unsure ones count neither way",
        style="dim",
    )


def _estimate(estimate: Estimate) -> str:
    """A proportion and its interval as a table cell."""
    if estimate.value is None:
        return "n/a"
    return f"{estimate.value:.3f} [{estimate.low:.2f}-{estimate.high:.2f}]"
