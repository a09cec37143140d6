"""Are stories and tags the same whatever the batch size, the worker count, the string hash
seed and a kill and resume? ``python -m benchmarks.determinism [--docs N] [--feed N]``

Builds a corpus of real documents from ``../shared/data`` as plain-text files: White House
documents of 2023 (templated families first: national emergency notices, disaster
declarations, nominations, whose reprint candidates crowd the candidate list), an OCR-noised
copy of every fourth, and summaries from the May 2023 feed archive. All are first seen at the
same time, so every one is inside every other's join window. Runs the pipeline core (no
Prefect) into fresh databases, each in a process of its own with another hash seed:
default settings, batches of 400, one worker, and a run killed with SIGKILL inside its third
batch and resumed. Prints each run's stories and tags and how many documents differ from the
first run. The helpers here are also the determinism tests' (tests/test_determinism.py).
"""

from __future__ import annotations

import argparse
import gzip
import json
import os
import random
import subprocess
import sys
import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path

import duckdb

ROOT = Path(__file__).resolve().parents[1]
SHARED = ROOT.parent / "shared" / "data"

NOW = datetime(2023, 6, 1, 12, 0, tzinfo=UTC)
FAMILIES = (
    "continuation of the national emergency",
    "disaster declaration",
    "nominations sent to the senate",
    "withdrawal sent to the senate",
    "memorandum on the delegation",
)
OCR = {"l": "1", "o": "0", "e": "c", "a": "o", "m": "rn", "n": "u", "i": "l", "t": "f", "d": "cl"}

Outcome = tuple[dict[str, str], set[tuple[str, str, str]]]


def ocr_noise(text: str, rate: float, rng: random.Random) -> str:
    """Replace about ``rate`` of the letters with OCR look-alikes."""
    return "".join(OCR[ch] if ch in OCR and rng.random() < rate else ch for ch in text)


def white_house(shared: Path, wanted: int | None = None) -> list[tuple[int, str, str]]:
    """(index, title, text) of the documents of the families above, then of the first others
    up to ``wanted`` documents in all."""
    rows = []
    with gzip.open(shared / "documents" / "wh-2023.jsonl.gz", "rt", encoding="utf-8") as lines:
        for i, line in enumerate(lines):
            record = json.loads(line)
            rows.append((i, " ".join(record["title"].split()), record["text"]))
    family = [r for r in rows if any(f in r[1].lower() for f in FAMILIES)]
    others = [r for r in rows if r not in family][: max(0, (wanted or 0) - len(family))]
    return sorted(family + others)


def write_corpus(folder: Path, documents: list[tuple[int, str, str]], noisy_every: int, rate: float) -> int:
    """Each document as ``NNNNN-0.txt`` (headline line, then text) and, for every
    ``noisy_every``-th one, an OCR-noised copy ``NNNNN-1.txt`` right after it."""
    folder.mkdir(parents=True)
    rng = random.Random(20230601)
    for n, (i, title, text) in enumerate(documents):
        (folder / f"{i:05d}-0.txt").write_text(f"{title}\n{text}\n", encoding="utf-8")
        if n % noisy_every == 0:
            copy = f"{ocr_noise(title, rate, rng)}\n{ocr_noise(text, rate, rng)}\n"
            (folder / f"{i:05d}-1.txt").write_text(copy, encoding="utf-8")
    return len(list(folder.iterdir()))


def feed_entries(shared: Path, n: int) -> list[tuple[str, str]]:
    """(headline, summary) of the first ``n`` entries of the May 2023 feed archive."""
    out = []
    with gzip.open(shared / "feeds-archive" / "replay-2023-05.jsonl.gz", "rt", encoding="utf-8") as lines:
        for line in lines:
            record = json.loads(line)
            title = " ".join((record.get("title") or "").split())
            if title:
                out.append((title, record.get("description") or ""))
            if len(out) == n:
                break
    return out


def outcome(db: Path) -> Outcome:
    """Each document's story canonical (by file name) and the tags (file name, topic, evidence)."""
    con = duckdb.connect(str(db), read_only=True)
    try:
        members = con.execute(
            "SELECT d.url, c.url FROM story_members m JOIN documents d ON d.id = m.document_id"
            " JOIN stories s ON s.id = m.story_id JOIN documents c ON c.id = s.canonical_document_id"
        ).fetchall()
        tags = con.execute(
            "SELECT d.url, t.topic, t.evidence FROM document_topics t JOIN documents d ON d.id = t.document_id"
        ).fetchall()
    finally:
        con.close()
    name = lambda url: url.rsplit("/", 1)[-1]  # noqa: E731
    return {name(d): name(c) for d, c in members}, {(name(d), t, e) for d, t, e in tags}


def differences(expected: Outcome, found: Outcome) -> list[str]:
    """The documents whose story canonical differs, and the tags only one run has."""
    (stories_a, tags_a), (stories_b, tags_b) = expected, found
    moved = [f"{d}: {stories_a.get(d)} -> {stories_b.get(d)}" for d in sorted(stories_a.keys() | stories_b.keys())
             if stories_a.get(d) != stories_b.get(d)]  # fmt: skip
    return moved + [f"tag only in one run: {t}" for t in sorted(tags_a ^ tags_b)]


_RUN = """
import sys
from datetime import datetime
from pathlib import Path
from benchmarks.pipeline import run_bare
from newsmon.config import load_settings
work, seeds = Path(sys.argv[1]), Path(sys.argv[2])
settings = load_settings(None, db=work / "news.duckdb", seeds=seeds, alerts_dir=work / "alerts")
run_bare(settings, datetime.fromisoformat(sys.argv[3]))
"""


def run_bare_process(work: Path, seeds: Path, hash_seed: int, **env: str) -> int:
    """The pipeline core without Prefect (``benchmarks.pipeline.run_bare``) in a process of its own;
    its exit code (its output in ``work/log.txt``)."""
    clean = {k: v for k, v in os.environ.items() if not k.startswith(("NEWSMON_", "PREFECT_"))}
    clean.update(PYTHONHASHSEED=str(hash_seed), PYTHONPATH=python_path(), PREFECT_LOGGING_LEVEL="WARNING", **env)
    work.mkdir(exist_ok=True)
    with (work / "log.txt").open("a", encoding="utf-8") as log:
        command = [sys.executable, "-c", _RUN, str(work), str(seeds), NOW.isoformat()]
        return subprocess.run(command, env=clean, stdout=log, stderr=log, timeout=300, check=False).returncode


def python_path() -> str:
    """PYTHONPATH for a subprocess: the checkout first, then what this process has."""
    return os.pathsep.join([str(ROOT), *filter(None, [os.environ.get("PYTHONPATH")])])


def build_corpus(folder: Path, documents: int, feed: int) -> int:
    """The benchmark's corpus in ``folder``; how many files."""
    n = write_corpus(folder, white_house(SHARED, documents), noisy_every=4, rate=0.03)
    for j, (title, summary) in enumerate(feed_entries(SHARED, feed)):
        (folder / f"feed{j:05d}.txt").write_text(f"{title}\n{summary}\n", encoding="utf-8")
    return n + feed


def main() -> None:
    """Run the configurations and print the comparison."""
    parser = argparse.ArgumentParser(prog="python -m benchmarks.determinism", description=__doc__.split("\n\n")[0])
    parser.add_argument("--docs", type=int, default=3097, help="White House documents (default all 3,097)")
    parser.add_argument("--feed", type=int, default=3000, help="feed-archive summaries (default 3,000)")
    args = parser.parse_args()
    if not SHARED.is_dir():
        sys.exit("../shared/data is absent: this benchmark needs the shared folder beside the checkout")
    with tempfile.TemporaryDirectory(prefix="newsmon-determinism-") as tmp:
        work = Path(tmp)
        n = build_corpus(work / "docs", args.docs, args.feed)
        print(f"corpus: {n} plain-text files (White House 2023 with OCR-noised copies, May 2023 feed summaries)")
        runs = {
            "default settings, hash seed 1": (1, {}),
            "batches of 400, hash seed 2": (2, {"NEWSMON_BATCH_SIZE": "400"}),
            "one worker, hash seed 3": (3, {"NEWSMON_EXTRACT_WORKERS": "1"}),
        }
        results = {}
        for name, (seed, env) in runs.items():
            t0 = time.perf_counter()
            code = run_bare_process(work / f"run{seed}", work / "docs", seed, **env)
            results[name] = outcome(work / f"run{seed}" / "news.duckdb")
            print(f"  {name}: exit {code}, {time.perf_counter() - t0:.0f} s")
        kill_env = {"NEWSMON_BATCH_SIZE": "1000", "NEWSMON_EXTRACT_WORKERS": "1", "NEWSMON_FAULT": "mid-store@3"}
        killed = run_bare_process(work / "resumed", work / "docs", 4, **kill_env)
        stored = len(outcome(work / "resumed" / "news.duckdb")[0])
        resumed = run_bare_process(work / "resumed", work / "docs", 5, NEWSMON_BATCH_SIZE="400")
        print(
            f"  killed inside batch 3 of 1,000 (exit {killed}, {stored} documents committed), resumed: exit {resumed}"
        )
        results["killed and resumed, hash seeds 4 and 5"] = outcome(work / "resumed" / "news.duckdb")
        first = next(iter(results.values()))
        print(f"\n  {'run':<42}{'documents':>10}{'stories':>9}{'tags':>7}{'differ':>8}")
        for name, result in results.items():
            stories = len(set(result[0].values()))
            differ = len(differences(first, result))
            print(f"  {name:<42}{len(result[0]):>10}{stories:>9}{len(result[1]):>7}{differ:>8}")


if __name__ == "__main__":
    main()
