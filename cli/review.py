"""``newsmon topics review | judge | score``: a reader's sample of a topic's tags on the store,
the labels it comes back with, and the precision and recall they give (see
:mod:`newsmon.review`)."""

from __future__ import annotations

import shlex
from collections.abc import Collection, Iterator
from dataclasses import dataclass, replace
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import typer
from rich.console import Console
from rich.table import Table

from cli.app import ConfigOption, DbOption, check_closed, console, db_flag, err_console, plural, wide
from cli.topics import TopicsFileOption, load_topic_file, topics_app
from newsmon.config import Settings, load_settings
from newsmon.errors import ConfigError
from newsmon.review import DEFAULT_SIZES

if TYPE_CHECKING:
    from newsmon.models import Document, Review, ReviewItem, Stratum, Tag
    from newsmon.review import Estimate, ReviewScore
    from newsmon.topics import Topic
    from storage.store import Store


def scan_documents(store: Store, batch_size: int, what: str) -> Iterator[list[Document]]:
    """Every stored document in batches, with a progress bar on stderr while it lasts."""
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

    columns = (TextColumn(what), BarColumn(), MofNCompleteColumn(), TimeElapsedColumn())
    with Progress(*columns, console=err_console, transient=True) as progress:
        task = progress.add_task(what, total=store.documents.count())
        for batch in store.documents.iter_all(batch_size):
            yield batch
            progress.advance(task, len(batch))


def require_current(status: dict[str, tuple[str, int]], topic: Topic, settings: Settings) -> None:
    """Fail unless the database's tags of the topic were made by its version in the file."""
    stored = status.get(topic.slug, (None, 0))[0]
    if stored != topic.version:
        held = f"version {stored}" if stored else "no current version"
        file = f" --topics {shlex.quote(str(settings.topics))}" if settings.topics is not None else ""
        raise ConfigError(
            f"the database {settings.db} holds {held} of {topic.slug}, the topics file {settings.topics_path} version"
            f" {topic.version}: run `newsmon topics retag {topic.slug}{file}{db_flag(settings)}` first, so that the"
            " tags reviewed are this definition's"
        )


@topics_app.command("review")
def topics_review(
    name: Annotated[str, typer.Argument(help="the topic to review (its slug)")],
    out: Annotated[
        Path | None, typer.Option("--out", help="the sheet to write [default: ./<review id>.csv]", show_default=False)
    ] = None,
    tagged: Annotated[
        int, typer.Option("--tagged", min=0, help="documents to draw among those it tags")
    ] = DEFAULT_SIZES["tagged"],
    near: Annotated[
        int, typer.Option("--near", min=0, help="documents to draw among the untagged ones holding a query word")
    ] = DEFAULT_SIZES["near"],
    rest: Annotated[int, typer.Option("--rest", min=0, help="documents to draw among all the others")] = DEFAULT_SIZES[
        "rest"
    ],
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
    turns the labels into precision and recall for the whole store. Reads the snapshot; takes
    the writer lock only to record the draw.

    Examples:

      newsmon topics review russia-sanctions

      newsmon topics review covid-origins --tagged 100 --near 60 --rest 40 --out covid.csv
    """
    import secrets
    import uuid
    from datetime import UTC, datetime

    from newsmon.errors import DatabaseMissingError, OutputError
    from newsmon.models import Review
    from newsmon.review import draw_review, make_review_id, sort_strata, write_sheet
    from storage.store import Store, open_reader

    settings = load_settings(config, topics=topics, db=db)
    _, (topic,) = load_topic_file(settings, name)
    if not settings.db.exists():
        raise DatabaseMissingError(f"no database at {settings.db}: run `newsmon run` first or pass --db PATH")
    if out is not None and out.exists():
        raise OutputError(f"{out} already exists: pass another --out, or move it away first")
    now, seed = datetime.now(UTC), secrets.randbelow(2**31) if seed is None else seed
    con = open_reader(settings.db)
    try:
        reader = Store.on_connection(con, settings.db)
        if not reader.reviews.available():
            raise ConfigError(
                f"the snapshot of {settings.db} predates reviews: run `newsmon run` once, then draw the review again"
            )
        require_current(reader.topics.status(), topic, settings)
        store_run_at, store_run_seq = reader.runs.latest_monitor_start(), reader.runs.latest_seq()
        current = set(reader.topics.current_tags(topic.slug))
        members = sort_strata(scan_documents(reader, settings.batch_size, "reading"), topic, current)
        strata, drawn = draw_review(members, {"tagged": tagged, "near": near, "rest": rest}, seed)
        documents = reader.documents.by_id([i.document_id for i in drawn])
    finally:
        con.close()
    if not drawn:
        raise ConfigError(f"nothing to draw for {topic.slug} in {settings.db}: the store is empty or every size is 0")
    items = [replace(i, text_hash=documents[i.document_id].text_hash) for i in drawn]
    # the draw's own id, not a monitor run's: recording it in `runs` would move the trend
    # views' "today" (the latest run) to the wall clock, also in a replayed past
    review_id, draw_id = make_review_id(topic.slug, now, seed), f"review-{uuid.uuid4()}"
    review = Review(review_id, topic.slug, topic.version, seed, now, draw_id, store_run_at, store_run_seq)
    sheet = out or Path(f"{review.id}.csv")
    write_sheet(sheet, review, items, documents)
    try:
        store = Store.open_writer(settings.db, settings.lock_timeout_s)
        try:
            require_current(store.topics.status(), topic, settings)  # a re-tag may have run meanwhile
            store.reviews.create(review, strata, items, members)
        finally:
            store.close()
        check_closed(store)
    except BaseException:
        sheet.unlink(missing_ok=True)
        raise
    _print_drawn(review, topic, strata, len(items), sheet)


def _print_drawn(review: Review, topic: Topic, strata: list[Stratum], drawn: int, sheet: Path) -> None:
    """What was drawn, where the sheet is, and what the reader judges against."""
    counts = ", ".join(f"{s.drawn} of {s.population:,} {s.name}" for s in strata)
    console.print(
        f"review {review.id} of {topic.slug} (version {topic.version}): {drawn} documents drawn ({counts})\n"
        f"sheet: {sheet}\n"
        f"label each row yes, no or unsure for: {' '.join(topic.description.split()) or topic.name}\n"
        f"then: newsmon topics judge {sheet}",
        highlight=False,
        markup=False,
    )


@topics_app.command("judge")
def topics_judge(
    sheet: Annotated[Path, typer.Argument(help="a review sheet with its label column filled in")],
    db: DbOption = None,
    config: ConfigOption = None,
) -> None:
    """Store the labels of a review sheet (yes, no or unsure). Every row is checked first, then
    all labels are stored or none. Rows left empty are left for later (an empty label never
    clears a stored one); storing the same sheet again changes nothing, and a corrected label
    replaces the old one.

    Examples:

      newsmon topics judge rv-russia-sanctions-20261207-3fa2c1.csv

      newsmon topics judge covid.csv --db data/news.duckdb
    """
    import uuid
    from datetime import UTC, datetime

    from newsmon.errors import DatabaseMissingError
    from newsmon.review import check_sheet, count_labels, read_sheet
    from storage.store import Store

    settings = load_settings(config, db=db)
    rows, has_notes = read_sheet(sheet)
    if not rows:
        console.print(f"no labels in {sheet} yet: fill its label column with yes, no or unsure", highlight=False)
        return
    if not settings.db.exists():
        raise DatabaseMissingError(f"no database at {settings.db}: pass the --db the review was drawn from")
    now, judge_id = datetime.now(UTC), f"judge-{uuid.uuid4()}"
    store = Store.open_writer(settings.db, settings.lock_timeout_s)
    try:
        reviews = {rid: r for rid in sorted({row.review_id for row in rows}) if (r := store.reviews.get(rid))}
        check_sheet(rows, {rid: {i.document_id for i in store.reviews.items(rid)} for rid in reviews}, sheet)
        unique: dict[tuple[str, str], tuple[str, str, str, str | None]] = {}
        for row in rows:  # a row given twice with one label: one label, with the note it was given
            key = (row.review_id, row.document_id)
            kept = unique.get(key)
            unique[key] = (*key, row.label, row.note or (kept[3] if kept else None))
        changed = store.reviews.store_labels(list(unique.values()), judge_id, now, keep_notes=not has_notes)
        progress = {rid: store.reviews.items(rid) for rid in reviews}
    finally:
        store.close()
    check_closed(store)
    console.print(f"{plural(len(unique), 'label')} read from {sheet}, {changed} new or changed", highlight=False)
    for rid, items in progress.items():
        counts = count_labels(items)
        console.print(
            f"  {rid}: {sum(counts.values())} of {len(items)} labelled (yes {counts['yes']}, no {counts['no']},"
            f" unsure {counts['unsure']}); figures: newsmon topics score {reviews[rid].topic} --review {rid}",
            highlight=False,
        )


@dataclass(frozen=True, slots=True)
class Scored:
    """One definition's figures on a review: its label, its score, and its calls on the judged documents."""

    label: str
    score: ReviewScore
    predicted: set[str]
    evidence: dict[str, Tag]
    dropped: int = 0  # labels not counted: their document changed or is gone


@topics_app.command("score")
def topics_score(
    name: Annotated[str | None, typer.Argument(help="only this topic [default: every reviewed topic]")] = None,
    review: Annotated[
        str | None,
        typer.Option("--review", help="this review [default: the latest judged one of each topic]", show_default=False),
    ] = None,
    topics: TopicsFileOption = None,
    db: DbOption = None,
    config: ConfigOption = None,
    samples: Annotated[int, typer.Option("--samples", min=0, help="wrong tags and misses to show")] = 5,
) -> None:
    """Precision and recall of a topic on the store, from a review's labels so far: each judged
    document stands for its share of the store, and the intervals are 95 %. When the topics
    file's definition differs from the one reviewed, it is run on the stored documents and
    scored on the same labels too, so a change can be judged before `newsmon topics retag`.
    Reads the snapshot only.

    Examples:

      newsmon topics score

      newsmon topics score russia-sanctions --topics my-topics.toml

      newsmon topics score --review rv-russia-sanctions-20261207-3fa2c1
    """
    from newsmon.topics import load_topics
    from storage.store import Store, open_reader

    settings = load_settings(config, topics=topics, db=db)
    by_slug = {t.slug: t for t in load_topics(settings.topics_path)}
    out = wide()
    con = open_reader(settings.db)
    try:
        store = Store.on_connection(con, settings.db)
        if not store.reviews.available():
            raise ConfigError(f"the snapshot of {settings.db} predates reviews: run `newsmon run` once to update it")
        for rev in _chosen_reviews(store, name, review, settings, by_slug):
            strata, items = store.reviews.strata(rev.id), store.reviews.items(rev.id)
            scored = [_score_reviewed(store, rev, strata, items)]
            candidate = by_slug.get(rev.topic)
            if candidate is not None and candidate.version != rev.topic_version:
                if rev.store_run_at is not None:  # drawn since migration 0011: it kept its strata's documents
                    scored.append(_score_candidate(store, rev, strata, items, candidate, settings))
                else:
                    out.print(
                        f"{rev.id} was drawn before newsmon kept the documents of its strata: it scores only the"
                        f" version reviewed; draw a new review to score {settings.topics_path.name} on it",
                        highlight=False,
                        markup=False,
                    )
            _print_scores(out, store, rev, (strata, items), scored, settings, samples, known=candidate is not None)
    finally:
        con.close()


def _chosen_reviews(
    store: Store, name: str | None, review: str | None, settings: Settings, known: Collection[str]
) -> list[Review]:
    """The review asked for, or the latest judged review of each topic (of ``name``), else its
    latest; a one-line error if none."""
    if review is not None:
        found = store.reviews.get(review)
        if found is None:
            listing = 'newsmon sql "select * from v_topic_reviews"'
            raise ConfigError(f"no review {review} in {settings.db}: see the reviews with `{listing}`")
        if name is not None and found.topic != name:
            raise ConfigError(f"review {review} is of {found.topic}, not {name}: drop one of them")
        return [found]
    latest = store.reviews.latest(name)
    if not latest:
        if name is not None and name not in known:
            raise ConfigError(
                f"no topic {name} in {settings.topics_path} nor any review of it in {settings.db}:"
                " `newsmon topics list` shows the topics"
            )
        raise ConfigError(
            f"no review of {name or 'any topic'} in {settings.db}: draw one with `newsmon topics review"
            f" {name or '<topic>'}`"
        )
    judged = {r.topic: r for r in store.reviews.latest(name, judged=True)}
    return [judged.get(r.topic, r) for r in latest]


def _score_reviewed(store: Any, rev: Review, strata: list[Stratum], items: list[ReviewItem]) -> Scored:
    """The version reviewed: it tags exactly the tagged stratum (its stored tags give the evidence)."""
    from newsmon.review import score_reviewed

    predicted = {i.document_id for i in items if i.stratum == "tagged"}
    evidence = store.topics.version_tags(rev.topic, rev.topic_version, sorted(predicted))
    return Scored(f"version {rev.topic_version} (reviewed)", score_reviewed(strata, items), predicted, evidence)


def _score_candidate(
    store: Store, rev: Review, strata: list[Stratum], items: list[ReviewItem], topic: Topic, settings: Settings
) -> Scored:
    """A changed definition: run on the documents stored when the review was drawn, its tags
    counted per stratum; documents judged on a text that has changed since, or that are gone,
    count as not judged."""
    from newsmon.review import STRATA, Judgement, score_review
    from newsmon.topics import tag_documents

    members = store.reviews.members(rev.id)
    drawn = {i.document_id for i in items}
    later = store.documents.stored_after(rev.store_run_seq) if rev.store_run_seq is not None else set()
    tags: dict[str, Tag] = {}
    tagged_in = dict.fromkeys(STRATA, 0)
    texts: dict[str, str] = {}
    for batch in scan_documents(store, settings.batch_size, "tagging"):
        texts.update((doc.id, doc.text_hash) for doc in batch if doc.id in drawn)
        for tag in tag_documents([doc for doc in batch if doc.id not in later], [topic]):
            tagged_in[members.get(tag.document_id, "rest")] += 1
            if tag.document_id in drawn:
                tags[tag.document_id] = tag
    kept = {i.document_id for i in items if texts.get(i.document_id) == i.text_hash}
    judgements = [
        Judgement(i.document_id, i.stratum, i.label if i.document_id in kept else None, i.document_id in tags)
        for i in items
    ]
    label = f"version {topic.version} ({settings.topics_path.name})"
    dropped = sum(1 for i in items if i.label and i.document_id not in kept)
    return Scored(label, score_review(strata, judgements, tagged_in), set(tags), tags, dropped)


def _print_scores(
    out: Console,
    store: Store,
    rev: Review,
    drawn: tuple[list[Stratum], list[ReviewItem]],
    scored: list[Scored],
    settings: Settings,
    samples: int,
    known: bool,
) -> None:
    """One review: what was drawn and judged, a row of figures per definition, what they leave
    out, and the last definition's wrong tags and misses."""
    from newsmon.review import count_labels

    strata, items = drawn
    counts = count_labels(items)
    out.print(
        f"{rev.id}: {rev.topic}, drawn {rev.drawn_at:%Y-%m-%d %H:%M} (seed {rev.seed}); "
        + ", ".join(f"{s.name} {s.drawn} of {s.population:,}" for s in strata)
        + f"\nlabelled {sum(counts.values())} of {len(items)}: yes {counts['yes']}, no {counts['no']},"
        f" unsure {counts['unsure']}",
        highlight=False,
        markup=False,
    )
    table = Table("definition", "right", "wrong", "missed", "precision", "recall", "F1", "about the topic")
    for row in scored:
        sc = row.score
        about = f"~{plural(round(sc.positives), 'document')}"
        table.add_row(
            row.label, str(sc.true_positives), str(sc.false_positives), str(sc.misses), format_estimate(sc.precision),
            format_estimate(sc.recall), format_estimate(sc.f1), about,
        )  # fmt: skip
    out.print(table)
    for row in scored:
        if row.dropped:
            out.print(
                f"{row.label}: {plural(row.dropped, 'label')} not counted (their document was stored again with"
                " another text, or is gone)",
                highlight=False,
                markup=False,
            )
        if row.score.unread:
            out.print(
                f"{row.label}: nothing judged yes or no in {'; '.join(row.score.unread)}: the estimates leave it out"
                " and the intervals allow for all it could hold; draw more there to narrow them",
                highlight=False,
                markup=False,
            )
    if not known:
        out.print(f"{rev.topic} is not in {settings.topics_path}: only the reviewed version is scored", style="dim")
    _print_errors(out, store, items, scored[-1], samples)
    out.print("each judged document stands for its share of the store as it was when drawn; unsure ones count"
              " neither way", style="dim")  # fmt: skip


def _print_errors(out: Console, store: Store, items: list[ReviewItem], row: Scored, samples: int) -> None:
    """A definition's wrong tags (with their evidence) and misses among the judged documents."""
    wrong = [i.document_id for i in items if i.label == "no" and i.document_id in row.predicted]
    missed = [i.document_id for i in items if i.label == "yes" and i.document_id not in row.predicted]
    titles = {d.id: d.title for d in store.documents.by_id((wrong + missed)[: 2 * samples] if samples else []).values()}
    for what, ids in ((f"wrong tags of {row.label}", wrong), (f"missed by {row.label}", missed)):
        if ids and samples:
            out.print(f"{what} (first {min(samples, len(ids))} of {len(ids)}):", highlight=False, markup=False)
        for doc_id in ids[:samples]:
            out.print(f"  - {titles.get(doc_id, doc_id)}", highlight=False, markup=False)
            if doc_id in row.evidence:
                evidence = row.evidence[doc_id].evidence[:200]
                out.print(f"      evidence: {evidence}", style="dim", highlight=False, markup=False)


def summarize_reviews(store: Store) -> dict[str, str]:
    """Per topic, the figures of its latest judged review (a document labelled yes or no), as one
    table cell."""
    out: dict[str, str] = {}
    if not store.reviews.available():  # a snapshot made before reviews: nothing to show yet
        return out
    from newsmon.review import score_reviewed

    for rev in store.reviews.latest(judged=True):
        score = score_reviewed(store.reviews.strata(rev.id), store.reviews.items(rev.id))
        if score.clear:
            caveat = "; nothing judged yes or no in " + "; ".join(score.unread) if score.unread else ""
            out[rev.topic] = (
                f"P {format_estimate(score.precision)}, R {format_estimate(score.recall)}"
                f" ({score.clear} yes or no, version {rev.topic_version}, {rev.drawn_at:%Y-%m-%d}{caveat})"
            )
    return out


def format_estimate(estimate: Estimate) -> str:
    """A proportion and its interval as a table cell."""
    if estimate.value is None:
        return "n/a"
    return f"{estimate.value:.3f} [{estimate.low:.3f}-{estimate.high:.3f}]"
