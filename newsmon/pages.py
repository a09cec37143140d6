"""Article pages of new feed items: fetched in chunks, extracted while the next chunk downloads.

Fetching is network-bound and extraction CPU-bound, so the two overlap: chunk *k* is
extracted by the process pool while chunk *k + 1* is fetched. Chunks also bound memory (only
about two chunks of page bodies are held at a time) and give progress as they finish.
"""

from __future__ import annotations

import concurrent.futures
import logging
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field

from newsmon.errors import FetchError
from newsmon.extract import PagePool, PageText
from newsmon.http import FetchRequest, FetchResult, HttpConfig, fetch_all

log = logging.getLogger(__name__)

PAGE_CHUNK = 200  # pages per fetch; about 6 s of extraction on two cores
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


@dataclass(slots=True)
class PageOutcome:
    """Every requested URL's page text (or why there is none), and the counts."""

    texts: dict[str, PageText] = field(default_factory=dict)
    fetched: int = 0  # pages fetched as HTML and extracted
    failed: int = 0  # fetches that failed


def chunked(urls: Sequence[str], size: int = PAGE_CHUNK) -> list[list[str]]:
    """The URLs in chunks of at most ``size``."""
    return [list(urls[i : i + size]) for i in range(0, len(urls), size)]


def sort_fetched(urls: Sequence[str], results: Sequence[FetchResult | FetchError], undated: set[str]) -> FetchedPages:
    """Split fetch results into HTML pages to extract and URLs settled without a page.

    ``undated``: URLs whose feed item gave no date or title, for which trafilatura also searches
    the page's metadata (a third of its time, so only where needed).
    """
    out = FetchedPages()
    for url, result in zip(urls, results, strict=True):
        if isinstance(result, FetchError):
            out.failed += 1
            out.settled[url] = PageText(None, "unavailable", str(result))
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
    workers: int,
    progress: Progress | None = None,
    chunk_size: int = PAGE_CHUNK,
) -> PageOutcome:
    """Fetch and extract every URL's page in chunks of ``chunk_size``, the next chunk
    downloading while the process pool extracts the current one."""
    outcome = PageOutcome()
    chunks = chunked(urls, chunk_size)
    if not chunks:
        return outcome
    with PagePool(workers) as pool, concurrent.futures.ThreadPoolExecutor(1, "extract") as extractor:
        pending: tuple[FetchedPages, concurrent.futures.Future[list[PageText]]] | None = None
        for chunk in chunks:
            fetched = fetch_pages(chunk, http, undated)
            if pending is not None:
                _collect(outcome, *pending, len(urls), progress)
            pending = (fetched, extractor.submit(pool.extract, fetched.pages, fetched.with_metadata))
        if pending is not None:
            _collect(outcome, *pending, len(urls), progress)
    return outcome


def _collect(
    outcome: PageOutcome,
    fetched: FetchedPages,
    extraction: concurrent.futures.Future[list[PageText]],
    total: int,
    progress: Progress | None,
) -> None:
    add_chunk(outcome, fetched, extraction.result())
    if progress is not None:
        progress(len(outcome.texts), total)


def add_chunk(outcome: PageOutcome, fetched: FetchedPages, texts: Sequence[PageText]) -> None:
    """Record one chunk's results."""
    outcome.texts.update(fetched.settled)
    outcome.texts.update(zip(fetched.urls, texts, strict=True))
    outcome.fetched += len(fetched.pages)
    outcome.failed += fetched.failed
