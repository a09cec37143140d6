"""Feed polling: poll the due feeds, parse them, fetch and extract new items' pages.

Three steps per run, whatever the number of feeds and items: poll (all due feeds, concurrent
HTTP), parse, and fetch-and-extract pages (concurrent HTTP in chunks, extracted in a process
pool while the next chunk downloads). With a task runner that can submit (Dask), each chunk's
extraction goes to its workers instead. Feed states (validators, health, next poll) are
returned, not saved: the run saves them only after the items' documents are stored, so a crash
in between re-polls instead of losing items.
"""

from __future__ import annotations

import logging
import random
from collections.abc import Sequence
from dataclasses import dataclass, field, replace
from datetime import datetime
from pathlib import Path
from typing import Any

from newsmon.errors import FetchError
from newsmon.extract import PageText
from newsmon.feeds import (
    FeedItem,
    ParsedFeed,
    PollPlan,
    item_document,
    item_document_id,
    load_feeds,
    plan_poll,
    record_failure,
    record_success,
    with_details,
    with_plausible_date,
)
from newsmon.http import FetchResult, HttpConfig
from newsmon.models import Document, Failure, FeedItemRow, FeedState
from newsmon.pages import PAGE_CHUNK, FetchedPages, HostHealth, PageOutcome, Progress, add_chunk, page_chunks
from newsmon.steps import Result, Steps
from newsmon.text import sha256_hex
from newsmon.workers import WorkerPool

log = logging.getLogger(__name__)


@dataclass(slots=True)
class FeedHarvest:
    """What polling produced: documents to process, item rows, and the feeds' new states."""

    documents: list[Document] = field(default_factory=list)
    item_rows: dict[str, list[FeedItemRow]] = field(default_factory=dict)  # by document id
    known_rows: list[FeedItemRow] = field(default_factory=list)  # items of documents already stored
    states: list[FeedState] = field(default_factory=list)
    polled: int = 0
    failed: int = 0
    not_modified: int = 0
    items_seen: int = 0
    pages_fetched: int = 0
    pages_failed: int = 0
    failures: list[Failure] = field(default_factory=list)  # every failed poll and page, with its class
    listed: int = 0  # feeds in the feeds file
    failing: int = 0  # ... whose last poll failed (this run's or an earlier one)
    next_due: datetime | None = None  # the next poll of any listed feed, after this run


def _parse(
    steps: Steps, results: Sequence[FetchResult | FetchError], workers: int | WorkerPool
) -> list[ParsedFeed | None]:
    """Each result's parsed feed; None for failures and 304s (no parse step at all when every
    feed answered 304 or failed)."""
    fetched = [i for i, r in enumerate(results) if isinstance(r, FetchResult) and not r.not_modified]
    parsed: list[ParsedFeed | None] = [None] * len(results)
    if fetched:
        bodies = [(r.body, r.headers) for i in fetched if isinstance(r := results[i], FetchResult)]
        for i, feed in zip(fetched, steps.parse(bodies, workers), strict=True):
            parsed[i] = feed
    return parsed


def harvest_feeds(
    store: Any,
    feeds_file: Path | None,
    http: HttpConfig,
    now: datetime,
    run_id: str,
    workers: int | WorkerPool,
    steps: Steps,
    fetch_pages: bool = True,
    progress: Progress | None = None,
    max_items: int = 1000,
) -> FeedHarvest:
    """Poll the due feeds of ``feeds_file`` and turn their new or changed items into documents.

    ``store`` is the run's store (its feed and document repositories); ``progress`` is called
    with (pages done, pages in all) as chunks finish. A poll keeps the first ``max_items``
    items of its feed (noted on the feed when it lists more), so that one feed cannot send
    the run to fetch pages without end."""
    harvest = FeedHarvest()
    specs = load_feeds(feeds_file) if feeds_file is not None else []
    store.feeds.sync(specs, now, run_id)
    states = store.feeds.due(now)
    if not states:
        _count_health(harvest, store.feeds.active(), [])
        return harvest
    plans = [plan_poll(s) for s in states]
    results = steps.poll(plans, http)
    parsed = _parse(steps, results, workers)
    harvest.polled = len(states)
    fresh: list[tuple[FeedState, FeedItem]] = []
    for state, plan, result, feed in zip(states, plans, results, parsed, strict=True):
        new_state, items = _outcome(state, plan, result, feed, now, max_items)
        harvest.states.append(new_state)
        if new_state.consecutive_failures > state.consecutive_failures:  # this poll failed
            harvest.failed += 1
            harvest.failures.append(_feed_failure(new_state))
        harvest.not_modified += isinstance(result, FetchResult) and result.not_modified
        fresh.extend((new_state, with_plausible_date(item, now)) for item in items)  # no date days ahead
    harvest.items_seen = len(fresh)
    _count_health(harvest, store.feeds.active(), harvest.states)
    seen = store.feeds.seen_items([(s.url, i.key) for s, i in fresh])
    todo = _unique_new_items(fresh, seen)
    existing = store.documents.existing([item_document_id(s.url, i) for s, i in todo])
    to_build: list[tuple[FeedState, FeedItem]] = []
    for state, item in todo:
        doc_id = item_document_id(state.url, item)
        row = FeedItemRow(state.url, item.key, doc_id, item.content_hash)
        if doc_id in existing and (state.url, item.key) not in seen:
            harvest.known_rows.append(row)  # the same article reached through another feed
            continue
        harvest.item_rows.setdefault(doc_id, []).append(row)
        if len(harvest.item_rows[doc_id]) == 1:
            to_build.append((state, item))
    pages = _fetch_and_extract(to_build, http, workers, harvest, steps, progress) if fetch_pages else {}
    for state, item in to_build:
        page = pages.get(item.link) if item.link else None
        if page is not None and page.failure is not None and item.link:
            harvest.failures.append(Failure("page", item.link, page.failure, page.error or "", state.url, page.status))
        document = item_document(state.url, state.name, item, page, now)
        _rekey(harvest, item_document_id(state.url, item), document.id)
        harvest.documents.append(document)
    return harvest


def _count_health(harvest: FeedHarvest, listed: Sequence[FeedState], polled: Sequence[FeedState]) -> None:
    """The listed feeds, how many are failing, and when the next poll is, with this run's polls."""
    latest = {s.url: s for s in listed} | {s.url: s for s in polled}
    harvest.listed = len(latest)
    harvest.failing = sum(1 for s in latest.values() if s.consecutive_failures > 0)
    harvest.next_due = min((s.next_poll_at for s in latest.values() if s.next_poll_at is not None), default=None)


def _feed_failure(state: FeedState) -> Failure:
    return Failure(
        "feed", state.url, state.last_error_kind or "protocol", state.last_error or "", None, state.last_status
    )


def _rekey(harvest: FeedHarvest, old_id: str, new_id: str) -> None:
    """Point an item's rows at its document's id when its page's canonical URL gave it another."""
    if old_id == new_id:
        return
    rows = [replace(r, document_id=new_id) for r in harvest.item_rows.pop(old_id, [])]
    harvest.item_rows.setdefault(new_id, []).extend(rows)


def _outcome(
    state: FeedState,
    plan: PollPlan,
    result: FetchResult | FetchError,
    feed: ParsedFeed | None,
    now: datetime,
    max_items: int,
) -> tuple[FeedState, list[FeedItem]]:
    jitter = random.random()
    if isinstance(result, FetchError):
        return record_failure(state, now, result.kind, result.message, jitter, result.status, result.retry_after_s), []
    if result.not_modified:
        return record_success(state, plan, now, 304, None, None, None, 0), []
    if feed is None or not feed.is_feed:
        reason = feed.error if feed is not None and feed.error else "not a feed"
        ctype = result.headers.get("content-type", "?")
        return record_failure(state, now, "not-a-feed", f"{reason} (content-type {ctype})", jitter, result.status), []
    if feed.error and not feed.items:
        return record_failure(state, now, "parse", feed.error, jitter, result.status), []
    new_state = record_success(
        state, plan, now, result.status, result.etag, result.last_modified, sha256_hex(result.body), 0
    )
    new_state = with_details(new_state, feed)
    if feed.error:  # recoverable: items kept, the problem recorded
        new_state = _note(new_state, "parse", feed.error, now)
    if len(feed.items) > max_items:
        message = f"the feed lists {len(feed.items):,} items: kept the first {max_items:,} (feed_items_max)"
        log.warning("%s: %s", state.url, message)
        return _note(new_state, "too-many-items", message, now), feed.items[:max_items]
    return new_state, feed.items


def _note(state: FeedState, kind: str, message: str, now: datetime) -> FeedState:
    return replace(state, last_error=message[:1000], last_error_kind=kind, last_error_at=now)


def _unique_new_items(
    fresh: Sequence[tuple[FeedState, FeedItem]], seen: dict[tuple[str, str], str]
) -> list[tuple[FeedState, FeedItem]]:
    """Items not stored yet, or stored with other content; one per (feed, key).

    Keys already tell apart different items that share a GUID (see
    :func:`newsmon.feeds.distinct_keys`), so only an item repeated verbatim is dropped here.
    """
    out: list[tuple[FeedState, FeedItem]] = []
    taken: set[tuple[str, str]] = set()
    for state, item in fresh:
        key = (state.url, item.key)
        if key in taken or seen.get(key) == item.content_hash:
            continue
        taken.add(key)
        out.append((state, item))
    return out


def _fetch_and_extract(
    items: Sequence[tuple[FeedState, FeedItem]],
    http: HttpConfig,
    workers: int | WorkerPool,
    harvest: FeedHarvest,
    steps: Steps,
    progress: Progress | None,
) -> dict[str, PageText]:
    urls = sorted({i.link for _s, i in items if i.link})
    if not urls:
        return {}
    if progress is not None:
        progress(0, len(urls))  # the clock of the page rate starts now, not at the first chunk's end
    # trafilatura's metadata search costs a third of its time: only for items the feed left undated
    undated = {i.link for _s, i in items if i.link and (i.published_at is None or not i.title)}
    if steps.submit is not None:
        count = workers.workers if isinstance(workers, WorkerPool) else workers
        outcome = fetch_and_extract_distributed(steps, urls, undated, http, count, progress)
    else:
        outcome = steps.pages(urls, undated, http, workers, progress)
    harvest.pages_fetched, harvest.pages_failed = outcome.fetched, outcome.failed
    return outcome.texts


def fetch_and_extract_distributed(
    steps: Steps,
    urls: list[str],
    undated: set[str],
    http: HttpConfig,
    workers: int,
    progress: Progress | None,
    chunk_size: int = PAGE_CHUNK,
) -> PageOutcome:
    """Fetch chunk by chunk here; each chunk's extraction goes to the task runner (Dask) in
    pieces, one per worker, while the next chunk is fetched. A site found down is not tried
    again in later chunks, as in :func:`newsmon.pages.fetch_and_extract`."""
    outcome = PageOutcome()
    pending: list[tuple[FetchedPages, list[Result]]] = []
    hosts = HostHealth()
    for chunk in page_chunks(urls, workers, chunk_size):
        fetched = hosts.fetch(chunk, lambda c: steps.fetch_chunk(c, http, undated))
        size = max(1, -(-len(fetched.pages) // max(1, workers)))
        pieces = [
            steps.remote(
                "extract_chunk",
                pages=fetched.pages[i : i + size],
                with_metadata=fetched.with_metadata[i : i + size],
            )
            for i in range(0, len(fetched.pages), size)
        ]
        pending.append((fetched, pieces))
    for fetched, pieces in pending:
        add_chunk(outcome, fetched, [text for piece in pieces for text in piece.result()])
        if progress is not None:
            progress(len(outcome.texts), len(urls))
    hosts.report()
    return outcome
