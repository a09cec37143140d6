"""Feed polling throughput: a full first poll and an all-304 second poll through the monitor flow.

Serves the real May 2023 feed entries of ``../shared/data/feeds-archive/replay-2023-05.jsonl.gz``
as N RSS 2.0 feeds from a loopback HTTP server (every feed with an ETag, 304 on a matching
If-None-Match, gzip when the client accepts it), then runs the ``monitor`` flow on a fresh
DuckDB file without page fetching (items become feed-summary documents):

1. a first poll: every feed fetched, parsed and every item stored;
2. a second poll one interval later where nothing changed: every feed answers 304;
3. the first poll again by the HTTP layer alone (``fetch_all`` + ``parse_feed``, no store, no
   Prefect), to split the flow's time between fetching+parsing and the rest.

Prints seconds, feeds/second and items/second, the flow's stage seconds, Prefect's start-up
and what the server saw.

Example (from the repository root)::

    .venv/bin/python -m benchmarks.feeds --feeds 300
"""

from __future__ import annotations

import argparse
import contextlib
import cProfile
import gzip
import heapq
import io
import json
import os
import platform
import pstats
import re
import shutil
import statistics
import sys
import tempfile
import threading
import time
from collections import Counter, defaultdict
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from email.utils import format_datetime
from hashlib import sha256
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from importlib import metadata
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit
from uuid import UUID
from xml.sax.saxutils import escape

os.environ.setdefault("PREFECT_SERVER_EPHEMERAL_STARTUP_TIMEOUT_SECONDS", "120")
os.environ.setdefault("PREFECT_SERVER_ANALYTICS_ENABLED", "false")
os.environ.setdefault("PREFECT_LOGGING_LEVEL", "WARNING")
_LOOPBACK = "127.0.0.0/8"
_allowed = [p.strip() for p in os.environ.get("NEWSMON_HTTP_ALLOW", "").split(",") if p.strip()]
os.environ["NEWSMON_HTTP_ALLOW"] = ",".join(_allowed if _LOOPBACK in _allowed else [*_allowed, _LOOPBACK])

ROOT = Path(__file__).resolve().parents[1]
if not __package__ and str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

_IMPORT_T0 = time.perf_counter()
import duckdb  # noqa: E402
from prefect import flow  # noqa: E402
from prefect.client.orchestration import get_client  # noqa: E402
from prefect.client.schemas.filters import FlowRunFilter, FlowRunFilterId  # noqa: E402

from flows.monitor import RunSummary, monitor  # noqa: E402
from newsmon.config import Settings, load_settings  # noqa: E402
from newsmon.errors import FetchError  # noqa: E402
from newsmon.feeds import FeedSpec, ParsedFeed, parse_feed, render_feed_entry  # noqa: E402
from newsmon.http import FetchRequest, FetchResult, HttpConfig, fetch_all  # noqa: E402
from storage.store import open_reader  # noqa: E402

IMPORT_SECONDS = time.perf_counter() - _IMPORT_T0

ARCHIVE = Path(__file__).resolve().parents[2] / "shared" / "data" / "feeds-archive" / "replay-2023-05.jsonl.gz"
INTERVAL_S = 60  # the shortest interval newsmon accepts
STAGES = ("ingest", "feeds", "dedupe", "tag", "store", "retag", "alert")
FEED_ACCEPT = "application/rss+xml, application/atom+xml, application/xml;q=0.9, text/xml;q=0.9, */*;q=0.5"
_NOT_XML = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\ufffe\uffff\ud800-\udfff]")  # not allowed in XML 1.0
_COUNT_SQL = {
    "documents": "SELECT count(*) FROM documents",
    "feed_items": "SELECT count(*) FROM feed_items",
    "stories": "SELECT count(*) FROM stories",
    "tags": "SELECT count(*) FROM document_topics",
}


# -- the feeds ------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Entry:
    """One archived feed entry."""

    source: str
    title: str
    description: str
    published: datetime | None


@dataclass(slots=True)
class Feed:
    """One served feed: its path, name, item count and its body, plain and gzipped."""

    path: str
    name: str
    items: int
    xml: bytes = b""
    gz: bytes = b""
    etag: str = ""


def load_entries(path: Path, limit: int | None) -> list[Entry]:
    """The first ``limit`` entries of the archive (all if None), in file order."""
    entries: list[Entry] = []
    with gzip.open(path, "rt", encoding="utf-8") as lines:
        for line in lines:
            if limit is not None and len(entries) == limit:
                break
            record = json.loads(line)
            raw_date = record.get("date_published")
            try:
                published = datetime.fromisoformat(raw_date) if raw_date else None
            except ValueError:
                published = None
            if published is not None and published.tzinfo is None:
                published = published.replace(tzinfo=UTC)
            entries.append(
                Entry(record["source"], record.get("title") or "", record.get("description") or "", published)
            )
    return entries


def allocate(counts: dict[str, int], n_feeds: int) -> dict[str, int]:
    """How many feeds each source is split into: at least one each, the rest where feeds are largest.

    With fewer feeds than sources, only the ``n_feeds`` largest sources are kept (one feed each).
    """
    sources = sorted(counts, key=lambda s: (-counts[s], s))[:n_feeds]
    shares = dict.fromkeys(sources, 1)
    heap = [(-counts[s], s) for s in sources]  # largest items-per-feed first
    heapq.heapify(heap)
    for _ in range(n_feeds - len(sources)):
        _, source = heapq.heappop(heap)
        shares[source] += 1
        heapq.heappush(heap, (-counts[source] / shares[source], source))
    return shares


def _xml_text(value: str) -> str:
    return escape(_NOT_XML.sub("", value))


def render_rss(title: str, link: str, items: list[tuple[Entry, str]]) -> bytes:
    """An RSS 2.0 document; items newest first, their descriptions' HTML escaped as text."""
    dated = [e.published for e, _ in items if e.published is not None]
    out = [
        '<?xml version="1.0" encoding="UTF-8"?>\n<rss version="2.0">\n<channel>\n',
        f"<title>{_xml_text(title)}</title>\n<link>{_xml_text(link)}</link>\n",
        f"<description>{_xml_text(title)}: replayed May 2023 items</description>\n",
    ]
    if dated:
        out.append(f"<lastBuildDate>{format_datetime(max(dated), usegmt=True)}</lastBuildDate>\n")
    for entry, url in items:
        out.append("<item>\n")
        out.append(f"<title>{_xml_text(entry.title)}</title>\n<link>{_xml_text(url)}</link>\n")
        out.append(f'<guid isPermaLink="true">{_xml_text(url)}</guid>\n')
        out.append(f"<description>{_xml_text(entry.description)}</description>\n")
        if entry.published is not None:
            out.append(f"<pubDate>{format_datetime(entry.published.astimezone(UTC), usegmt=True)}</pubDate>\n")
        out.append("</item>\n")
    out.append("</channel>\n</rss>\n")
    return "".join(out).encode("utf-8")


def _as_bases(base: str | Sequence[str]) -> list[str]:
    return [base] if isinstance(base, str) else list(base)


def build_feeds(entries: list[Entry], n_feeds: int, base: str | Sequence[str]) -> list[Feed]:
    """Split the entries into ``n_feeds`` feeds: by source, then round-robin within each source.

    Item links point at ``base`` (or, given several, at each in turn: pages on several hosts)."""
    bases = _as_bases(base)
    by_source: dict[str, list[Entry]] = defaultdict(list)
    for entry in entries:
        by_source[entry.source].append(entry)
    shares = allocate({s: len(v) for s, v in by_source.items()}, n_feeds)
    feeds: list[Feed] = []
    page = 0
    for source in sorted(shares):
        chronological = sorted(by_source[source], key=lambda e: e.published or datetime.min.replace(tzinfo=UTC))
        k = shares[source]
        host = urlsplit(source).hostname or source
        for j in range(k):
            part = chronological[j::k]
            items: list[tuple[Entry, str]] = []
            for entry in reversed(part):  # newest first, as feeds list them
                items.append((entry, f"{bases[page % len(bases)]}/page/{page}"))
                page += 1
            name = f"{host} {j + 1}/{k}"
            xml = render_rss(name, source, items)
            path = f"/feed/{len(feeds):04d}.rss"
            digest = sha256(xml).hexdigest()[:20]
            feeds.append(Feed(path, name, len(items), xml, gzip.compress(xml, compresslevel=6, mtime=0), digest))
    return feeds


def write_feeds_toml(feeds: list[Feed], base: str | Sequence[str], path: Path) -> None:
    """The feed list the flow polls: every feed at the shortest interval (on the hosts of
    ``base`` in turn, if several)."""
    bases = _as_bases(base)
    specs = [FeedSpec(f.name, bases[n % len(bases)] + f.path, float(INTERVAL_S)) for n, f in enumerate(feeds)]
    text = "# benchmark feeds\n\n" + "\n".join(render_feed_entry(s) for s in specs)
    path.write_text(text, encoding="utf-8")


# -- the server -----------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Hit:
    """One request the server answered."""

    path: str
    if_none_match: bool
    status: int
    gzip: bool
    sent: int  # body bytes


def _accepts_gzip(value: str | None) -> bool:
    for part in (value or "").split(","):
        name, _, params = part.partition(";")
        if name.strip().lower() not in ("gzip", "x-gzip", "*"):
            continue
        q = re.search(r"q\s*=\s*([0-9.]+)", params)
        try:
            return q is None or float(q.group(1)) > 0
        except ValueError:
            return False
    return False


def _etag_matches(header: str, opaque: str) -> bool:
    """Weak comparison (If-None-Match): ``*`` or any listed tag with the same opaque part."""
    for tag in header.split(","):
        tag = tag.strip()
        if tag == "*" or tag.removeprefix("W/") == f'"{opaque}"':
            return True
    return False


class FeedServer:
    """A threaded HTTP/1.1 server on 127.0.0.1 serving the feeds (and article pages, if given);
    records every request.

    Identity responses carry a strong ETag, gzipped ones the weak form (as nginx does); a
    matching If-None-Match gets 304.
    """

    def __init__(self, hosts: int = 1) -> None:
        """Serve on ``hosts`` loopback addresses (127.0.0.1, 127.0.0.2, ...), as several sites."""
        self.feeds: dict[str, Feed] = {}
        self.pages: dict[str, bytes] = {}  # path -> HTML
        self.hits: list[Hit] = []
        self._lock = threading.Lock()
        server = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"
            disable_nagle_algorithm = True

            def do_GET(self) -> None:
                feed = server.feeds.get(self.path)
                inm = self.headers.get("If-None-Match")
                page = server.pages.get(self.path) if feed is None else None
                if page is not None:
                    self._reply(200, page, {"Content-Type": "text/html; charset=utf-8"}, inm, False)
                    return
                if feed is None:
                    self._reply(404, b"not found\n", {"Content-Type": "text/plain"}, inm, False)
                    return
                zipped = _accepts_gzip(self.headers.get("Accept-Encoding"))
                etag = f'W/"{feed.etag}"' if zipped else f'"{feed.etag}"'
                if inm is not None and _etag_matches(inm, feed.etag):
                    self._reply(304, None, {"ETag": etag, "Vary": "Accept-Encoding"}, inm, zipped)
                    return
                headers = {"Content-Type": "application/rss+xml; charset=utf-8", "ETag": etag}
                headers["Vary"] = "Accept-Encoding"
                if zipped:
                    headers["Content-Encoding"] = "gzip"
                self._reply(200, feed.gz if zipped else feed.xml, headers, inm, zipped)

            def _reply(
                self, status: int, body: bytes | None, headers: dict[str, str], inm: str | None, zipped: bool
            ) -> None:
                self.send_response(status)
                for name, value in headers.items():
                    self.send_header(name, value)
                if body is not None:
                    self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                if body is not None:
                    self.wfile.write(body)
                with server._lock:
                    server.hits.append(Hit(self.path, inm is not None, status, zipped, len(body or b"")))

            def log_message(self, *_args: object) -> None:
                pass

        class Server(ThreadingHTTPServer):
            daemon_threads = True
            request_queue_size = 128

        self.httpds = [Server((f"127.0.0.{k + 1}", 0), Handler) for k in range(hosts)]
        for httpd in self.httpds:
            threading.Thread(target=httpd.serve_forever, name="feed-server", daemon=True).start()

    @property
    def base(self) -> str:
        """``http://127.0.0.1:PORT``."""
        return self.bases[0]

    @property
    def bases(self) -> list[str]:
        """``http://127.0.0.K:PORT`` of every host served."""
        return [f"http://{h.server_address[0]}:{h.server_address[1]}" for h in self.httpds]

    def mark(self) -> int:
        """The number of requests answered so far (to slice out one poll's requests)."""
        with self._lock:
            return len(self.hits)

    def since(self, mark: int) -> list[Hit]:
        """The requests answered after ``mark``."""
        with self._lock:
            return self.hits[mark:]

    def close(self) -> None:
        """Stop serving."""
        for httpd in self.httpds:
            httpd.shutdown()
            httpd.server_close()


def _serve_child(hosts: int, conn: Any) -> None:
    """Child process of :class:`FeedServerProcess`: bind, report the bases, take the content, serve."""
    server = FeedServer(hosts)
    conn.send(server.bases)
    server.feeds, server.pages = conn.recv()
    conn.send("serving")
    conn.recv()  # anything (or EOF): stop
    server.close()


class FeedServerProcess:
    """:class:`FeedServer` in a process of its own, as a real site is not inside the monitor.

    It still shares the machine's cores with what is measured, but not its interpreter's GIL:
    a server thread in the flow's own process would make every fetch wait for the GIL behind
    the page server, which no deployment has. Call :meth:`serve` once the feeds are built.
    """

    def __init__(self, hosts: int = 1) -> None:
        import multiprocessing

        ctx = multiprocessing.get_context("spawn")
        self._conn, child = ctx.Pipe()
        self._process = ctx.Process(target=_serve_child, args=(hosts, child), name="page-server", daemon=True)
        self._process.start()
        child.close()
        self.bases: list[str] = self._conn.recv()

    def serve(self, feeds: dict[str, Feed], pages: dict[str, bytes]) -> None:
        """Hand the feeds and pages to the server and wait until it serves them."""
        self._conn.send((feeds, pages))
        if self._conn.recv() != "serving":
            raise RuntimeError("the page server did not start")

    def close(self) -> None:
        """Stop the server process."""
        with contextlib.suppress(OSError):
            self._conn.send("stop")
        self._process.join(10)
        if self._process.is_alive():
            self._process.kill()


# -- the runs -------------------------------------------------------------------------------


@dataclass(slots=True)
class Poll:
    """One timed poll: wall seconds, what the server saw and (for flow runs) the summary and counts."""

    label: str
    wall: float
    hits: list[Hit]
    summary: RunSummary | None = None
    counts: dict[str, int] = field(default_factory=dict)
    items: int = 0  # items parsed (bare runs)
    parts: dict[str, float] = field(default_factory=dict)  # sub-timings (bare runs)
    failures: list[str] = field(default_factory=list)
    tasks: dict[str, tuple[int, float]] = field(default_factory=dict)  # task name -> (runs, seconds)
    tasks_error: str | None = None


@flow(name="benchmark-noop", validate_parameters=False)
def noop() -> None:
    """A flow that does nothing: its duration is Prefect's fixed cost per flow run."""


def settings_for(work: Path, feeds_file: Path, topics_file: Path) -> Settings:
    """Settings for the runs: an empty seeds folder, a fresh DuckDB file, no page fetching."""
    work.mkdir(parents=True)
    seeds = work / "seeds"
    seeds.mkdir()
    return load_settings(
        None,
        db=work / "news.duckdb",
        seeds=seeds,
        topics=topics_file,
        alerts_dir=work / "alerts",
        feeds=feeds_file,
        fetch_pages=False,
    )


def stored_counts(db: Path) -> dict[str, int]:
    """Row counts of the tables the checks look at."""
    con = open_reader(db)
    try:
        return {name: int(con.execute(sql).fetchone()[0]) for name, sql in _COUNT_SQL.items()}
    finally:
        con.close()


def run_flow(label: str, settings: Settings, now: datetime, server: FeedServer) -> Poll:
    """The ``monitor`` flow, timed from the call to its return."""
    mark = server.mark()
    t0 = time.perf_counter()
    summary = monitor(settings, now)
    wall = time.perf_counter() - t0
    poll = Poll(label, wall, server.since(mark), summary, stored_counts(settings.db))
    try:
        poll.tasks = task_seconds(summary.run_id)
    except Exception as err:  # the split is optional: report why it is missing
        poll.tasks_error = f"{type(err).__name__}: {err}"
    return poll


def task_seconds(flow_run_id: str) -> dict[str, tuple[int, float]]:
    """Per task name: the flow run's task runs and their total run time, read from Prefect's API."""
    flow_runs = FlowRunFilter(id=FlowRunFilterId(any_=[UUID(flow_run_id)]))
    runs: list[Any] = []
    for _attempt in range(20):
        runs = []
        with get_client(sync_client=True) as client:
            while True:
                page = client.read_task_runs(flow_run_filter=flow_runs, limit=200, offset=len(runs))
                runs.extend(page)
                if len(page) < 200:
                    break
        if runs and all(r.end_time is not None for r in runs):
            break
        time.sleep(0.25)
    out: dict[str, tuple[int, float]] = {}
    for run in runs:
        name = run.name.rsplit("-", 1)[0]  # "parse-feeds-3a1" -> "parse-feeds"
        calls, seconds = out.get(name, (0, 0.0))
        out[name] = (calls + 1, seconds + run.total_run_time.total_seconds())
    return out


def http_config(settings: Settings, **overrides: Any) -> HttpConfig:
    """The HTTP configuration the flow builds from these settings."""
    values: dict[str, Any] = {"total_timeout_s": settings.http_timeout_s, "concurrency": settings.http_concurrency}
    return HttpConfig.from_env(**(values | overrides))


def run_bare(
    label: str,
    urls: list[str],
    http: HttpConfig,
    server: FeedServer,
    etags: dict[str, str | None] | None = None,
    parse: bool = True,
) -> tuple[Poll, list[FetchResult | FetchError]]:
    """``fetch_all`` on every feed URL (conditional if ``etags``), then ``parse_feed`` on each body."""
    etags = etags or {}
    requests = [FetchRequest(u, etag=etags.get(u), accept=FEED_ACCEPT) for u in urls]
    mark = server.mark()
    t0 = time.perf_counter()
    results = fetch_all(requests, http)
    t1 = time.perf_counter()
    bodies = [r for r in results if isinstance(r, FetchResult) and not r.not_modified] if parse else []
    parsed: list[ParsedFeed] = [parse_feed(r.body, r.headers) for r in bodies]
    t2 = time.perf_counter()
    parts = {"fetch_all": t1 - t0, "parse_feed": t2 - t1} if bodies else {}
    poll = Poll(label, t2 - t0, server.since(mark), parts=parts)
    poll.items = sum(len(p.items) for p in parsed)
    poll.failures = [str(r) for r in results if isinstance(r, FetchError)]
    poll.failures += [f"parse: {p.error}" for p in parsed if p.error or not p.is_feed]
    return poll, results


# -- the report -----------------------------------------------------------------------------


def _rate(n: int, seconds: float) -> str:
    return f"{n / seconds:,.0f}" if seconds > 0 else "-"


def _pct(part: float, whole: float) -> str:
    return f"{100 * part / whole:.1f}%" if whole > 0 else "-"


def _mb(n: int) -> str:
    return f"{n / 1e6:.1f} MB"


def print_environment(feeds: list[Feed], sources: int, base: str, http: HttpConfig) -> None:
    """CPU, interpreter and library versions, and the feeds' shape."""
    cpus = os.cpu_count()
    usable = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else cpus
    sizes = [f.items for f in feeds]
    print("environment")
    print(f"  cpus            {cpus} ({usable} usable)   {platform.machine()} {platform.system()} {platform.release()}")
    print(f"  python          {platform.python_version()} ({platform.python_implementation()})")
    versions = ", ".join(f"{p} {metadata.version(p)}" for p in ("prefect", "feedparser", "httpx"))
    print(f"  libraries       {versions}, duckdb {duckdb.__version__}")
    print(
        f"  feeds           {len(feeds)} RSS 2.0 feeds from {sources} sources, {sum(sizes):,} items"
        f" ({min(sizes)}/{statistics.median(sizes):.0f}/{max(sizes)} min/median/max per feed), from {ARCHIVE.name}"
    )
    print(
        f"  bodies          {_mb(sum(len(f.xml) for f in feeds))} XML, {_mb(sum(len(f.gz) for f in feeds))} gzipped;"
        f" served by a ThreadingHTTPServer at {base} (same process)"
    )
    print(
        f"  http            {http.concurrency} requests in flight, {http.per_host_concurrency} per host"
        f" (all feeds share one host), timeout {http.total_timeout_s:g} s; fetch_pages=False"
    )
    print(f"  imports         {IMPORT_SECONDS:.2f} s (prefect + newsmon, once per process; not counted below)")
    print(f"  load average    {_load()} at start (other processes compete for the cpus if above ~0.1)")
    print()


def _load() -> str:
    if not hasattr(os, "getloadavg"):
        return "-"
    return " / ".join(f"{x:.2f}" for x in os.getloadavg()) + " (1 / 5 / 15 min)"


def print_stages(first: Poll, second: Poll, items: int, n_feeds: int) -> None:
    """The flow's stage seconds for both polls."""
    assert first.summary is not None and second.summary is not None
    s1, s2 = first.summary.stage_seconds, second.summary.stage_seconds
    header = f"  {'stage':<10}{'poll 1 s':>10}{'items/s':>11}{'share':>8}{'poll 2 s':>12}{'feeds/s':>10}{'share':>8}"
    print(f"flow stages (RunSummary.stage_seconds; poll 1 = {items:,} items new, poll 2 = {n_feeds} feeds all 304)")
    print(header)
    print("  " + "-" * (len(header) - 2))
    for stage in [*STAGES, *sorted((s1.keys() | s2.keys()) - set(STAGES))]:
        a, b = s1.get(stage, 0.0), s2.get(stage, 0.0)
        print(
            f"  {stage:<10}{a:>10.3f}{_rate(items, a):>11}{_pct(a, first.wall):>8}"
            f"{b:>12.3f}{_rate(n_feeds, b):>10}{_pct(b, second.wall):>8}"
        )
    r1, r2 = first.wall - sum(s1.values()), second.wall - sum(s2.values())
    print(f"  {'other':<10}{r1:>10.3f}{'':>11}{_pct(r1, first.wall):>8}{r2:>12.3f}{'':>10}{_pct(r2, second.wall):>8}")
    print("  " + "-" * (len(header) - 2))
    print(
        f"  {'total':<10}{first.wall:>10.3f}{_rate(items, first.wall):>11}{'':>8}"
        f"{second.wall:>12.3f}{_rate(n_feeds, second.wall):>10}"
    )
    print("  (feeds = sync feed list, poll, parse, seen-item lookups, documents built; other = Prefect flow")
    print("   run, store open + migrate, topic registration, run/stage records, feed states saved, checkpoint)")
    print()


def print_polls(polls: list[Poll], n_feeds: int) -> None:
    """Wall, rates and what the server saw, one row per poll."""
    header = (
        f"  {'poll':<34}{'wall s':>9}{'feeds/s':>9}{'items/s':>9}{'reqs':>6}{'200':>6}{'304':>6}{'INM':>6}"
        f"{'gzip':>6}{'body MB':>9}"
    )
    print("polls (INM = requests carrying If-None-Match; body MB = bytes sent, compressed)")
    print(header)
    print("  " + "-" * (len(header) - 2))
    for p in polls:
        statuses = Counter(h.status for h in p.hits)
        items = p.items if p.summary is None else (p.summary.documents_new or p.items)
        print(
            f"  {p.label:<34}{p.wall:>9.3f}{_rate(n_feeds, p.wall):>9}{_rate(items, p.wall) if items else '-':>9}"
            f"{len(p.hits):>6}{statuses[200]:>6}{statuses[304]:>6}{sum(h.if_none_match for h in p.hits):>6}"
            f"{sum(h.gzip for h in p.hits):>6}{sum(h.sent for h in p.hits) / 1e6:>9.1f}"
        )
        for name, seconds in p.parts.items():
            print(f"    {name:<32}{seconds:>9.3f}{_rate(n_feeds, seconds):>9}{_rate(p.items, seconds):>9}")
    print("  (items/s of a flow poll = documents stored / wall; of a bare poll = items parsed / wall;")
    print("   3-5 call newsmon.http.fetch_all and newsmon.feeds.parse_feed directly: no Prefect, no store)")
    print()


TASK_ORDER = ("ingest", "poll-feeds", "parse-feeds", "dedupe", "tag", "store", "retag", "alert")
_TASK_ROLE = {"poll-feeds": "fetch_all", "parse-feeds": "parse_feed"}


def print_split(first: Poll, bare: Poll, startup: float, noop_s: float) -> None:
    """Where the first poll's time goes: each task's run time (from Prefect's API), the feeds
    stage's own work, Prefect's cost per task call and what lies outside the stages."""
    assert first.summary is not None
    stages, tasks, wall = first.summary.stage_seconds, first.tasks, first.wall
    print(f"first poll split (flow wall {wall:.3f} s; task run times as Prefect recorded them)")
    if not tasks:
        print(f"  task run times unavailable ({first.tasks_error or 'no task runs found'})")
        print()
    else:
        header = f"  {'part':<34}{'calls':>6}{'seconds':>10}{'share':>8}"
        print(header)
        print("  " + "-" * (len(header) - 2))
        names = [*[t for t in TASK_ORDER if t in tasks], *sorted(set(tasks) - set(TASK_ORDER))]
        for name in names:
            calls, seconds = tasks[name]
            label = f"{name} task" + (f" ({_TASK_ROLE[name]})" if name in _TASK_ROLE else "")
            print(f"  {label:<34}{calls:>6}{seconds:>10.3f}{_pct(seconds, wall):>8}")
        in_feeds = sum(tasks.get(t, (0, 0.0))[1] for t in ("poll-feeds", "parse-feeds"))
        feeds_rest = stages.get("feeds", 0.0) - in_feeds
        others = [t for t in names if t not in _TASK_ROLE and t in stages]
        overhead = sum(stages[t] - tasks[t][1] for t in others)
        calls = sum(tasks[t][0] for t in others)
        outside = wall - sum(stages.values())
        print(f"  {'feeds stage outside its tasks':<34}{'':>6}{feeds_rest:>10.3f}{_pct(feeds_rest, wall):>8}")
        print(f"  {'task-call overhead, other stages':<34}{calls:>6}{overhead:>10.3f}{_pct(overhead, wall):>8}")
        print(f"  {'outside the stages':<34}{'':>6}{outside:>10.3f}{_pct(outside, wall):>8}")
        print("  " + "-" * (len(header) - 2))
        print(f"  {'total':<34}{'':>6}{wall:>10.3f}")
        per_call = 1000 * overhead / calls if calls else 0.0
        print("  (feeds stage outside its tasks = feed list sync, due-feed query, seen-item and document lookups,")
        print("   documents built, and Prefect's two task calls; task-call overhead = stage seconds - task run")
        print(
            f"   time, {per_call:.0f} ms per call; outside the stages = flow run, store open, run records, feed states)"
        )
        fetch, parse = bare.parts.get("fetch_all", 0.0), bare.parts.get("parse_feed", 0.0)
        print(f"  without Prefect or store (poll 3): fetch_all {fetch:.3f} s, parse_feed {parse:.3f} s")
        print()
    print("prefect")
    print(f"  first no-op flow        {startup + noop_s:8.3f} s  (ephemeral API server start-up + one flow run)")
    print(f"  second no-op flow       {noop_s:8.3f} s  (fixed cost of one flow run, server up)")
    print(f"  server start-up         {startup:8.3f} s  (first - second no-op; not in any poll above)")
    print()


def checks(first: Poll, second: Poll, bare: Poll, feeds: list[Feed]) -> list[str]:
    """Print the checks; return the failed ones."""
    assert first.summary is not None and second.summary is not None
    n_feeds, items = len(feeds), sum(f.items for f in feeds)
    paths = {f.path for f in feeds}
    s1, s2 = first.summary, second.summary
    second_feed_hits = [h for h in second.hits if h.path in paths]
    results = [
        (
            f"first poll: {s1.feeds_polled} feeds polled, {s1.feeds_failed} failed,"
            f" {first.counts.get('documents', 0):,} documents stored ({items:,} items served)",
            s1.feeds_polled == n_feeds and s1.feeds_failed == 0 and first.counts.get("documents") == items,
        ),
        (
            f"first poll: {sum(h.status == 200 for h in first.hits)} of {len(first.hits)} requests answered 200",
            len(first.hits) == n_feeds and all(h.status == 200 for h in first.hits),
        ),
        (
            f"second poll: {s2.feeds_polled} feeds polled, {sum(h.if_none_match for h in second_feed_hits)} of"
            f" {len(second_feed_hits)} feed requests carried If-None-Match,"
            f" {sum(h.status == 304 for h in second.hits)} answered 304",
            s2.feeds_polled == n_feeds
            and len(second.hits) == len(second_feed_hits) == n_feeds
            and all(h.if_none_match and h.status == 304 for h in second.hits),
        ),
        (
            f"second poll: {s2.documents_new} documents added"
            f" (documents {first.counts.get('documents', 0):,} -> {second.counts.get('documents', 0):,})",
            s2.documents_new == 0 and second.counts.get("documents") == first.counts.get("documents"),
        ),
        (
            f"bare poll: {bare.items:,} items parsed, {len(bare.failures)} failures",
            bare.items == items and not bare.failures,
        ),
    ]
    print(f"checks (load average {_load()} at the end)")
    failed: list[str] = []
    for text, ok in results:
        print(f"  {'ok  ' if ok else 'FAIL'} {text}")
        if not ok:
            failed.append(text)
    for failure in bare.failures[:5]:
        print(f"       {failure}")
    return failed


def print_profile(settings: Settings, now: datetime, top: int) -> None:
    """Profile one more first poll through the flow (fresh database) and print the top functions."""
    profiler = cProfile.Profile()
    profiler.enable()
    monitor(settings, now)
    profiler.disable()
    for order in ("tottime", "cumulative"):
        out = io.StringIO()
        pstats.Stats(profiler, stream=out).strip_dirs().sort_stats(order).print_stats(top)
        text = out.getvalue()
        start = text.find("   ncalls")
        print(f"\nprofile of a first poll through the flow (main thread), top {top} by {order}")
        print(text[start:].rstrip() if start >= 0 else text.rstrip())


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        prog="python -m benchmarks.feeds",
        description=(
            "Time feed polling on the real May 2023 feed archive served as N RSS feeds from a local\n"
            "server: a first poll through the monitor flow (every item new), a second poll where every\n"
            "feed answers 304, and the first poll by the HTTP layer alone (fetch_all + parse_feed).\n"
            "Prints seconds, feeds/s and items/s, the flow's stage seconds and Prefect's start-up."
        ),
        epilog="example: .venv/bin/python -m benchmarks.feeds --feeds 100 --max-items 10000",
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("--feeds", type=int, default=300, metavar="N", help="feeds to serve (default 300)")
    parser.add_argument(
        "--max-items",
        type=int,
        default=None,
        metavar="M",
        help="archive entries to serve, the first M in file order (default: all, 39,084)",
    )
    parser.add_argument(
        "--profile", action="store_true", help="also profile one more first poll (fresh database) with cProfile"
    )
    parser.add_argument("--profile-top", type=int, default=20, metavar="K", help="profile rows to print (default 20)")
    args = parser.parse_args(argv)
    if args.feeds < 1:
        parser.error("--feeds must be at least 1")
    if args.max_items is not None and args.max_items < args.feeds:
        parser.error("--max-items must be at least --feeds (every feed needs an item)")
    return args


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    if not ARCHIVE.is_file():
        print(f"error: feed archive {ARCHIVE} not found: this benchmark needs it", file=sys.stderr)
        return 2
    entries = load_entries(ARCHIVE, args.max_items)
    if len(entries) < args.feeds:
        print(f"error: --feeds {args.feeds} asks for more feeds than the {len(entries)} entries read", file=sys.stderr)
        return 2
    work = Path(tempfile.mkdtemp(prefix="newsmon-bench-feeds-"))
    server = FeedServer()
    try:
        feeds = build_feeds(entries, args.feeds, server.base)
        server.feeds = {f.path: f for f in feeds}
        urls = [server.base + f.path for f in feeds]
        feeds_file = work / "feeds.toml"
        write_feeds_toml(feeds, server.base, feeds_file)
        topics_file = work / "topics.toml"  # one copy for every run: an edit meanwhile would trigger a retag
        shutil.copyfile(load_settings(None).topics_path, topics_file)
        settings = settings_for(work / "flow", feeds_file, topics_file)
        http = http_config(settings)
        print_environment(feeds, len({e.source for e in entries}), server.base, http)

        t0 = time.perf_counter()
        noop()
        first_noop = time.perf_counter() - t0
        t0 = time.perf_counter()
        noop()
        noop_s = time.perf_counter() - t0

        now = datetime.now(UTC)
        first = run_flow("1. first poll (flow)", settings, now, server)
        later = now + timedelta(seconds=INTERVAL_S + 60)
        second = run_flow("2. second poll (flow, all 304)", settings, later, server)
        bare, results = run_bare("3. first poll (fetch_all + parse)", urls, http, server)
        etags = {r.url: r.etag for r in results if isinstance(r, FetchResult)}
        bare_304, _ = run_bare("4. second poll (fetch_all, 304)", urls, http, server, etags)
        wide_http = http_config(settings, per_host_concurrency=http.concurrency)
        wide, _ = run_bare(f"5. first poll (fetch_all, {wide_http.per_host_concurrency}/host)", urls, wide_http,
                           server, parse=False)  # fmt: skip

        n_items = sum(f.items for f in feeds)
        print_stages(first, second, n_items, len(feeds))
        print_polls([first, second, bare, bare_304, wide], len(feeds))
        print_split(first, bare, max(first_noop - noop_s, 0.0), noop_s)
        failed = checks(first, second, bare, feeds)
        if args.profile:
            print_profile(settings_for(work / "profile", feeds_file, topics_file), now, args.profile_top)
    finally:
        server.close()
        shutil.rmtree(work, ignore_errors=True)
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
