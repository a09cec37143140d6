"""Topic tagging accuracy on labelled real news, and tagging throughput.

Scores the shipped topics against ``../shared/data/labels/topics-dev.jsonl`` (real 2023
headlines and feed summaries labelled by hand; items marked ambiguous are left out) and
prints, per topic, precision, recall and F1, the micro-averaged F1 and every false positive
with its kind (``hard_negative``, ``random``, or ``positive`` = labelled for another topic);
first with the rules alone (the default), then with the semantic part when the ``semantic``
extra is installed. Then it times tagging, in items per second, on the labelled items and
on a stream of real feed items from May 2023 (``feeds-archive/replay-2023-05.jsonl.gz``).

Items become the same :class:`~newsmon.models.Document` objects the pipeline makes of feed
items without a fetched page: title = headline, body = summary with HTML stripped.

Example (from the repository root)::

    .venv/bin/python -m benchmarks.topics
    .venv/bin/python -m benchmarks.topics --stream 39084 --topics my-topics.toml
"""

from __future__ import annotations

import argparse
import gzip
import json
import os
import platform
import sys
import time
from collections import Counter
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
if not __package__ and str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from newsmon.config import default_topics_path  # noqa: E402
from newsmon.feeds import FeedItem, item_document, plain_paragraphs, plain_text  # noqa: E402
from newsmon.models import Document  # noqa: E402
from newsmon.text import sha256_hex  # noqa: E402
from newsmon.topics import (  # noqa: E402
    TaggingPool,
    Topic,
    load_topics,
    semantic_model_id,
    semantic_scorer,
    tag_documents,
)

SHARED = Path(__file__).resolve().parents[2] / "shared" / "data"
LABELS = SHARED / "labels" / "topics-dev.jsonl"
STREAM = SHARED / "feeds-archive" / "replay-2023-05.jsonl.gz"
TARGET_PRECISION, TARGET_F1 = 0.95, 0.90
TARGET_RULES_PER_S, TARGET_SEMANTIC_PER_S = 5000, 200
NOW = datetime(2023, 12, 31, tzinfo=UTC)


@dataclass(frozen=True, slots=True)
class Item:
    """One labelled item as a pipeline document."""

    document: Document
    labels: frozenset[str]
    kind: str
    ambiguous: bool


@dataclass(slots=True)
class Score:
    """Counts for one topic."""

    tp: int = 0
    fp: int = 0
    fn: int = 0
    false_positives: list[tuple[str, str]] = field(default_factory=list)  # (kind, title)

    @property
    def precision(self) -> float:
        """TP / (TP + FP); 1.0 when nothing was tagged."""
        return self.tp / (self.tp + self.fp) if self.tp + self.fp else 1.0

    @property
    def recall(self) -> float:
        """TP / (TP + FN); 1.0 when there is nothing to find."""
        return self.tp / (self.tp + self.fn) if self.tp + self.fn else 1.0

    @property
    def f1(self) -> float:
        """Harmonic mean of precision and recall."""
        p, r = self.precision, self.recall
        return 2 * p * r / (p + r) if p + r else 0.0


def feed_document(record: dict[str, Any], source: str) -> Document:
    """A feed record as the pipeline's document of a feed item whose page was not fetched."""
    title = plain_text(record.get("title"))[:1000]
    summary = plain_paragraphs(record.get("description"))[:20000]
    link = record.get("link") or None
    item = FeedItem(
        key=link or sha256_hex(f"{title}\x00{summary}"),
        title=title,
        link=link,
        summary=summary,
        author=None,
        published_at=None,
        content_hash=sha256_hex(f"{title}\x00{summary}\x00{link or ''}"),
    )
    return item_document(record.get("source") or source, source, item, None, NOW)


def load_items(path: Path) -> list[Item]:
    """The labelled items."""
    items = []
    with path.open(encoding="utf-8") as lines:
        for line in lines:
            record = json.loads(line)
            items.append(
                Item(feed_document(record, "labels"), frozenset(record["labels"]), record["kind"], record["ambiguous"])
            )
    return items


def load_stream(path: Path, limit: int) -> list[Document]:
    """The first ``limit`` feed items of the May 2023 replay."""
    documents = []
    with gzip.open(path, "rt", encoding="utf-8") as lines:
        for line in lines:
            if len(documents) >= limit:
                break
            documents.append(feed_document(json.loads(line), "replay"))
    return documents


def evaluate(items: Sequence[Item], topics: Sequence[Topic]) -> dict[str, Score]:
    """Tag the non-ambiguous items and count hits and misses per topic."""
    scored = [i for i in items if not i.ambiguous]
    tagged: dict[str, set[str]] = {}
    for tag in tag_documents([i.document for i in scored], topics):
        tagged.setdefault(tag.document_id, set()).add(tag.topic)
    scores = {t.slug: Score() for t in topics}
    for item in scored:
        got = tagged.get(item.document.id, set())
        for slug, score in scores.items():
            if slug in got and slug in item.labels:
                score.tp += 1
            elif slug in got:
                score.fp += 1
                kind = item.kind if item.kind != "positive" else "positive (other topic)"
                score.false_positives.append((kind, item.document.title))
            elif slug in item.labels:
                score.fn += 1
    return scores


def print_scores(title: str, scores: dict[str, Score]) -> None:
    """Per-topic table, micro-averaged F1 and the false positives by kind."""
    print(f"\n== {title} ==")
    print(f"{'topic':<24} {'TP':>4} {'FP':>4} {'FN':>4} {'precision':>10} {'recall':>7} {'F1':>6}  target")
    for slug, s in scores.items():
        ok = "ok" if s.precision >= TARGET_PRECISION and s.f1 >= TARGET_F1 else "MISSED"
        print(f"{slug:<24} {s.tp:>4} {s.fp:>4} {s.fn:>4} {s.precision:>10.3f} {s.recall:>7.3f} {s.f1:>6.3f}  {ok}")
    micro = Score(sum(s.tp for s in scores.values()), sum(s.fp for s in scores.values()))
    micro.fn = sum(s.fn for s in scores.values())
    print(
        f"{'micro-average':<24} {micro.tp:>4} {micro.fp:>4} {micro.fn:>4} {micro.precision:>10.3f}"
        f" {micro.recall:>7.3f} {micro.f1:>6.3f}"
    )
    print("false positives by kind:")
    for slug, s in scores.items():
        kinds = Counter(kind for kind, _ in s.false_positives)
        summary = ", ".join(f"{kind} {n}" for kind, n in sorted(kinds.items())) or "none"
        print(f"  {slug}: {summary}")
        for kind, headline in s.false_positives:
            print(f"    [{kind}] {headline[:110]}")


def items_per_second(documents: Sequence[Document], topics: Sequence[Topic], repeat: int) -> tuple[float, int]:
    """Best-of-``repeat`` tagging rate over ``documents`` in batches of 500 (as a run does); and the tag count."""
    best, count = float("inf"), 0
    for _ in range(repeat):
        t0 = time.perf_counter()
        count = sum(len(tag_documents(batch, topics)) for batch in _batches(documents, 500))
        best = min(best, time.perf_counter() - t0)
    return len(documents) / best, count


def pooled_items_per_second(documents: Sequence[Document], topics: Sequence[Topic], workers: int) -> float:
    """Tagging rate with the rules in ``workers`` processes (a :class:`TaggingPool`, as the flow
    tags), over the documents repeated to at least 20,000 so that the pool's start-up counts
    little; start-up included."""
    copies = max(1, -(-20_000 // max(1, len(documents))))
    many = list(documents) * copies
    t0 = time.perf_counter()
    with TaggingPool(topics, workers) as pool:
        futures = [pool.submit(batch) for batch in _batches(many, 2000)]
        for future in futures:
            future.result()
    return len(many) / (time.perf_counter() - t0)


def _batches(documents: Sequence[Document], size: int) -> Iterable[Sequence[Document]]:
    for start in range(0, len(documents), size):
        yield documents[start : start + size]


def _threads() -> str:
    try:
        import torch

        return f", torch threads {torch.get_num_threads()}"
    except ImportError:
        return ""


def main(argv: Sequence[str] | None = None) -> int:
    """Run the benchmark; returns 0, or 2 when the shared data is missing."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--topics", type=Path, default=default_topics_path(), help="topics TOML file")
    parser.add_argument("--stream", type=int, default=10000, help="feed items of the May 2023 replay to time")
    parser.add_argument("--repeat", type=int, default=3, help="timing repetitions (best is kept) for rules")
    args = parser.parse_args(argv)
    if not LABELS.is_file():
        print(f"no labelled items at {LABELS}: the benchmark needs ../shared/data beside the checkout")
        return 2
    items = load_items(LABELS)
    stream = load_stream(STREAM, args.stream) if STREAM.is_file() else []
    print("newsmon topic tagging benchmark")
    print(f"labelled items: {LABELS} ({len(items)} items, {sum(i.ambiguous for i in items)} ambiguous left out)")
    print(f"topics: {args.topics}")
    print(f"machine: {os.cpu_count()} cores, Python {platform.python_version()}, {platform.machine()}")

    rules = load_topics(args.topics, semantic=False)
    print_scores("rules (the default)", evaluate(items, rules))
    model = semantic_model_id()
    semantic = load_topics(args.topics, semantic=True) if model else None
    if semantic is None:
        print(
            "\n== rules + semantic ==\nnot measured: the semantic extra is not installed (pip install -e '.[semantic]')"
        )
    else:
        t0 = time.perf_counter()
        semantic_scorer(semantic)
        load_s = time.perf_counter() - t0
        print_scores(f"rules + semantic ({model}; model loaded in {load_s:.1f} s)", evaluate(items, semantic))

    print(f"\n== throughput (tagging only, one process{_threads()}) ==")
    scored = [i.document for i in items]
    sets: list[tuple[str, list[Document]]] = [(f"labelled items ({len(scored)}, nearly all hold topic words)", scored)]
    if stream:
        sets.append((f"May 2023 feed stream ({len(stream)} items)", stream))
    for label, documents in sets:
        rate, tags = items_per_second(documents, rules, args.repeat)
        line = f"{label}: rules {rate:,.0f} items/s ({tags} tags)"
        if semantic is not None:
            rate_s, tags_s = items_per_second(documents, semantic, 1)
            line += f"; rules + semantic {rate_s:,.0f} items/s ({tags_s} tags)"
        print(line)
    cores = os.cpu_count() or 1
    if cores > 1:
        print(f"\n== throughput (rules, {cores} processes: TaggingPool, as runs tag) ==")
        for label, documents in sets:
            print(f"{label}: rules {pooled_items_per_second(documents, rules, cores):,.0f} items/s")
    print(
        f"targets: >= {TARGET_RULES_PER_S:,} items/s with rules, >= {TARGET_SEMANTIC_PER_S} items/s with embeddings;"
        " only items holding a topic's required words are embedded"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
