"""Main-text extraction from HTML pages with trafilatura."""

from __future__ import annotations

import logging
import re
import signal
from collections.abc import Sequence
from concurrent.futures import Future, ProcessPoolExecutor
from concurrent.futures.process import BrokenProcessPool
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Final, TypedDict

import trafilatura

from newsmon import pagekinds
from newsmon.text import decode_mostly_utf8
from newsmon.workers import WORKER_MEMORY_BYTES, WorkerPool

log = logging.getLogger(__name__)


class TrafilaturaOptions(TypedDict):
    """Keyword arguments newsmon passes to ``trafilatura.bare_extraction`` and ``extract``."""

    fast: bool
    favor_recall: bool
    include_comments: bool
    include_tables: bool


# How trafilatura is asked, for article pages and HTML files alike: its main extractor only
# ("fast": no readability/jusText comparison; teaser blocks kept when it recovers loose text)
# with recall focus (no balanced-mode re-run; more block kinds considered).
# On the 181 gold pages this is both cheaper and more accurate than its defaults: token F1
# 0.964 against 0.959, 11 pages under 0.8 precision against 12, and about 40 % less CPU per
# page (``python -m benchmarks.extraction`` prints the figures).
TRAFILATURA_OPTIONS: Final = TrafilaturaOptions(
    fast=True, favor_recall=True, include_comments=False, include_tables=True
)
EXTRACTOR = f"trafilatura/{trafilatura.__version__}+fast,recall"


@dataclass(frozen=True, slots=True)
class Extracted:
    """Text and metadata of one page."""

    title: str | None
    text: str
    author: str | None
    published_at: datetime | None
    sitename: str | None
    language: str | None


def extract_html(html: str, url: str | None = None) -> Extracted | None:
    """Extract the main text and metadata of an HTML page; ``None`` if it has no main text."""
    doc = trafilatura.bare_extraction(html, url=url, with_metadata=True, **TRAFILATURA_OPTIONS)
    if doc is None or isinstance(doc, dict) or not (doc.text or "").strip():
        return None
    return Extracted(
        title=(doc.title or None),
        text=doc.text or "",
        author=(doc.author or None),
        published_at=parse_date(doc.date),
        sitename=(doc.sitename or None),
        language=(doc.language or None),
    )


def parse_date(value: str | None) -> datetime | None:
    """An ISO 8601 date or time (``2023-05-19``, ``2023-05-19 10:00:00+02:00``) as a UTC time
    (one without a zone is taken as UTC), or None when it is none."""
    if not value:
        return None
    try:
        parsed = datetime.fromisoformat(value)
    except ValueError:
        return None
    return parsed.replace(tzinfo=UTC) if parsed.tzinfo is None else parsed.astimezone(UTC)


# -- article pages: classification and a guarded process pool ---------------------------

MAX_PAGE_BYTES = 5 * 1024 * 1024
MAX_PAGE_ELEMENTS = 200_000  # a page with more tags than this is not an article
PAGE_DEADLINE_S = 30.0


def classify_page(text: str) -> str:
    """``article``, or why a page is not one (see :func:`newsmon.pagekinds.classify_page`)."""
    return pagekinds.classify_page(text)


@dataclass(frozen=True, slots=True)
class PageText:
    """The outcome of extracting one page: text and metadata, or why there is none."""

    extracted: Extracted | None
    page_kind: str  # article | paywall | cookie-wall | bot-check | error-page | not-article | unavailable
    # (a document of a feed item whose page was not fetched has page_kind not-fetched, or no-link)
    error: str | None = None
    canonical_url: str | None = None
    failure: str | None = None  # the failure class when the page could not be had (newsmon.errors.FAILURE_CLASSES)
    status: int | None = None  # the HTTP status of a failed fetch, if it got one


_CANONICAL = re.compile(rb"<link\b[^>]*\brel\s*=\s*[\"']?canonical\b[^>]*>", re.IGNORECASE)
_HREF = re.compile(rb"\bhref\s*=\s*[\"']?([^\"'\s>]+)", re.IGNORECASE)
_LANG = re.compile(rb"<html\b[^>]*\blang\s*=\s*[\"']?([A-Za-z]{2,3})", re.IGNORECASE)


def _canonical_link(html: bytes) -> str | None:
    link = _CANONICAL.search(html[:300_000])
    href = _HREF.search(link.group(0)) if link else None
    return href.group(1).decode("utf-8", "replace") if href else None


def _html_language(html: bytes) -> str | None:
    m = _LANG.search(html[:20_000])
    return m.group(1).decode("ascii").lower() if m else None


def _markup(html: bytes) -> bytes | str:
    """The page as trafilatura is given it: its bytes (it finds their charset), or, for a UTF-8
    page with a few stray bytes, its text (see :func:`newsmon.text.decode_mostly_utf8`), which
    trafilatura's detection would read in a legacy code page, every accented letter garbled."""
    try:
        html.decode("utf-8")
    except UnicodeDecodeError:
        text = decode_mostly_utf8(html)
        return text if text is not None else html
    return html


def extract_page(html: bytes, url: str, with_metadata: bool = True) -> PageText:
    """Extract one fetched page, refusing pages too large or too deep to be articles.

    ``with_metadata=False`` skips trafilatura's metadata search (title, author, date: about a
    third of its time) for items whose feed already gave them; the canonical link and the
    language then come from the page's ``<link rel=canonical>`` and ``<html lang>``.
    """
    if len(html) > MAX_PAGE_BYTES:
        return PageText(None, "unavailable", f"page larger than {MAX_PAGE_BYTES} bytes", failure="too-large")
    if html.count(b"<") > MAX_PAGE_ELEMENTS:
        return PageText(None, "not-article", f"more than {MAX_PAGE_ELEMENTS} elements")
    try:
        doc = trafilatura.bare_extraction(_markup(html), url=url, with_metadata=with_metadata, **TRAFILATURA_OPTIONS)
    except Exception as err:  # trafilatura and lxml raise many kinds on broken pages
        message = f"extraction failed: {type(err).__name__}: {err}"[:300]
        return PageText(None, "unavailable", message, failure="extraction")
    if doc is None or isinstance(doc, dict) or not (doc.text or "").strip():
        return PageText(None, "not-article", "no main text")
    extracted = Extracted(
        title=doc.title or None,
        text=doc.text or "",
        author=doc.author or None,
        published_at=parse_date(doc.date),
        sitename=doc.sitename or None,
        language=doc.language or _html_language(html),
    )
    canonical = (doc.url if with_metadata else None) or _canonical_link(html)
    return PageText(extracted, classify_page(extracted.text), None, canonical)


def _alarm(_signum: int, _frame: object) -> None:
    raise TimeoutError("page extraction deadline")


def _extract_in_worker(html: bytes, url: str, deadline_s: float, with_metadata: bool = True) -> PageText:
    signal.signal(signal.SIGALRM, _alarm)
    signal.setitimer(signal.ITIMER_REAL, deadline_s)
    try:
        return extract_page(html, url, with_metadata)
    except TimeoutError:
        return PageText(None, "unavailable", f"extraction took longer than {deadline_s:.0f} s", failure="extraction")
    except MemoryError:
        return PageText(None, "unavailable", "extraction ran out of memory", failure="extraction")
    finally:
        signal.setitimer(signal.ITIMER_REAL, 0)


def extract_pages_inline(pages: Sequence[tuple[bytes, str]], with_metadata: Sequence[bool]) -> list[PageText]:
    """Extract pages in this process, one by one, with the size and element limits of
    :func:`extract_page` but without a deadline or memory cap of its own.

    For workers that are processes already and may not start children (Dask's): the worker's
    own memory limit is the guard there, and a page that fails fails alone.
    """
    out = []
    for (html, url), meta in zip(pages, with_metadata, strict=True):
        try:
            out.append(extract_page(html, url, meta))
        except MemoryError:
            out.append(PageText(None, "unavailable", "extraction ran out of memory", failure="extraction"))
    return out


@dataclass(slots=True)
class PendingPages:
    """Pages queued on a :class:`PagePool`, to :meth:`~PagePool.collect`."""

    jobs: list[tuple[bytes, str, float, bool]]
    futures: list[Future[PageText]]
    executor: ProcessPoolExecutor


class PagePool:
    """Page extraction on a :class:`~newsmon.workers.WorkerPool`, with a per-page deadline and
    the pool's memory cap per worker.

    A worker that dies (killed, out of memory) fails only the pages it held; the pool is
    restarted for the rest. ``workers`` is the run's pool (kept open on exit) or a number of
    processes for a pool of its own. Use as a context manager, or call :meth:`close`.
    """

    def __init__(
        self, workers: int | WorkerPool, deadline_s: float = PAGE_DEADLINE_S, memory_bytes: int = WORKER_MEMORY_BYTES
    ) -> None:
        self._owned = not isinstance(workers, WorkerPool)
        self._workers = workers if isinstance(workers, WorkerPool) else WorkerPool(workers, memory_bytes)
        self.workers = self._workers.workers
        self.deadline_s = deadline_s

    def _executor(self) -> ProcessPoolExecutor:
        return self._workers.executor()

    def extract(
        self, pages: Sequence[tuple[bytes, str]], with_metadata: Sequence[bool] | None = None
    ) -> list[PageText]:
        """Extract ``(html, url)`` pages in parallel; results in the same order.

        ``with_metadata`` says per page whether trafilatura should search its metadata (default: yes).
        """
        return self.collect(self.submit(pages, with_metadata))

    def submit(self, pages: Sequence[tuple[bytes, str]], with_metadata: Sequence[bool] | None = None) -> PendingPages:
        """Queue pages for extraction and return at once; :meth:`collect` waits for them.

        Pages queued before an earlier batch is collected keep the workers busy across the
        batches' boundary (no worker idles while the last page of a batch finishes).
        """
        meta = list(with_metadata) if with_metadata is not None else [True] * len(pages)
        return self._queue([(html, url, self.deadline_s, m) for (html, url), m in zip(pages, meta, strict=True)])

    def _queue(self, jobs: list[tuple[bytes, str, float, bool]]) -> PendingPages:
        """Submit ``jobs`` to the current pool (started if need be)."""
        executor = self._executor()
        return PendingPages(jobs, [executor.submit(_extract_in_worker, *job) for job in jobs], executor)

    def collect(self, pending: PendingPages) -> list[PageText]:
        """The texts of pages queued by :meth:`submit`, in order (waits for them)."""
        jobs, futures = pending.jobs, pending.futures
        results: list[PageText] = [PageText(None, "unavailable", "not extracted", failure="extraction")] * len(jobs)
        broken: list[int] = []
        for i, future in enumerate(futures):
            try:
                results[i] = future.result(timeout=self._wait_s)
            except BrokenProcessPool:
                broken.append(i)
            except TimeoutError:  # a worker stuck where the deadline cannot reach it
                results[i] = PageText(None, "unavailable", "extraction hung", failure="extraction")
                self.close(kill=True)
                futures[i + 1 :] = self._queue(jobs[i + 1 :]).futures
        if broken and pending.executor is not self._workers.current:
            # queued on a pool that was replaced since (another batch's hung page or dead
            # worker): none of these pages is a culprit, so they go again together
            retry = self._queue([jobs[i] for i in broken])
            for i, text in zip(broken, self.collect(retry), strict=True):
                results[i] = text
        elif broken:  # a worker died: retry its pages one at a time, so only the culprit fails
            self.close(kill=True)
            for i in broken:
                results[i] = self._extract_alone(jobs[i])
        return results

    @property
    def _wait_s(self) -> float:
        return self.deadline_s * 2 + 30

    def _extract_alone(self, job: tuple[bytes, str, float, bool]) -> PageText:
        try:
            return self._executor().submit(_extract_in_worker, *job).result(self._wait_s)
        except (BrokenProcessPool, TimeoutError) as err:
            self.close(kill=True)
            return PageText(None, "unavailable", f"extraction worker died ({type(err).__name__})", failure="extraction")

    def close(self, kill: bool = False) -> None:
        """``kill``: end the workers now, busy ones too (the pool restarts on the next use);
        otherwise stop a pool of its own (the run's pool stays open for the run's other work)."""
        if kill:
            self._workers.kill()
        elif self._owned:
            self._workers.close()

    def __enter__(self) -> PagePool:
        return self

    def __exit__(self, *_exc: object) -> None:
        self.close()
