"""What reading and exporting cost on a real corpus: ``newsmon export`` of v_documents in each
format, and ``newsmon sql`` of a page of v_documents in a terminal, on a database built by one
run of the pipeline core over White House documents of 2023 (``../shared/data``).

    python -m benchmarks.exports [--docs 3000] [--repeat 3]

Prints rows, file size, seconds and rows/s for each (best of ``--repeat``).
"""

from __future__ import annotations

import argparse
import subprocess
import sys
import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path

from benchmarks.determinism import white_house, write_corpus
from newsmon.config import load_settings
from newsmon.pipeline import RunContext, run_once
from newsmon.topics import load_topics
from storage.store import Store

SHARED = Path(__file__).resolve().parents[2] / "shared" / "data"
REPO = Path(__file__).resolve().parents[1]


def build(folder: Path, docs: int) -> Path:
    """A database of ``docs`` real documents (and some noisy copies), from one run."""
    corpus = folder / "docs"
    write_corpus(corpus, white_house(SHARED, docs), noisy_every=4, rate=0.03)
    db = folder / "news.duckdb"
    settings = load_settings(None, db=db, seeds=corpus, alerts_dir=folder / "alerts")
    store = Store.open_writer(db)
    try:
        run_once(RunContext(settings, store, load_topics(settings.topics_path), datetime.now(UTC), "bench"))
    finally:
        store.close()
    return db


def timed(args: list[str], repeat: int) -> tuple[float, str]:
    """Best wall time of ``newsmon ARGS`` in a process of its own, and its output."""
    best, out = float("inf"), ""
    for _ in range(repeat):
        t0 = time.perf_counter()
        done = subprocess.run(
            [sys.executable, "-m", "cli", *args], capture_output=True, text=True, check=True, cwd=REPO,
            env={"COLUMNS": "100", "PATH": "/usr/bin:/bin"},
        )  # fmt: skip
        best, out = min(best, time.perf_counter() - t0), done.stdout
    return best, out


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--docs", type=int, default=3000)
    parser.add_argument("--repeat", type=int, default=3)
    options = parser.parse_args()
    if not SHARED.is_dir():
        print("../shared/data is absent: this benchmark needs the shared folder beside the checkout")
        return 1
    with tempfile.TemporaryDirectory(prefix="newsmon-exports-") as tmp:
        folder = Path(tmp)
        t0 = time.perf_counter()
        db = build(folder, options.docs)
        print(f"database: {db.stat().st_size / 1e6:.1f} MB, built in {time.perf_counter() - t0:.1f} s")
        start, _ = timed(["sql", "select 1", "--db", str(db), "-f", "csv"], options.repeat)
        print(f"newsmon sql start-up (select 1): {start:.2f} s")
        for fmt in ("parquet", "csv", "jsonl"):
            target = folder / f"documents.{fmt}"
            seconds, out = timed(["export", "v_documents", "-o", str(target), "--db", str(db)], options.repeat)
            rows = int(out.split()[1].replace(",", ""))
            print(
                f"export v_documents {fmt:>7}: {rows:,} rows, {target.stat().st_size / 1e6:.1f} MB,"
                f" {seconds:.2f} s (after start-up: {rows / max(seconds - start, 1e-3):,.0f} rows/s,"
                f" {target.stat().st_size / 1e6 / max(seconds - start, 1e-3):.0f} MB/s)"
            )
        seconds, out = timed(["sql", "select * from v_documents limit 20", "--db", str(db)], options.repeat)
        print(f"sql 20 rows of v_documents, COLUMNS=100: {seconds:.2f} s, {len(out.splitlines())} lines")
    return 0


if __name__ == "__main__":
    sys.exit(main())
