"""Throughput of the monitor pipeline on real documents, with and without Prefect.

Builds a folder of N Markdown documents from the 2023 White House corpus, runs the
``monitor`` flow on a fresh DuckDB file, then the same stages as plain function calls (the
tasks' ``.fn``, same order and batching) on another fresh file, and prints seconds and
documents/second per stage, Prefect's own overhead and the counts both runs produced.

Example (from the repository root)::

    .venv/bin/python -m benchmarks.pipeline --docs 200
"""

from __future__ import annotations

import argparse
import cProfile
import gzip
import io
import json
import os
import platform
import pstats
import shutil
import statistics
import sys
import tempfile
import time
import uuid
from dataclasses import dataclass, replace
from datetime import UTC, datetime
from importlib import metadata
from pathlib import Path

os.environ.setdefault("PREFECT_SERVER_EPHEMERAL_STARTUP_TIMEOUT_SECONDS", "120")
os.environ.setdefault("PREFECT_SERVER_ANALYTICS_ENABLED", "false")
os.environ.setdefault("PREFECT_LOGGING_LEVEL", "WARNING")

ROOT = Path(__file__).resolve().parents[1]
if not __package__ and str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

_IMPORT_T0 = time.perf_counter()
import duckdb  # noqa: E402
from prefect import flow  # noqa: E402

from flows.monitor import monitor  # noqa: E402
from newsmon.config import Settings, load_settings  # noqa: E402
from newsmon.pipeline import RunContext, RunSummary, run_once  # noqa: E402
from newsmon.topics import load_topics  # noqa: E402
from storage.store import Store, open_reader  # noqa: E402

IMPORT_SECONDS = time.perf_counter() - _IMPORT_T0


CORPUS = ROOT.parent / "shared" / "data" / "documents" / "wh-2023.jsonl.gz"
STAGES = ("ingest", "dedupe", "tag", "store", "retag", "alert")
COUNTED = ("documents", "stories", "tags", "alerts")
CHECKED = ("documents", "stories", "tags")
_COUNT_SQL = {
    "documents": "SELECT count(*) FROM documents",
    "stories": "SELECT count(*) FROM stories",
    "tags": "SELECT count(*) FROM document_topics",
    "alerts": "SELECT count(*) FROM alerts",
}


@dataclass(slots=True)
class Result:
    """One timed run: its wall time, the flow's own stage timings and the stored counts."""

    wall: float
    summary: RunSummary
    counts: dict[str, int]
    batches: int


def build_corpus(source: Path, folder: Path, n: int) -> int:
    """Write the first ``n`` records of ``source`` as ``.md`` files (title line, then text)."""
    folder.mkdir(parents=True, exist_ok=True)
    written = 0
    with gzip.open(source, "rt", encoding="utf-8") as lines:
        for line in lines:
            if written == n:
                break
            record = json.loads(line)
            title = " ".join(record["title"].split())
            path = folder / f"{written:05d}_{record['date']}.md"
            path.write_text(f"{title}\n{record['text']}\n", encoding="utf-8")
            written += 1
    return written


def settings_for(work: Path, seeds: Path, batch_size: int | None) -> Settings:
    """Settings for one run: a fresh DuckDB file and alerts folder under ``work``."""
    work.mkdir(parents=True)
    return load_settings(None, db=work / "news.duckdb", seeds=seeds, alerts_dir=work / "alerts", batch_size=batch_size)


def stored_counts(db: Path) -> dict[str, int]:
    """Row counts of the tables the comparison looks at."""
    con = open_reader(db)
    try:
        return {name: int(con.execute(sql).fetchone()[0]) for name, sql in _COUNT_SQL.items()}
    finally:
        con.close()


@flow(name="benchmark-noop", validate_parameters=False)
def noop() -> None:
    """A flow that does nothing: its duration is Prefect's fixed cost per flow run."""


def run_flow(settings: Settings, now: datetime) -> Result:
    """The ``monitor`` flow, timed from the call to its return."""
    t0 = time.perf_counter()
    summary = monitor(settings, now)
    wall = time.perf_counter() - t0
    return Result(wall, summary, stored_counts(settings.db), _batches(summary, settings))


def run_bare(settings: Settings, now: datetime) -> Result:
    """The same run without Prefect: the pipeline core with its plain steps."""
    t_start = time.perf_counter()
    store = Store.open_writer(settings.db, settings.lock_timeout_s)
    try:
        ctx = RunContext(settings, store, load_topics(settings.topics_path), now, str(uuid.uuid4()))
        summary = run_once(ctx)
    finally:
        store.close()
    wall = time.perf_counter() - t_start
    return Result(wall, summary, stored_counts(settings.db), _batches(summary, settings))


def median_result(results: list[Result]) -> Result:
    """One result from several: median wall and median seconds per stage (counts of the first)."""
    first = results[0]
    stages = {s for r in results for s in r.summary.stage_seconds}
    seconds = {s: statistics.median(r.summary.stage_seconds.get(s, 0.0) for r in results) for s in stages}
    wall = statistics.median(r.wall for r in results)
    return Result(wall, replace(first.summary, stage_seconds=seconds), first.counts, first.batches)


def _batches(summary: RunSummary, settings: Settings) -> int:
    todo = summary.files_seen - summary.files_skipped - summary.documents_unchanged
    return -(-todo // settings.batch_size)


def _rate(n: int, seconds: float) -> str:
    return f"{n / seconds:,.0f}" if seconds >= 0.001 else "-"


def _pct(part: float, whole: float) -> str:
    return f"{100 * part / whole:.1f}%" if whole > 0 else "-"


def print_environment(n_docs: int, settings: Settings, repeat: int) -> None:
    """CPU, interpreter and library versions, and the run's shape."""
    cpus = os.cpu_count()
    usable = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else cpus
    print("environment")
    print(f"  cpus            {cpus} ({usable} usable)   {platform.machine()} {platform.system()} {platform.release()}")
    print(f"  python          {platform.python_version()} ({platform.python_implementation()})")
    print(f"  prefect         {metadata.version('prefect')}")
    print(f"  duckdb          {duckdb.__version__}")
    print(f"  documents       {n_docs} (batch size {settings.batch_size}, from {CORPUS.name})")
    if repeat > 1:
        print(f"  repeats         {repeat} runs of each, order alternated; figures below are medians")
    print(f"  imports         {IMPORT_SECONDS:.2f} s (prefect + newsmon, once per process; not counted below)")
    print()


def print_report(n: int, flows: list[Result], bares: list[Result], first_noop: float, noop_s: float) -> None:
    """The per-stage table, Prefect's overhead, and the counts of both runs."""
    flow_res, bare = median_result(flows), median_result(bares)
    startup = max(first_noop - noop_s, 0.0)
    fs, bs = flow_res.summary.stage_seconds, bare.summary.stage_seconds
    header = f"  {'stage':<10}{'flow s':>10}{'flow doc/s':>12}{'bare s':>10}{'bare doc/s':>12}{'flow-bare s':>13}"
    print(f"per stage ({n} documents; doc/s = documents in the run / stage seconds)")
    print(header)
    print("  " + "-" * (len(header) - 2))
    for stage in [*STAGES, *sorted((fs.keys() | bs.keys()) - set(STAGES))]:
        f, b = fs.get(stage, 0.0), bs.get(stage, 0.0)
        print(f"  {stage:<10}{f:>10.3f}{_rate(n, f):>12}{b:>10.3f}{_rate(n, b):>12}{f - b:>+13.3f}")
    f_rest, b_rest = flow_res.wall - sum(fs.values()), bare.wall - sum(bs.values())
    print(f"  {'other':<10}{f_rest:>10.3f}{'':>12}{b_rest:>10.3f}{'':>12}{f_rest - b_rest:>+13.3f}")
    print("  " + "-" * (len(header) - 2))
    print(
        f"  {'total':<10}{flow_res.wall:>10.3f}{_rate(n, flow_res.wall):>12}"
        f"{bare.wall:>10.3f}{_rate(n, bare.wall):>12}{flow_res.wall - bare.wall:>+13.3f}"
    )
    print("  (other = open + migrate, topic registration, run/stage records, known-content lookup, checkpoint)")
    print("  (tag = waiting for the tags: from 500 documents on, a helper process computes them beside dedupe)")
    print()

    overhead = flow_res.wall - bare.wall
    with_startup = flow_res.wall + startup
    tasks = 2 + 3 * flow_res.batches + ("retag" in fs)
    in_tasks = sum(fs.values()) - sum(bs.values())
    print("prefect")
    print(f"  first no-op flow        {first_noop:8.3f} s  (ephemeral API server start-up + one flow run)")
    print(f"  second no-op flow       {noop_s:8.3f} s  (fixed cost of one flow run, server up)")
    print(f"  server start-up         {startup:8.3f} s  (first - second no-op)")
    print(
        f"  overhead, server up     {overhead:8.3f} s  = {_pct(overhead, flow_res.wall)} of the flow's wall"
        f" {flow_res.wall:.3f} s"
    )
    print(
        f"  overhead, with start-up {overhead + startup:8.3f} s  = {_pct(overhead + startup, with_startup)}"
        f" of start-up + flow wall {with_startup:.3f} s"
    )
    per_task = 1000 * in_tasks / tasks
    print(f"  inside the stages       {in_tasks:8.3f} s  over {tasks} task calls = {per_task:.0f} ms per task call")
    print(
        f"  whole run doc/s         flow {_rate(n, flow_res.wall)} (server up), "
        f"{_rate(n, with_startup)} (with start-up); bare {_rate(n, bare.wall)}"
    )
    print()

    print("counts")
    print(f"  {'':<12}" + "".join(f"{c:>11}" for c in COUNTED))
    for name, res in (("flow", flow_res), ("bare", bare)):
        print(f"  {name:<12}" + "".join(f"{res.counts[c]:>11}" for c in COUNTED))
    s = flow_res.summary
    print(
        f"  flow summary: {s.files_seen} files, {s.files_skipped} skipped, {s.documents_new} new documents,"
        f" {s.stories_new} new stories, {s.tags_new} tags, {s.retagged} retagged, alerts: {', '.join(s.alerts) or '-'}"
    )
    diff = [c for c in CHECKED if len({r.counts[c] for r in (*flows, *bares)}) > 1]
    if diff:
        print(f"WARNING: the flow and the bare run differ in {', '.join(diff)}: the timings are not comparable")
    else:
        print(f"  check: same {', '.join(CHECKED)} in both runs")


def print_profile(settings: Settings, now: datetime, top: int) -> None:
    """Profile one more bare run (fresh database) and print the top functions."""
    profiler = cProfile.Profile()
    profiler.enable()
    run_bare(settings, now)
    profiler.disable()
    for order in ("tottime", "cumulative"):
        out = io.StringIO()
        pstats.Stats(profiler, stream=out).strip_dirs().sort_stats(order).print_stats(top)
        text = out.getvalue()
        start = text.find("   ncalls")
        print(f"\nprofile of a bare run, top {top} by {order}")
        print(text[start:].rstrip() if start >= 0 else text.rstrip())


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        prog="python -m benchmarks.pipeline",
        description=(
            "Time the monitor pipeline on N real documents (2023 White House corpus): the Prefect\n"
            "flow, then the same stages without Prefect, each on a fresh DuckDB file. Prints seconds\n"
            "and documents/second per stage, Prefect's overhead (with and without its one-off API\n"
            "server start-up) and the counts both runs stored."
        ),
        epilog="example: .venv/bin/python -m benchmarks.pipeline --docs 200 --profile",
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("--docs", type=int, default=1000, metavar="N", help="documents to process (default 1000)")
    parser.add_argument(
        "--batch-size", type=int, default=None, metavar="B", help="documents per batch (default: the setting, 500)"
    )
    parser.add_argument(
        "--repeat", type=int, default=1, metavar="R", help="run each R times, alternating the order; report medians"
    )
    parser.add_argument("--bare-first", action="store_true", help="run the bare pipeline before the flow")
    parser.add_argument("--profile", action="store_true", help="also profile a third (bare) run with cProfile")
    parser.add_argument("--profile-top", type=int, default=15, metavar="K", help="profile rows to print (default 15)")
    args = parser.parse_args(argv)
    if args.docs < 1:
        parser.error("--docs must be at least 1")
    if args.repeat < 1:
        parser.error("--repeat must be at least 1")
    if args.batch_size is not None and args.batch_size < 1:
        parser.error("--batch-size must be at least 1")
    return args


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    if not CORPUS.is_file():
        print(f"error: corpus {CORPUS} not found: put wh-2023.jsonl.gz there to run this benchmark", file=sys.stderr)
        return 2
    work = Path(tempfile.mkdtemp(prefix="newsmon-bench-"))
    try:
        seeds = work / "docs"
        n = build_corpus(CORPUS, seeds, args.docs)
        if n < args.docs:
            print(f"error: --docs {args.docs} asks for more than the {n} documents in {CORPUS.name}", file=sys.stderr)
            return 2
        now = datetime.now(UTC)
        print_environment(n, load_settings(None, batch_size=args.batch_size), args.repeat)

        t0 = time.perf_counter()
        noop()
        first_noop = time.perf_counter() - t0
        t0 = time.perf_counter()
        noop()
        noop_s = time.perf_counter() - t0

        flows: list[Result] = []
        bares: list[Result] = []
        for i in range(args.repeat):
            flow_settings = settings_for(work / f"flow{i}", seeds, args.batch_size)
            bare_settings = settings_for(work / f"bare{i}", seeds, args.batch_size)
            if args.bare_first != (i % 2 == 1):
                bares.append(run_bare(bare_settings, now))
                flows.append(run_flow(flow_settings, now))
            else:
                flows.append(run_flow(flow_settings, now))
                bares.append(run_bare(bare_settings, now))
        print_report(n, flows, bares, first_noop, noop_s)
        if args.profile:
            print_profile(settings_for(work / "profile", seeds, args.batch_size), now, args.profile_top)
    finally:
        shutil.rmtree(work, ignore_errors=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
