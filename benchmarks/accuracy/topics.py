"""Topic precision, recall and F1 on the held-out labelled items, before and after, with intervals.

Scores each default topic on one split (``--split dev|test``, default ``test``) of the
held-out labels (``benchmarks/accuracy/topics-labels.jsonl``: summer-2023 feed items and
White House 2023 documents judged by hand; items marked ambiguous, or not judged for a topic,
are left out of that topic's score). Each item's text is joined from ``../shared/data``.

For every topic it prints true and false positives, misses, precision and recall with 95 %
Wilson intervals and F1 with a 95 % bootstrap interval (items resampled, seeded), for

* BEFORE: the previous release (commit :data:`BEFORE_COMMIT`): its ``newsmon`` package,
  matcher and ``topics.toml``, taken from the git history with ``git archive`` and run in a
  subprocess;
* AFTER: this checkout's matcher and default topics (or ``--topics FILE``);

then the tagging rate (items/s, one process, best of ``--repeat``) of both on the May 2023
feed stream (``feeds-archive/replay-2023-05.jsonl.gz``).

The test split is frozen: tune on ``--split dev`` only. The fresh set and the stream set
(``topics-labels-fresh.jsonl``, ``topics-labels-stream.jsonl``) are test only. The stream
set's items were drawn from strata of a three-month feed stream at different rates (every item
the release ``2f765b9`` tagged, samples of keyword pools, a random sample of the rest), so for
it the figures are also weighted back to the whole stream (each item standing for its
stratum's size over the stratum's items in the set): what a user of that stream would see.

Example (from the repository root)::

    .venv/bin/python -m benchmarks.accuracy.topics --split dev
    .venv/bin/python -m benchmarks.accuracy.topics --labels /tmp/topics-labels.jsonl --no-before
    .venv/bin/python -m benchmarks.accuracy.topics --labels benchmarks/accuracy/topics-labels-stream.jsonl
"""

from __future__ import annotations

import argparse
import gzip
import json
import math
import os
import random
import subprocess
import sys
import tarfile
import tempfile
import time
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from io import BytesIO
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[2]
if not __package__ and str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from benchmarks.accuracy import build_topic_labels as label_sets  # noqa: E402
from newsmon.config import default_topics_path  # noqa: E402
from newsmon.feeds import plain_paragraphs, plain_text  # noqa: E402

SHARED, LABELS, FEEDS, WH = label_sets.SHARED, label_sets.LABELS, label_sets.FEEDS, label_sets.WH
STREAM = "feeds-archive/replay-2023-05.jsonl.gz"
TOPICS = label_sets.TOPICS
BEFORE_COMMIT = "2f765b9"  # the previous release
TARGET_PRECISION, TARGET_F1 = 0.95, 0.90
BOOTSTRAP, SEED, Z95 = 2000, 20231, 1.959964

# Run in a subprocess with another checkout's newsmon first on sys.path: reads
# {"topics": path, "items": [[id, title, body, is_file], ...], "repeat": n, "stream": [[id, title, body], ...]}
# on stdin, prints {"tags": [[id, topic], ...], "rate": items/s on the stream}. A feed item becomes
# a document as feed polling makes one; a White House document (is_file) is written to a text
# file, headline on the first line, and read by that checkout's own folder ingestion
# (newsmon.documents.read_document), as a user's folder run would read it.
_TAGGER = r"""
import dataclasses, json, sys, tempfile, time
from datetime import UTC, datetime
from pathlib import Path
from newsmon.documents import read_document
from newsmon.models import Document
from newsmon.topics import load_topics, tag_documents
job = json.load(sys.stdin)
topics = load_topics(Path(job["topics"]), semantic=False)
now = datetime(2023, 12, 31, tzinfo=UTC)
folder = Path(tempfile.mkdtemp(prefix="topics-"))
def doc(row):
    if len(row) > 3 and row[3]:
        path = folder / f"{row[0]}.txt"
        path.write_text(f"{row[1]}\n\n{row[2]}", encoding="utf-8")
        return dataclasses.replace(read_document(path, now, "labels"), id=row[0])
    return Document(id=row[0], url="", source="labels", source_kind="feed", title=row[1], body=row[2],
        author=None, origin=None, published_at=None, first_seen_at=now, content_hash=row[0], text_hash=row[0],
        extractor="benchmark", charset=None)
tags = [[t.document_id, t.topic] for t in tag_documents([doc(r) for r in job["items"]], topics)]
stream = [doc(r) for r in job["stream"]]
best = float("inf")
for _ in range(job["repeat"] if stream else 0):
    t0 = time.perf_counter()
    for i in range(0, len(stream), 500):
        tag_documents(stream[i : i + 500], topics)
    best = min(best, time.perf_counter() - t0)
print(json.dumps({"tags": tags, "rate": len(stream) / best if stream else None}))
"""


@dataclass(frozen=True, slots=True)
class Item:
    """One labelled item: its text and, per topic judged, whether it is about it."""

    id: str
    title: str
    body: str
    labels: frozenset[str]
    judged: frozenset[str]
    ambiguous: bool
    is_file: bool = False  # a White House document, ingested as a text file
    weight: float = 1.0  # how many items of the whole stream it stands for (stream set only)


@dataclass(frozen=True, slots=True)
class Figures:
    """A topic's counts and figures on one split."""

    tp: int
    fp: int
    fn: int
    precision: tuple[float, float, float]  # value, low, high
    recall: tuple[float, float, float]
    f1: tuple[float, float, float]


def _texts(shared: Path, wanted: dict[str, set[str]]) -> dict[str, tuple[str, str]]:
    """(title, text) by id for the wanted ids of each window (feed: summary; White House: full text)."""
    out: dict[str, tuple[str, str]] = {}
    for source, ids in wanted.items():
        for record in label_sets.read_records(shared, source, ids):
            out.setdefault(record["id"], (record["title"], record["text"]))
    return out


def load_split(path: Path, split: str, shared: Path) -> list[Item]:
    """The items of one split, joined to their texts (only that split's records are read)."""
    records = [r for r in label_sets.read_labels(path) if r.get("split") == split]
    wanted: dict[str, set[str]] = {}
    for record in records:
        wanted.setdefault(record["source"], set()).add(record["id"])
    unknown = set(wanted) - {FEEDS, WH}
    if unknown:
        raise SystemExit(f"{path}: unknown source(s) {sorted(unknown)}")
    texts = _texts(shared, wanted)
    missing = [r["id"] for r in records if r["id"] not in texts]
    if missing:
        raise SystemExit(f"{path}: {len(missing)} items not in {shared} (first {missing[0]}): another data version?")
    weights = _stream_weights(records, texts) if path.resolve() == label_sets.STREAM.resolve() else {}
    return [
        Item(
            id=r["id"],
            title=texts[r["id"]][0],
            body=texts[r["id"]][1],
            labels=frozenset(r["labels"]),
            judged=frozenset(r.get("judged", TOPICS)),
            ambiguous=bool(r.get("ambiguous")),
            is_file=r["source"] == WH,
            weight=weights.get(r["id"], 1.0),
        )
        for r in records
    ]


def _stream_weights(records: Sequence[dict[str, Any]], texts: dict[str, tuple[str, str]]) -> dict[str, float]:
    """Each scored item's weight in the stream set: its stratum's size over the stratum's items in
    the set, ambiguous ones included (they stand for their share of the stratum, which counts
    neither way). The tagged stratum is a census, so its items weigh 1."""
    tagged = {r["id"] for r in records if r["pool"] == "tagged"}
    strata = {
        r["id"]: label_sets.stream_stratum(
            {"id": r["id"], "title": texts[r["id"]][0], "text": texts[r["id"]][1]}, tagged
        )
        for r in records
    }
    counts = Counter(strata.values())
    return {key: label_sets.STREAM_STRATA[stratum] / counts[stratum] for key, stratum in strata.items()}


def load_stream(shared: Path, limit: int) -> list[list[str]]:
    """The first ``limit`` items of the May 2023 feed stream as [id, title, body]."""
    rows: list[list[str]] = []
    path = shared / STREAM
    if not path.is_file() or limit <= 0:
        return rows
    with gzip.open(path, "rt", encoding="utf-8") as lines:
        for line in lines:
            if len(rows) >= limit:
                break
            record = json.loads(line)
            title, body = plain_text(record.get("title")), plain_paragraphs(record.get("description"))
            rows.append([label_sets.sha1(f"{record.get('link')}\x00{len(rows)}"), title, body])
    return rows


def run_tagger(code_root: Path, topics: Path, items: Sequence[Item], stream: list[list[str]], repeat: int) -> Any:
    """Tag the items (and time the stream) with the ``newsmon`` package found in ``code_root``."""
    rows = [[i.id, i.title, i.body, i.is_file] for i in items]
    job = {"topics": str(topics), "items": rows, "stream": stream, "repeat": repeat}
    env = {**os.environ, "PYTHONPATH": str(code_root)}
    done = subprocess.run(
        [sys.executable, "-c", _TAGGER], input=json.dumps(job), capture_output=True, text=True, env=env, check=False
    )
    if done.returncode != 0:
        raise RuntimeError(f"tagging with {code_root} failed: {done.stderr.strip().splitlines()[-1:]}")
    return json.loads(done.stdout)


def release_checkout(commit: str, into: Path) -> Path:
    """The ``newsmon`` package of ``commit`` (with its default topics) extracted into ``into``."""
    archive = subprocess.run(
        ["git", "-C", str(ROOT), "archive", "--format=tar", commit, "newsmon"], capture_output=True, check=True
    ).stdout
    with tarfile.open(fileobj=BytesIO(archive)) as tar:
        tar.extractall(into, filter="data")
    return into


def wilson(hits: int, total: int) -> tuple[float, float, float]:
    """A proportion and its 95 % Wilson interval (1.0, 1.0, 1.0 when there is nothing to count)."""
    if total == 0:
        return (1.0, 1.0, 1.0)
    p = hits / total
    centre = (p + Z95**2 / (2 * total)) / (1 + Z95**2 / total)
    half = Z95 * math.sqrt(p * (1 - p) / total + Z95**2 / (4 * total**2)) / (1 + Z95**2 / total)
    return (p, max(0.0, centre - half), min(1.0, centre + half))


def _f1(tp: int, fp: int, fn: int) -> float:
    return 2 * tp / (2 * tp + fp + fn) if tp + fp + fn else 1.0


def score(items: Sequence[Item], tagged: set[tuple[str, str]], topic: str) -> Figures:
    """One topic's figures over the items judged for it and not ambiguous."""
    outcomes = []  # (gold, predicted) per item
    for item in items:
        if item.ambiguous or topic not in item.judged:
            continue
        outcomes.append((topic in item.labels, (item.id, topic) in tagged))
    tp = sum(g and p for g, p in outcomes)
    fp = sum(p and not g for g, p in outcomes)
    fn = sum(g and not p for g, p in outcomes)
    rng = random.Random(SEED)
    samples = []
    for _ in range(BOOTSTRAP):
        draw = [outcomes[rng.randrange(len(outcomes))] for _ in outcomes] if outcomes else []
        samples.append(_f1(sum(g and p for g, p in draw), sum(p and not g for g, p in draw),
                           sum(g and not p for g, p in draw)))  # fmt: skip
    samples.sort()
    low, high = (samples[int(0.025 * BOOTSTRAP)], samples[int(0.975 * BOOTSTRAP) - 1]) if samples else (1.0, 1.0)
    return Figures(tp, fp, fn, wilson(tp, tp + fp), wilson(tp, tp + fn), (_f1(tp, fp, fn), low, high))


def _fmt(value: tuple[float, float, float]) -> str:
    return f"{value[0]:.3f} [{value[1]:.2f}-{value[2]:.2f}]"


def print_table(title: str, items: Sequence[Item], tagged: set[tuple[str, str]], weighted: bool = False) -> None:
    """Per-topic figures with intervals, against the targets (and, ``weighted``, the figures
    weighted back to the whole stream: the stream set)."""
    print(f"\n== {title} ==")
    print(f"{'topic':<24} {'TP':>4} {'FP':>4} {'FN':>4}  {'precision':<20} {'recall':<20} {'F1':<20} target")
    for topic in TOPICS:
        f = score(items, tagged, topic)
        ok = "ok" if f.precision[0] >= TARGET_PRECISION and f.f1[0] >= TARGET_F1 else "MISSED"
        print(
            f"{topic:<24} {f.tp:>4} {f.fp:>4} {f.fn:>4}  {_fmt(f.precision):<20} {_fmt(f.recall):<20}"
            f" {_fmt(f.f1):<20} {ok}"
        )
    if weighted:
        print("weighted to the whole stream (each item stands for its stratum): estimated tags, positives, P / R / F1")
        for topic in TOPICS:
            tp, fp, fn = weighted_counts(items, tagged, topic)
            precision = f"{tp / (tp + fp):.3f}" if tp + fp else "-"
            recall = f"{tp / (tp + fn):.3f}" if tp + fn else "-"
            f1 = f"{2 * tp / (2 * tp + fp + fn):.3f}" if tp + fp + fn else "-"
            print(f"{topic:<24} tags {tp + fp:7.1f}  positives {tp + fn:7.1f}  {precision} / {recall} / {f1}")


def unlabelled(records: Sequence[dict[str, Any]]) -> list[Item]:
    """Feed records (``id``, ``title``, ``text``) as items to tag, with no labels."""
    return [
        Item(id=r["id"], title=r["title"], body=r["text"], labels=frozenset(), judged=frozenset(), ambiguous=False)
        for r in records
    ]


def tags_by(commit: str | None, items: Sequence[Item], topics: Path | None = None) -> list[tuple[str, str]]:
    """The ``(id, topic)`` tags of a commit's ``newsmon`` and default topics (None: this checkout,
    with ``topics`` or its default topics)."""
    with tempfile.TemporaryDirectory(prefix="newsmon-tags-") as tmp:
        root = ROOT if commit is None else release_checkout(commit, Path(tmp))
        toml = topics if commit is None and topics is not None else root / "newsmon" / "defaults" / "topics.toml"
        return [(i, t) for i, t in run_tagger(root, toml, items, [], 0)["tags"]]


def census_judgments() -> dict[str, tuple[frozenset[str], bool]]:
    """Labels and ambiguity of every judged item of the summer stream (stream set and its audit)."""
    paths = [path for path in (label_sets.STREAM, label_sets.STREAM_AUDIT) if path.is_file()]
    return {
        r["id"]: (frozenset(r["labels"]), bool(r["ambiguous"])) for path in paths for r in label_sets.read_labels(path)
    }


def print_census(topics: Path, no_before: bool, sample: Sequence[Item]) -> None:
    """Tag the whole eligible summer stream (162,694 items) and judge every tag against the stream
    set and its audit: precision over all the tags a user of that stream would have been shown.

    Recall, then: the stream's clear positives are those that some tagger here found (a census)
    plus the sampled misses of all of them, each weighted by its stratum (``sample``: the stream
    set's items with their weights)."""
    items = unlabelled(label_sets.stream_eligible())
    judged = census_judgments()
    runs = [] if no_before else [(f"release {BEFORE_COMMIT}", BEFORE_COMMIT)]
    runs.append(("after", None))
    print(f"\n== every tag on the whole summer stream ({len(items):,} items), judged by the stream set and audit ==")
    print(f"{'tagger':<18} {'topic':<24} {'tags':>5} {'judged':>6} {'ambig.':>6} {'correct':>7}  precision")
    found: dict[str, dict[str, set[str]]] = {}  # tagger -> topic -> ids of clear positives it tagged
    tagged_by: dict[str, set[tuple[str, str]]] = {}
    for name, commit in runs:
        tags = tags_by(commit, items, topics)
        tagged_by[name] = set(tags)
        found[name] = {}
        for topic in TOPICS:
            ids = [i for i, t in tags if t == topic]
            seen = [judged[i] for i in ids if i in judged]
            clear = [lab for lab, ambiguous in seen if not ambiguous]
            found[name][topic] = {i for i in ids if i in judged and not judged[i][1] and topic in judged[i][0]}
            correct = len(found[name][topic])
            precision = f"{correct / len(clear):.3f}" if clear else "-"
            unjudged = len(ids) - len(seen)
            note = f"  ({unjudged} not judged)" if unjudged else ""
            counts = f"{len(ids):>5} {len(seen):>6} {len(seen) - len(clear):>6} {correct:>7}"
            print(f"{name:<18} {topic:<24} {counts}  {precision}{note}")
    print("recall: clear positives found by any tagger above, plus the sampled misses of all (weighted)")
    anyone = set().union(*tagged_by.values())
    for topic in TOPICS:
        union = set().union(*(found[name][topic] for name in found))
        missed = sum(
            item.weight
            for item in sample
            if not item.ambiguous and topic in item.judged and topic in item.labels and (item.id, topic) not in anyone
        )
        total = len(union) + missed
        shares = "  ".join(f"{name} {len(found[name][topic]) / total:.3f}" for name in found) if total else "-"
        unjudged = sum(1 for i, t in anyone if t == topic and i not in judged)
        note = f"  ({unjudged} tags not judged: left out)" if unjudged else ""
        estimate = f"found {len(union):>3} + missed by all ~{missed:5.1f} = ~{total:5.1f} positives"
        print(f"{topic:<24} {estimate};  {shares}{note}")


def weighted_counts(items: Sequence[Item], tagged: set[tuple[str, str]], topic: str) -> tuple[float, float, float]:
    """True positives, false positives and misses, each item counted with its weight."""
    tp = fp = fn = 0.0
    for item in items:
        if item.ambiguous or topic not in item.judged:
            continue
        gold, predicted = topic in item.labels, (item.id, topic) in tagged
        tp += item.weight * (gold and predicted)
        fp += item.weight * (predicted and not gold)
        fn += item.weight * (gold and not predicted)
    return tp, fp, fn


def main(argv: Sequence[str] | None = None) -> int:
    """Run the benchmark; returns 0, or 2 when the labels or the shared data are absent."""
    parser = argparse.ArgumentParser(description=(__doc__ or "").split("\n\n")[0])
    parser.add_argument("--labels", type=Path, default=LABELS, help="held-out labels (JSON Lines)")
    parser.add_argument("--split", choices=("dev", "test"), default="test", help="which split to score")
    parser.add_argument("--topics", type=Path, default=default_topics_path(), help="topics TOML file (AFTER)")
    parser.add_argument("--shared", type=Path, default=SHARED, help="the shared data folder")
    parser.add_argument("--stream", type=int, default=10000, help="May 2023 feed items to time (0: no timing)")
    parser.add_argument("--repeat", type=int, default=3, help="timing repetitions (the best is kept)")
    parser.add_argument("--no-before", action="store_true", help="skip the previous release's figures")
    parser.add_argument(
        "--no-census", action="store_true", help="stream set: skip judging every tag on the whole stream (~1 min each)"
    )
    args = parser.parse_args(argv)
    if not args.labels.is_file():
        print(f"no held-out labels at {args.labels}: skipped (pass --labels FILE once they exist)")
        return 2
    if not args.shared.is_dir():
        print(f"no shared data at {args.shared}: skipped (the items' texts live there)")
        return 2
    items = load_split(args.labels, args.split, args.shared)
    stream_set = args.labels.resolve() == label_sets.STREAM.resolve()
    stream = load_stream(args.shared, args.stream)
    print("newsmon topic accuracy on held-out labels")
    ambiguous = sum(i.ambiguous for i in items)
    print(f"labels: {args.labels}, split {args.split}: {len(items)} items ({ambiguous} ambiguous)")
    print(f"machine: {os.cpu_count()} cores, Python {sys.version.split()[0]}; {datetime.now(UTC):%Y-%m-%d %H:%M} UTC")
    rates: list[tuple[str, float | None]] = []
    if not args.no_before:
        with tempfile.TemporaryDirectory(prefix="newsmon-before-") as tmp:
            try:
                before_root = release_checkout(BEFORE_COMMIT, Path(tmp))
            except (subprocess.CalledProcessError, OSError) as err:
                print(f"\n== BEFORE ({BEFORE_COMMIT}) ==\nnot measured: cannot read that commit from git ({err})")
            else:
                result = run_tagger(
                    before_root, before_root / "newsmon" / "defaults" / "topics.toml", items, stream, args.repeat
                )
                print_table(f"BEFORE: release {BEFORE_COMMIT}", items, {(a, b) for a, b in result["tags"]}, stream_set)
                rates.append((f"before ({BEFORE_COMMIT})", result["rate"]))
    t0 = time.perf_counter()
    result = run_tagger(ROOT, args.topics, items, stream, args.repeat)
    print_table(f"AFTER: {args.topics}", items, {(a, b) for a, b in result["tags"]}, stream_set)
    rates.append(("after", result["rate"]))
    if stream_set and not args.no_census:
        print_census(args.topics, args.no_before, items)
    if stream:
        print(f"\n== tagging rate, one process, May 2023 feed stream ({len(stream)} items, best of {args.repeat}) ==")
        for label, rate in rates:
            print(f"{label}: {rate:,.0f} items/s" if rate else f"{label}: not measured")
    print(f"(run took {time.perf_counter() - t0:.0f} s; targets: precision >= {TARGET_PRECISION}, F1 >= {TARGET_F1})")
    return 0


if __name__ == "__main__":
    sys.exit(main())
