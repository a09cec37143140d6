"""How far a review's estimates can be trusted: `newsmon topics review | judge | score`,
simulated many times on a labelled set used as the store.

Every item of a labelled set (by default the first held-out set, ``topics-labels.jsonl``, both
splits: 626 real feed items and White House documents; ``--labels fresh`` or ``stream`` for the
others) is a stored document, tagged by the current rules; its labels play
the reader (an ambiguous item is labelled ``unsure``). Each simulated review draws the
command's default sample (50 tagged, 30 near, 20 rest) with its own seed, and is scored the way
``topics score`` scores it. Since every item is labelled, the true precision, recall and F1 on the
"store" are known, and the script prints, per topic, over the simulated reviews:

* the true figure, the mean estimate (its bias) and the root-mean-square error;
* how often the 95 % interval holds the true figure (its coverage; 0.95 is the aim);
* the median width of the interval.

With ``--scale 100`` every item is stored 100 times over, so that the strata are large and a
review reads them thinly, as on a real store.

Usage::

    python -m benchmarks.accuracy.review            # 1,000 reviews per topic
    python -m benchmarks.accuracy.review --scale 100 --reviews 300
    python -m benchmarks.accuracy.review --reviews 200 --tagged 20 --near 20 --rest 10
"""

from __future__ import annotations

import argparse
import dataclasses
import statistics
import sys
import tempfile
import time
from collections.abc import Sequence
from datetime import UTC, datetime
from pathlib import Path

from benchmarks.accuracy import build_topic_labels as label_sets
from benchmarks.accuracy.topics import Item, load_split
from newsmon.config import default_topics_path
from newsmon.documents import read_document
from newsmon.models import Document
from newsmon.review import DEFAULT_SIZES, Estimate, draw_review, score_reviewed, sort_strata
from newsmon.topics import Topic, load_topics, tag_documents

NOW = datetime(2023, 12, 31, tzinfo=UTC)
SETS = {  # name: (labels file, splits read)
    "first": (label_sets.LABELS, ("dev", "test")),
    "fresh": (label_sets.FRESH, ("test",)),
    "stream": (label_sets.STREAM, ("test",)),
}


def documents_of(items: Sequence[Item], folder: Path) -> list[Document]:
    """The items as stored documents: White House texts read as files, feed items as they are."""
    out: list[Document] = []
    for item in items:
        if item.is_file:
            path = folder / f"{item.id}.txt"
            path.write_text(f"{item.title}\n\n{item.body}", encoding="utf-8")
            out.append(dataclasses.replace(read_document(path, NOW, "labels"), id=item.id))
        else:
            out.append(
                Document(
                    id=item.id, url="", source="labels", source_kind="feed", title=item.title, body=item.body,
                    author=None, origin=None, published_at=None, first_seen_at=NOW, content_hash=item.id,
                    text_hash=item.id, extractor="benchmark", charset=None,
                )
            )  # fmt: skip
    return out


def replicate(items: Sequence[Item], documents: Sequence[Document], copies: int) -> tuple[list[Item], list[Document]]:
    """The store made ``copies`` times as large: each item and document again under new ids."""
    if copies <= 1:
        return list(items), list(documents)
    many_items = [dataclasses.replace(i, id=f"{i.id}#{n}") for n in range(copies) for i in items]
    many_docs = [dataclasses.replace(d, id=f"{d.id}#{n}") for n in range(copies) for d in documents]
    return many_items, many_docs


def simulate(
    topic: Topic,
    items: Sequence[Item],
    documents: Sequence[Document],
    tagged: set[str],
    sizes: dict[str, int],
    reviews: int,
) -> dict[str, list[Estimate]]:
    """Estimates of precision, recall and F1 over ``reviews`` seeded reviews of ``topic`` (which tags ``tagged``)."""
    by_id = {i.id: i for i in items if topic.slug in i.judged}
    strata = sort_strata([[d for d in documents if d.id in by_id]], topic, tagged)
    out: dict[str, list[Estimate]] = {"precision": [], "recall": [], "F1": []}
    for seed in range(reviews):
        drawn_strata, drawn = draw_review(strata, sizes, seed)
        labelled = [dataclasses.replace(d, label=_label(by_id[d.document_id], topic.slug)) for d in drawn]
        score = score_reviewed(drawn_strata, labelled)
        out["precision"].append(score.precision)
        out["recall"].append(score.recall)
        out["F1"].append(score.f1)
    return out


def _label(item: Item, topic: str) -> str:
    return "unsure" if item.ambiguous else ("yes" if topic in item.labels else "no")


def truth(topic: Topic, items: Sequence[Item], tagged: set[str]) -> dict[str, float | None]:
    """The true precision, recall and F1 of the topic on every clear item of the set (None: no tag, no positive)."""
    clear = [i for i in items if topic.slug in i.judged and not i.ambiguous]
    tp = sum(1 for i in clear if i.id in tagged and topic.slug in i.labels)
    fp = sum(1 for i in clear if i.id in tagged and topic.slug not in i.labels)
    fn = sum(1 for i in clear if i.id not in tagged and topic.slug in i.labels)
    both = tp + fp and tp + fn
    return {
        "precision": tp / (tp + fp) if tp + fp else None,
        "recall": tp / (tp + fn) if tp + fn else None,
        "F1": 2 * tp / (2 * tp + fp + fn) if both else None,
    }


def summary(true: float | None, estimates: Sequence[Estimate]) -> str:
    """One row: true value, mean estimate, RMSE, interval coverage and median width."""
    if true is None:
        return "  none   (no tag or no positive in the set: nothing to estimate)"
    made = [e for e in estimates if e.value is not None and e.low is not None and e.high is not None]
    if not made:
        return f"{true:6.3f}   (no estimate in any review)"
    values = [e.value for e in made if e.value is not None]
    rmse = statistics.fmean((v - true) ** 2 for v in values) ** 0.5
    covered = sum(1 for e in made if e.low is not None and e.high is not None and e.low - 1e-9 <= true <= e.high + 1e-9)
    widths = [e.high - e.low for e in made if e.low is not None and e.high is not None]
    return (
        f"{true:6.3f}  {statistics.fmean(values):6.3f}  {rmse:6.3f}  {covered / len(made):8.3f}"
        f"  {statistics.median(widths):6.3f}  {len(estimates) - len(made):>7}"
    )


def main(argv: Sequence[str] | None = None) -> int:
    """Simulate reviews per topic and print how close and how well covered their estimates are."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0] if __doc__ else None)
    parser.add_argument("--reviews", type=int, default=1000, help="simulated reviews per topic")
    parser.add_argument("--labels", choices=sorted(SETS), default="first", help="the labelled set used as the store")
    parser.add_argument(
        "--scale", type=int, default=1, help="copies of each item in the store (large strata, read thinly)"
    )
    for name, size in DEFAULT_SIZES.items():
        parser.add_argument(f"--{name}", type=int, default=size, help=f"documents drawn among the {name} ones")
    args = parser.parse_args(argv)
    shared = label_sets.SHARED
    if not shared.exists():
        print(f"benchmark skipped: {shared} is absent (the labelled texts live there)", file=sys.stderr)
        return 0
    t0 = time.perf_counter()
    path, splits = SETS[args.labels]
    items = [i for split in splits for i in load_split(path, split, shared)]
    with tempfile.TemporaryDirectory(prefix="review-bench-") as folder:
        documents = documents_of(items, Path(folder))
    items, documents = replicate(items, documents, args.scale)
    sizes = {name: getattr(args, name) for name in DEFAULT_SIZES}
    print("newsmon topic reviews: estimates against the truth, on a fully labelled store")
    print(
        f"store: {path.name}, {len(items)} items ({args.scale} of each); {args.reviews} simulated reviews per topic,"
        f" each drawing {sizes['tagged']} tagged, {sizes['near']} near, {sizes['rest']} rest;"
        f" {datetime.now(UTC):%Y-%m-%d %H:%M} UTC"
    )
    heads = ("true", "mean", "rmse", "coverage", "width", "no est.")
    print(f"{'topic':24} {'figure':10} " + "  ".join(f"{h:>{max(6, len(h))}}" for h in heads))
    for topic in load_topics(default_topics_path(), semantic=False):
        tagged = {t.document_id for t in tag_documents(documents, [topic])}
        figures = simulate(topic, items, documents, tagged, sizes, args.reviews)
        true = truth(topic, items, tagged)
        for figure in ("precision", "recall", "F1"):
            print(f"{topic.slug:24} {figure:10} {summary(true[figure], figures[figure])}")
    print(f"(run took {time.perf_counter() - t0:.0f} s)")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
