"""newsmon's performance figures, measured side by side in one run: ``python -m benchmarks``.

Each measurement runs in a fresh process (its peak memory is its own), through the real
``monitor`` flow on a fresh DuckDB file with Prefect's ephemeral API (started and warmed up
before the clock starts), against real data from ``../shared/data`` served by a loopback HTTP
server on eight addresses (127.0.0.1-8, as eight sites: newsmon sends at most two requests at
a time to one host):

1. **pages**: extraction-bound throughput. The 181 real article pages repeated under distinct
   URLs (``--pages``, default 3,000) as items of 30 feeds; pages per second through the whole
   flow (poll, fetch, extract, dedupe, tag, store, alert) against a bare loop of
   ``trafilatura.extract`` over the same pages with the same number of processes, with its
   defaults and with the options newsmon passes (the second ratio is newsmon's own cost), the
   three alternating twice, best of each (the page server runs in a process of its own).
2. **feed items**: summary-only items (no page fetches) of the summer 2023 archive
   (``--items``, default 100,000) as 500 feeds; items per second through the flow.
3. **no news**: 100 feeds that all answer 304 on the second poll; that poll's wall time
   against a trivial Prefect flow's wall time in the same process.
4. **scale**: cost per new document (dedupe lookups and verification, and the batch write)
   with 10k, 100k and 1M stories indexed (``benchmarks.dedupe``'s sweep, a year of days).

Memory: the peak resident size of the measuring process and of its largest child (the
extraction workers), from ``getrusage``.

    python -m benchmarks [--pages 3000] [--items 100000] [--sizes 10000,100000,1000000] [--only pages,items]
"""

from __future__ import annotations

import argparse
import gzip
import json
import multiprocessing
import os
import platform
import resource
import shutil
import sys
import tempfile
import threading
import time
from collections.abc import Callable, Iterator, Sequence
from concurrent.futures import ProcessPoolExecutor
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

os.environ.setdefault("PREFECT_SERVER_EPHEMERAL_STARTUP_TIMEOUT_SECONDS", "120")
os.environ.setdefault("PREFECT_SERVER_ANALYTICS_ENABLED", "false")
os.environ.setdefault("PREFECT_LOGGING_LEVEL", "WARNING")
os.environ["NEWSMON_HTTP_ALLOW"] = "127.0.0.0/8"

ROOT = Path(__file__).resolve().parents[1]
if not __package__ and str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

DATA = ROOT.parent / "shared" / "data"
PAGES_DIR = DATA / "html" / "article-extraction-benchmark"
SUMMER = DATA / "feeds-archive" / "rss-2023-summer.jsonl.gz"
REPLAY = DATA / "feeds-archive" / "replay-2023-05.jsonl.gz"
SETTLE_S = 3.0  # pause between the timed runs of the pages measurement
HOSTS = 8  # loopback addresses served, as several sites: newsmon sends at most 2 requests per host


@dataclass(frozen=True, slots=True)
class Row:
    """One line of the report."""

    name: str
    figure: str
    target: str
    ok: bool | None
    detail: str
    peak_mb: float
    child_mb: float


# -- helpers run inside the measuring process -------------------------------------------------


def _peaks() -> tuple[float, float]:
    """Peak RSS (MB) of this process and of its largest waited-for child."""
    own = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    child = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024
    return own, child


class CpuByProcess:
    """CPU seconds spent by this process and its descendants while in the ``with`` block, by
    role (from each process's command line), sampled every ``every_s`` seconds: a process that
    ends between two samples loses at most that much of its time."""

    ROLES = (
        ("forkserver", "extraction and tagging workers"),
        ("spawn_main", "page server"),
        ("uvicorn", "Prefect API"),
    )

    def __init__(self, every_s: float = 0.2) -> None:
        import psutil

        self._me = psutil.Process()
        self.every_s = every_s
        self._start: dict[int, float] = {}
        self._last: dict[int, tuple[str, float]] = {}
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="cpu-sampler", daemon=True)

    def _sample(self) -> dict[int, tuple[str, float]]:
        import psutil

        out: dict[int, tuple[str, float]] = {}
        for proc in [self._me, *self._me.children(recursive=True)]:
            try:
                with proc.oneshot():
                    times = proc.cpu_times()
                    role = "flow process" if proc.pid == self._me.pid else self._role(proc.cmdline())
                out[proc.pid] = (role, times.user + times.system)
            except psutil.Error:
                continue
        return out

    def _role(self, cmdline: list[str]) -> str:
        text = " ".join(cmdline)
        return next((role for sign, role in self.ROLES if sign in text), "other")

    def _run(self) -> None:
        while not self._stop.wait(self.every_s):
            self._last.update(self._sample())

    def __enter__(self) -> CpuByProcess:
        self._start = {pid: cpu for pid, (_role, cpu) in self._sample().items()}
        self._thread.start()
        return self

    def __exit__(self, *_exc: object) -> None:
        self._stop.set()
        self._thread.join()
        self._last.update(self._sample())

    def by_role(self) -> dict[str, float]:
        """CPU seconds per role over the block."""
        roles: dict[str, float] = {}
        for pid, (role, cpu) in self._last.items():
            roles[role] = roles.get(role, 0.0) + cpu - self._start.get(pid, 0.0)
        return roles


def _warm_prefect() -> tuple[float, float]:
    """Start the ephemeral API with one trivial flow run; time a second one (Prefect's fixed cost)."""
    from benchmarks.feeds import noop

    t0 = time.perf_counter()
    noop()
    first = time.perf_counter() - t0
    t0 = time.perf_counter()
    noop()
    return first, time.perf_counter() - t0


def _settings(work: Path, feeds_file: Path, fetch_pages: bool) -> Any:
    from benchmarks.feeds import settings_for

    return settings_for(work, feeds_file, _topics_copy(work)).model_copy(update={"fetch_pages": fetch_pages})


def _topics_copy(work: Path) -> Path:
    from newsmon.config import default_topics_path

    work.parent.mkdir(parents=True, exist_ok=True)
    target = work.parent / "topics.toml"
    if not target.exists():
        shutil.copyfile(default_topics_path(), target)
    return target


def _documents(db: Path) -> int:
    from benchmarks.feeds import stored_counts

    return stored_counts(db)["documents"]


# -- 1. pages ---------------------------------------------------------------------------------


def _time_bare(jobs: list[tuple[bytes, str]], workers: int, same_options: bool) -> tuple[float, int]:
    """Wall seconds of a bare extraction loop over ``jobs``, and how many gave text."""
    from benchmarks.extraction import bare_extract, bare_extract_same_options

    time.sleep(SETTLE_S)
    extract = bare_extract_same_options if same_options else bare_extract
    t0 = time.perf_counter()
    with ProcessPoolExecutor(workers, mp_context=multiprocessing.get_context("forkserver")) as pool:
        extracted = sum(1 for n in pool.map(extract, jobs, chunksize=4) if n)
    return time.perf_counter() - t0, extracted


def measure_pages(n_pages: int, workers: int, repeat: int = 2) -> dict[str, Any]:
    """Pages per second through the flow and through bare trafilatura loops.

    Two bare loops: ``trafilatura.extract`` with its defaults (the target's measure) and with
    the options newsmon passes (so the ratio to it is newsmon's own cost: fetching, dedupe,
    tagging, storage, Prefect). The three alternate (bare, bare with the options, flow, ...)
    and each keeps its best of ``repeat``: this machine's speed drifts by 10-20 % from one
    minute to the next, and a single triple would measure the drift as much as the pipeline.
    Each starts after a pause of ``SETTLE_S``, so none pays for another's leftovers (Prefect's
    API writes a run's events and logs after it ends). Every flow run starts on a fresh DuckDB
    file.
    """
    from benchmarks.feeds import Entry, FeedServerProcess, build_feeds, write_feeds_toml

    gold = json.loads((PAGES_DIR / "ground-truth.json").read_text(encoding="utf-8"))
    htmls = [gzip.decompress((PAGES_DIR / "html" / f"{i}.html.gz").read_bytes()) for i in sorted(gold)]
    now = datetime.now(UTC)
    entries = [
        Entry(f"https://site{i // 100}.example/feed", f"Article {i}", "", now - timedelta(minutes=i))
        for i in range(n_pages)
    ]
    first_noop, noop_s = _warm_prefect()
    work = Path(tempfile.mkdtemp(prefix="newsmon-bench-pages-"))
    server = FeedServerProcess(HOSTS)
    flows: list[tuple[float, Any, int, dict[str, float]]] = []
    bares: list[tuple[float, int]] = []
    sames: list[tuple[float, int]] = []
    try:
        feeds = build_feeds(entries, 30, server.bases)
        pages = {f"/page/{i}": htmls[i % len(htmls)] for i in range(n_pages)}
        server.serve({f.path: f for f in feeds}, pages)
        write_feeds_toml(feeds, server.bases, work / "feeds.toml")
        jobs = [(pages[f"/page/{i}"], f"https://example.com/{i}") for i in range(n_pages)]
        from flows.monitor import monitor

        for rep in range(repeat):
            bares.append(_time_bare(jobs, workers, same_options=False))
            sames.append(_time_bare(jobs, workers, same_options=True))
            settings = _settings(work / f"flow{rep}", work / "feeds.toml", True)
            settings = settings.model_copy(update={"extract_workers": workers})
            time.sleep(SETTLE_S)
            with CpuByProcess() as cpu:
                t0 = time.perf_counter()
                summary = monitor(settings, now)
                wall = time.perf_counter() - t0
            flows.append((wall, summary, _documents(settings.db), cpu.by_role()))
    finally:
        server.close()
        shutil.rmtree(work, ignore_errors=True)
    flow_s, summary, stored, cpu_by_role = min(flows, key=lambda f: f[0])
    bare_s, extracted = min(bares)
    same_s, _ = min(sames)
    return {
        "flow_pps": n_pages / flow_s, "bare_pps": n_pages / bare_s, "stored": stored, "extracted": extracted,
        "same_pps": n_pages / same_s, "same_runs": [b[0] for b in sames], "cpu": cpu_by_role,
        "stages": summary.stage_seconds, "flow_s": flow_s, "bare_s": bare_s, "noop_s": noop_s,
        "startup_s": first_noop - noop_s, "peaks": _peaks(), "flow_runs": [f[0] for f in flows],
        "bare_runs": [b[0] for b in bares],
    }  # fmt: skip


# -- 2. feed items ----------------------------------------------------------------------------


@contextmanager
def served_feeds(entries: list[Any], n_feeds: int, prefix: str) -> Iterator[tuple[Any, list[Any], Any]]:
    """The entries as ``n_feeds`` feeds on the loopback hosts, a feeds file and settings for a
    fresh database (no page fetching): (server, feeds, settings); removed afterwards."""
    from benchmarks.feeds import FeedServer, build_feeds, write_feeds_toml

    work = Path(tempfile.mkdtemp(prefix=prefix))
    server = FeedServer(HOSTS)
    try:
        feeds = build_feeds(entries, n_feeds, server.bases)
        server.feeds = {f.path: f for f in feeds}
        write_feeds_toml(feeds, server.bases, work / "feeds.toml")
        yield server, feeds, _settings(work / "flow", work / "feeds.toml", False)
    finally:
        server.close()
        shutil.rmtree(work, ignore_errors=True)


def measure_items(n_items: int, n_feeds: int = 500) -> dict[str, Any]:
    """Items per second through the flow for summary-only feed items."""
    from benchmarks.feeds import load_entries
    from flows.monitor import monitor

    entries = load_entries(SUMMER, n_items)
    first_noop, noop_s = _warm_prefect()
    with served_feeds(entries, n_feeds, "newsmon-bench-items-") as (_server, feeds, settings):
        t0 = time.perf_counter()
        summary = monitor(settings, datetime.now(UTC))
        flow_s = time.perf_counter() - t0
        stored = _documents(settings.db)
    return {
        "items_per_s": stored / flow_s, "stored": stored, "served": sum(f.items for f in feeds), "flow_s": flow_s,
        "stages": summary.stage_seconds, "noop_s": noop_s, "startup_s": first_noop - noop_s, "peaks": _peaks(),
    }  # fmt: skip


# -- 3. no news -------------------------------------------------------------------------------


def measure_no_news(n_feeds: int = 100, n_items: int = 5000, repeat: int = 3) -> dict[str, Any]:
    """The wall time of a poll where every feed answers 304, against a trivial flow's."""
    from benchmarks.feeds import load_entries, noop
    from flows.monitor import monitor

    entries = load_entries(REPLAY, n_items)
    _warm_prefect()
    with served_feeds(entries, n_feeds, "newsmon-bench-304-") as (server, _feeds, settings):
        now = datetime.now(UTC)
        monitor(settings, now)  # the first poll: every item new (not timed)
        polls, trivial = [], []
        for k in range(1, repeat + 1):  # interleaved, so machine noise hits both alike
            mark = server.mark()
            t0 = time.perf_counter()
            summary = monitor(settings, now + timedelta(minutes=2 * k))
            polls.append(time.perf_counter() - t0)
            statuses = [h.status for h in server.since(mark)]
            t0 = time.perf_counter()
            noop()
            trivial.append(time.perf_counter() - t0)
    poll_s, noop_s = sorted(polls)[len(polls) // 2], sorted(trivial)[len(trivial) // 2]
    return {
        "poll_s": poll_s, "noop_s": noop_s, "ratio": poll_s / noop_s, "not_modified": statuses.count(304),
        "requests": len(statuses), "polled": summary.feeds_polled, "peaks": _peaks(),
    }  # fmt: skip


# -- 4. scale ---------------------------------------------------------------------------------


def measure_scale(size: int) -> dict[str, Any]:
    """Cost per new document with ``size`` stories indexed over a year (see benchmarks.dedupe)."""
    from benchmarks.dedupe import scale_point

    result: dict[str, Any] = {}
    scale_point(size, 365, 2, 7, result)
    result["peaks"] = _peaks()
    return result


# -- the runner -------------------------------------------------------------------------------


def _child(target: Callable[..., dict[str, Any]], args: tuple[Any, ...], out: Any) -> None:
    try:
        out.update(target(*args))
    except Exception as err:  # report it in the table rather than lose the other figures
        out["error"] = f"{type(err).__name__}: {err}"


def isolated(target: Callable[..., dict[str, Any]], *args: Any) -> dict[str, Any]:
    """Run a measurement in a fresh (spawned) process; its result, or an ``error``."""
    ctx = multiprocessing.get_context("spawn")
    with ctx.Manager() as manager:
        out = manager.dict()
        proc = ctx.Process(target=_child, args=(target, args, out))
        proc.start()
        proc.join()
        result = dict(out)
    if not result:
        result["error"] = f"the measuring process exited with code {proc.exitcode}"
    return result


def _stages(stages: dict[str, float]) -> str:
    return ", ".join(f"{k} {v:.1f} s" for k, v in sorted(stages.items(), key=lambda kv: -kv[1]) if v >= 0.05)


def rows_for(name: str, r: dict[str, Any]) -> list[Row]:
    """The report lines of one measurement."""
    peak, child = r.get("peaks", (0.0, 0.0))
    if "error" in r:
        return [Row(name, "failed", "", False, r["error"], peak, child)]
    if name == "pages":
        ratio = r["flow_pps"] / r["bare_pps"]
        runs = ", ".join(f"{f:.1f}/{b:.1f}" for f, b in zip(r["flow_runs"], r["bare_runs"], strict=True))
        detail = (
            f"flow {r['flow_pps']:.1f} pages/s ({r['stored']} documents), bare trafilatura.extract"
            f" {r['bare_pps']:.1f} pages/s (best of alternating runs, flow/bare s: {runs});"
            f" stages: {_stages(r['stages'])}"
        )
        same = r["flow_pps"] / r["same_pps"]
        same_runs = ", ".join(f"{b:.1f}" for b in r["same_runs"])
        cpu = ", ".join(f"{role} {sec:.1f}" for role, sec in sorted(r["cpu"].items(), key=lambda kv: -kv[1]))
        own = (
            f"bare trafilatura.extract with newsmon's options {r['same_pps']:.1f} pages/s (s: {same_runs});"
            " the gap is newsmon's own cost: fetching over HTTP, dedupe, tagging, storage, Prefect;"
            f" CPU s of the best flow run ({r['flow_s']:.1f} s wall, {os.cpu_count()} cores) by process: {cpu}"
        )
        return [
            Row("pages: flow / bare extraction", f"{ratio:.2f}x", ">= 0.85x", ratio >= 0.85, detail, peak, child),
            Row("pages: flow / bare, same options", f"{same:.2f}x", "", None, own, peak, child),
        ]
    if name == "items":
        rate = r["items_per_s"]
        detail = f"{r['stored']:,} of {r['served']:,} items stored in {r['flow_s']:.1f} s"
        detail += f"; stages: {_stages(r['stages'])}"
        return [Row("feed items (summaries)", f"{rate:,.0f} items/s", ">= 2,000/s", rate >= 2000, detail, peak, child)]
    if name == "no news":
        detail = (
            f"poll {r['poll_s']:.2f} s ({r['not_modified']}/{r['requests']} answered 304), trivial flow"
            f" {r['noop_s']:.2f} s (medians of 3)"
        )
        ratio = r["ratio"]
        return [Row("no news: poll / trivial flow", f"{ratio:.2f}x", "<= 1.5x", ratio <= 1.5, detail, peak, child)]
    total = r["dedupe_ms"] + r["write_ms"]
    detail = f"dedupe {r['dedupe_ms']:.2f} ms + write {r['write_ms']:.2f} ms; DuckDB {r['duck'] / 2**20:.0f} MB"
    return [Row(name, f"{total:.2f} ms/doc", "flat", None, detail, peak, child)]


def print_report(rows: Sequence[Row], seconds: float) -> None:
    """The table, then the details."""
    print(f"\nnewsmon benchmarks: {os.cpu_count()} cores, Python {platform.python_version()}, {platform.machine()}")
    print(f"{'measurement':<32}{'figure':>16}{'target':>12}{'':>4}{'peak MB':>9}{'child MB':>10}")
    for row in rows:
        mark = "" if row.ok is None else ("ok" if row.ok else "MISS")
        print(f"{row.name:<32}{row.figure:>16}{row.target:>12}{mark:>4}{row.peak_mb:>9.0f}{row.child_mb:>10.0f}")
    scale = [r for r in rows if r.name.startswith("scale") and r.figure.endswith("ms/doc")]
    if len(scale) >= 2:
        first, last = float(scale[0].figure.split()[0]), float(scale[-1].figure.split()[0])
        print(f"{'scale: largest / smallest':<32}{last / first:>15.2f}x{'~1x':>12}")
    print()
    for row in rows:
        print(f"- {row.name}: {row.detail}")
    print(f"\ntotal {seconds:.0f} s")


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m benchmarks", description=__doc__.split("\n\n")[0])
    parser.add_argument("--pages", type=int, default=3000, help="article pages through the flow (default 3000)")
    parser.add_argument("--items", type=int, default=100_000, help="feed items through the flow (default 100,000)")
    parser.add_argument("--sizes", default="10000,100000,1000000", help="indexed stories for the cost sweep")
    parser.add_argument("--workers", type=int, default=os.cpu_count() or 1, help="extraction processes")
    parser.add_argument("--only", default="pages,items,no news,scale", help="which measurements (comma-separated)")
    args = parser.parse_args(argv)
    if not DATA.is_dir():
        print(f"benchmarks: {DATA} is absent: put the shared data folder beside the checkout", file=sys.stderr)
        return 2
    only = {part.strip() for part in args.only.split(",")}
    started = time.perf_counter()
    rows: list[Row] = []
    plan: list[tuple[str, Callable[..., dict[str, Any]], tuple[Any, ...]]] = []
    if "pages" in only:
        plan.append(("pages", measure_pages, (args.pages, args.workers)))
    if "items" in only:
        plan.append(("items", measure_items, (args.items,)))
    if "no news" in only:
        plan.append(("no news", measure_no_news, ()))
    if "scale" in only:
        plan += [(f"scale: {int(s):,} stories", measure_scale, (int(s),)) for s in args.sizes.split(",") if s]
    for name, target, targs in plan:
        print(f"measuring {name} ...", flush=True)
        rows += rows_for(name, isolated(target, *targs))
    print_report(rows, time.perf_counter() - started)
    return 0 if all(r.ok is not False for r in rows) else 1


if __name__ == "__main__":
    sys.exit(main())
