"""Article pages of new feed items: fetched in chunks, extracted while the next chunk downloads.

Fetching is network-bound and extraction CPU-bound, so the two overlap: chunk *k* is
extracted by the process pool while chunk *k + 1* is fetched (its pages ordered round-robin
by host, so each chunk downloads from many sites at once). Chunks also bound memory (only
about two chunks of page bodies are held at a time) and give progress as they finish.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from urllib.parse import urlsplit

from newsmon.errors import FetchError
from newsmon.extract import PagePool, PageText, PendingPages
from newsmon.http import FetchRequest, FetchResult, HttpConfig, fetch_all
from newsmon.workers import WorkerPool

log = logging.getLogger(__name__)

PAGE_CHUNK = 200  # pages per fetch; about 2 to 6 s of extraction on two cores
UNREACHABLE = frozenset({"dns", "refused", "tls"})  # a host that failed so is down for the run
STRIKES = frozenset({"timeout", "connect"})  # failures a host may have by chance: down after HOST_STRIKES
HOST_STRIKES = 3
FIRST_CHUNK_PER_WORKER = 8  # the first fetch is small: the workers wait for it
HTML_TYPES = ("text/html", "application/xhtml+xml", "")
PAGE_ACCEPT = "text/html,application/xhtml+xml"

Progress = Callable[[int, int], None]  # (pages done, pages in all)


@dataclass(slots=True)
class FetchedPages:
    """One chunk after fetching: pages to extract, and the URLs already settled without one."""

    pages: list[tuple[bytes, str]] = field(default_factory=list)  # (html, final url)
    urls: list[str] = field(default_factory=list)  # the requested URL of each page
    with_metadata: list[bool] = field(default_factory=list)
    settled: dict[str, PageText] = field(default_factory=dict)  # failed or not HTML
    failed: int = 0
    host_failures: list[tuple[str, str]] = field(default_factory=list)  # (url, kind) failed at the URL's own host


@dataclass(slots=True)
class PageOutcome:
    """Every requested URL's page text (or why there is none), and the counts."""

    texts: dict[str, PageText] = field(default_factory=dict)
    fetched: int = 0  # pages fetched as HTML and extracted
    failed: int = 0  # fetches that failed


def chunked(urls: Sequence[str], size: int = PAGE_CHUNK, first: int | None = None) -> list[list[str]]:
    """The URLs in chunks of at most ``size`` (the first of at most ``first``, if given)."""
    head = min(len(urls), first if first is not None else size)
    chunks = [list(urls[:head])] if head else []
    return chunks + [list(urls[i : i + size]) for i in range(head, len(urls), size)]


def page_chunks(urls: Sequence[str], workers: int, size: int = PAGE_CHUNK) -> list[list[str]]:
    """The URLs to fetch, round-robin by host, in chunks of at most ``size``; the first is small
    (:data:`FIRST_CHUNK_PER_WORKER` per worker), so extraction starts almost at once and a site
    that is down costs few tries before :class:`HostHealth` stops trying it."""
    return chunked(interleave_hosts(urls), size, first=min(size, FIRST_CHUNK_PER_WORKER * max(1, workers)))


def interleave_hosts(urls: Sequence[str]) -> list[str]:
    """The URLs round-robin by host (each host's own order kept), so that every chunk spans many
    sites: with at most two requests per host, a chunk of one site's pages would download two
    at a time."""
    by_host: dict[str, list[str]] = {}
    for url in urls:
        by_host.setdefault(_host(url), []).append(url)
    queues = list(by_host.values())
    out: list[str] = []
    for rank in range(max((len(q) for q in queues), default=0)):
        out.extend(q[rank] for q in queues if rank < len(q))
    return out


@dataclass(slots=True)
class HostHealth:
    """The hosts found down in this run (the name did not resolve, the connection was refused or
    TLS failed; or :data:`HOST_STRIKES` connections timed out or broke): their other pages are
    not tried, each settled at once with the failure that took the host down, so an unreachable
    site costs one try, not one per page. Only a failure at the page's own host counts, not one
    at a site it redirected to."""

    down: dict[str, PageText] = field(default_factory=dict)
    strikes: dict[str, int] = field(default_factory=dict)
    skipped: dict[str, int] = field(default_factory=dict)

    def fetch(self, urls: Sequence[str], fetcher: Callable[[list[str]], FetchedPages]) -> FetchedPages:
        """One chunk: ``fetcher`` fetches the pages of hosts not down; the others are settled."""
        to_fetch, skipped = self.split(urls)
        fetched = fetcher(to_fetch)
        self.note(fetched)
        fetched.settled.update(skipped)
        fetched.failed += len(skipped)
        return fetched

    def split(self, urls: Sequence[str]) -> tuple[list[str], dict[str, PageText]]:
        """The URLs to fetch, and those of hosts down, settled."""
        fetch: list[str] = []
        settled: dict[str, PageText] = {}
        for url in urls:
            host = _host(url)
            cause = self.down.get(host)
            if cause is None:
                fetch.append(url)
                continue
            self.skipped[host] = self.skipped.get(host, 0) + 1
            settled[url] = PageText(
                None, "unavailable", f"not tried: {host} failed earlier in this run ({cause.error})",
                failure=cause.failure,
            )  # fmt: skip
        return fetch, settled

    def note(self, fetched: FetchedPages) -> None:
        """Take note of a chunk's fetches that failed at their own host."""
        for url, kind in fetched.host_failures:
            host = _host(url)
            if host in self.down:
                continue
            if kind in STRIKES:
                self.strikes[host] = self.strikes.get(host, 0) + 1
            if kind in UNREACHABLE or self.strikes.get(host, 0) >= HOST_STRIKES:
                self.down[host] = fetched.settled[url]

    def report(self) -> None:
        """One log line for the pages not tried, if any."""
        if self.skipped:
            hosts = sorted(self.skipped, key=lambda h: (-self.skipped[h], h))
            log.warning(
                "pages: %d pages of %d unreachable sites not tried (%s); their items keep their feed summaries",
                sum(self.skipped.values()), len(hosts), ", ".join(f"{h}: {self.down[h].failure}" for h in hosts[:5]),
            )  # fmt: skip


def _host(url: str) -> str:
    """The key a host's health is kept under: ``host:port``, as fetch failures name it (so that
    ``https://site`` and ``https://site:443`` are one host, ``http://site`` another)."""
    return endpoint(url) or urlsplit(url).netloc.lower()


def endpoint(url: str) -> str:
    """``host:port`` of a URL (the scheme's port when it names none), as a failed fetch names it."""
    parts = urlsplit(url)
    try:
        port = parts.port or (443 if parts.scheme == "https" else 80)
    except ValueError:
        return ""
    return f"{(parts.hostname or '').lower()}:{port}"


def sort_fetched(urls: Sequence[str], results: Sequence[FetchResult | FetchError], undated: set[str]) -> FetchedPages:
    """Split fetch results into HTML pages to extract and URLs settled without a page.

    ``undated``: URLs whose feed item gave no date or title, for which trafilatura also searches
    the page's metadata (a third of its time, so only where needed).
    """
    out = FetchedPages()
    for url, result in zip(urls, results, strict=True):
        if isinstance(result, FetchError):
            out.failed += 1
            out.settled[url] = PageText(None, "unavailable", result.message, failure=result.kind, status=result.status)
            if result.host is not None and result.host == endpoint(url):
                out.host_failures.append((url, result.kind))
            continue
        ctype = result.headers.get("content-type", "").split(";")[0].strip().lower()
        if ctype not in HTML_TYPES:
            out.settled[url] = PageText(None, "not-article", f"content-type {ctype}")
            continue
        out.pages.append((result.body, result.final_url))
        out.urls.append(url)
        out.with_metadata.append(url in undated)
    return out


def fetch_pages(urls: Sequence[str], http: HttpConfig, undated: set[str]) -> FetchedPages:
    """Fetch one chunk of article pages with the HTTP guardrails."""
    results = fetch_all([FetchRequest(u, accept=PAGE_ACCEPT) for u in urls], http)
    return sort_fetched(urls, results, undated)


def fetch_and_extract(
    urls: Sequence[str],
    undated: set[str],
    http: HttpConfig,
    workers: int | WorkerPool,
    progress: Progress | None = None,
    chunk_size: int = PAGE_CHUNK,
) -> PageOutcome:
    """Fetch and extract every URL's page in chunks of ``chunk_size``.

    Each chunk is queued on the process pool as soon as it has downloaded, before the previous
    one is collected, so the workers never wait at a chunk's boundary; the next chunk downloads
    while they extract. The first chunk is small, so extraction starts almost at once.
    """
    outcome = PageOutcome()
    count = workers.workers if isinstance(workers, WorkerPool) else workers
    chunks = page_chunks(urls, count, chunk_size)
    hosts = HostHealth()
    with PagePool(workers) as pool:
        pending: tuple[FetchedPages, PendingPages] | None = None
        for chunk in chunks:
            fetched = hosts.fetch(chunk, lambda urls: fetch_pages(urls, http, undated))
            queued = (fetched, pool.submit(fetched.pages, fetched.with_metadata))
            if pending is not None:
                _collect(outcome, pool, *pending, len(urls), progress)
            pending = queued
        if pending is not None:
            _collect(outcome, pool, *pending, len(urls), progress)
    hosts.report()
    return outcome


def _collect(
    outcome: PageOutcome,
    pool: PagePool,
    fetched: FetchedPages,
    extraction: PendingPages,
    total: int,
    progress: Progress | None,
) -> None:
    add_chunk(outcome, fetched, pool.collect(extraction))
    if progress is not None:
        progress(len(outcome.texts), total)


def add_chunk(outcome: PageOutcome, fetched: FetchedPages, texts: Sequence[PageText]) -> None:
    """Record one chunk's results."""
    outcome.texts.update(fetched.settled)
    outcome.texts.update(zip(fetched.urls, texts, strict=True))
    outcome.fetched += len(fetched.pages)
    outcome.failed += fetched.failed
