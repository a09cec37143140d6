"""The run's steps over a batch, as one injectable set of plain functions.

The pipeline core (:mod:`newsmon.pipeline`) calls every step through a :class:`Steps`; the
defaults are the plain functions, so a benchmark or a test runs the core without Prefect. The
Prefect flow passes the same functions wrapped as tasks (retries, timeouts, logging), and a
Dask runner adds ``submit``: where a batch's tagging and a chunk's page extraction may go.
No step exists twice: each wrapper calls the function named here.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Collection, Sequence
from concurrent.futures import Future
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any, Protocol

from newsmon.dedupe import (
    Fingerprint,
    assign_stories,
    canonicals_from_documents,
    dedupe_keys,
    fingerprint_documents,
    merge_candidates,
    new_story_keys,
    story_keys,
)
from newsmon.documents import read_documents
from newsmon.errors import FetchError
from newsmon.extract import PageText, extract_pages_inline
from newsmon.feeds import FEED_ACCEPT, ParsedFeed, PollPlan, parse_feeds
from newsmon.http import FetchRequest, FetchResult, HttpConfig, fetch_all
from newsmon.language import with_languages
from newsmon.models import Batch, DedupeKeys, Document, FeedItemRow, IngestResult, StoryAssignment, Tag
from newsmon.pages import FetchedPages, PageOutcome, Progress, fetch_and_extract, fetch_pages
from newsmon.topics import Topic, tag_documents
from newsmon.workers import WorkerPool

log = logging.getLogger(__name__)

BACKLOG_BATCH = 500
BACKLOG_REPORT_S = 10.0  # how often a long re-indexing says how far it is


class Result(Protocol):
    """Something computed elsewhere (a future of a pool, a task runner or Dask)."""

    def result(self, timeout: float | None = None) -> Any: ...


@dataclass(frozen=True, slots=True)
class Deduped:
    """A batch after dedupe: each document's fingerprint and index keys, and its story."""

    fingerprints: list[Fingerprint]
    keys: list[DedupeKeys]
    assignments: list[StoryAssignment]

    @classmethod
    def of(cls, fingerprints: Sequence[Fingerprint], assignments: Sequence[StoryAssignment]) -> Deduped:
        """A batch deduped elsewhere (by hand, in a test), its keys computed here."""
        return cls(list(fingerprints), dedupe_keys(fingerprints), list(assignments))


def poll_feeds(plans: Sequence[PollPlan], http: HttpConfig) -> list[FetchResult | FetchError]:
    """Fetch every due feed concurrently (conditional GET where the validators are trusted)."""
    return fetch_all([FetchRequest(p.url, p.etag, p.last_modified, FEED_ACCEPT) for p in plans], http)


def index_backlog(stories: Any, run_id: str | None) -> int:
    """Index the stories stored before the current fingerprint scheme (queued by migration 0004):
    fingerprint their canonicals from the stored text. Returns how many were indexed; cheap once
    the queue is empty. ``stories`` is the store's story repository."""
    done = 0
    started = reported = time.monotonic()
    while queued := stories.index_backlog(BACKLOG_BATCH):
        found = [(story_id, doc) for story_id, doc in queued if doc is not None]
        keys = dedupe_keys(fingerprint_documents([doc for _, doc in found]))
        stories.index_backlog_stories(story_keys(keys, [s for s, _ in found]), [s for s, _ in queued], run_id)
        done += len(found)
        if time.monotonic() - reported >= BACKLOG_REPORT_S:
            reported = time.monotonic()
            log.info("re-indexing stored stories for the current reprint scheme: %d done", done)
    if done:
        seconds = time.monotonic() - started
        log.info("re-indexed %d stored stories for the current reprint scheme in %.1f s", done, seconds)
    return done


def dedupe_batch(
    store: Any,
    documents: Sequence[Document],
    threshold: float,
    run_id: str | None = None,
    exclude: Collection[str] = frozenset(),
) -> Deduped:
    """Fingerprint a batch and put each document into a story (stored or new).

    Only the batch's own keys and LSH bands are looked up, within the join window; candidates
    are verified against their stories' canonical documents. Stories in ``exclude`` are not
    candidates (a backfill's stories whose canonical it has not replayed yet).
    """
    index_backlog(store.stories, run_id)
    fingerprints = fingerprint_documents(documents)
    keys = dedupe_keys(fingerprints)
    exact, by_headline = store.stories.key_matches(keys, exclude)
    candidates = merge_candidates(by_headline, store.stories.band_candidates(keys, exclude=exclude))
    story_ids = {*exact.values(), *(s for ids in candidates.values() for s in ids)}
    canonicals = canonicals_from_documents(store.stories.canonicals(sorted(story_ids)))
    return Deduped(fingerprints, keys, assign_stories(fingerprints, exact, candidates, canonicals, threshold))


def tag_batch(documents: Sequence[Document], topics: Sequence[Topic]) -> list[Tag]:
    """Tag a batch with every topic."""
    return tag_documents(documents, topics)


def store_batch(
    store: Any,
    run_id: str,
    now: datetime,
    documents: list[Document],
    deduped: Deduped,
    tags: list[Tag],
    feed_rows: list[FeedItemRow] | tuple[()] = (),
    tagged_versions: list[tuple[str, str]] | None = None,
    news: bool = True,
) -> int:
    """Write a batch in one transaction; returns the number of new documents.

    Each document's language is read from its text first (:func:`newsmon.language.with_languages`).
    With ``tagged_versions`` (the topic versions the batch was tagged with), the batch's tags of
    those versions are replaced by ``tags``. ``news``: see :class:`newsmon.models.Batch` (False
    for a backfill)."""
    documents = with_languages(documents)
    batch = Batch(
        documents, deduped.keys, new_story_keys(deduped.keys, deduped.assignments), deduped.assignments, tags,
        feed_rows, tagged_versions, news,
    )  # fmt: skip
    return int(store.batches.store(batch, run_id, now))


@dataclass(frozen=True)
class Steps:
    """The functions a run calls for each step (see the module's docstring).

    ``submit(step_name, **kwargs)`` (a Dask runner's) runs a step elsewhere and returns a
    :class:`Result`; when it is None, tagging runs in a helper process pool and pages in the
    extraction pool.
    """

    ingest: Callable[[Path, datetime, Sequence[Path]], IngestResult] = read_documents
    poll: Callable[[Sequence[PollPlan], HttpConfig], list[FetchResult | FetchError]] = poll_feeds
    parse: Callable[[Sequence[tuple[bytes, dict[str, str]]], int | WorkerPool], list[ParsedFeed]] = parse_feeds
    pages: Callable[[Sequence[str], set[str], HttpConfig, int | WorkerPool, Progress | None], PageOutcome] = (
        fetch_and_extract
    )
    fetch_chunk: Callable[[Sequence[str], HttpConfig, set[str]], FetchedPages] = fetch_pages
    extract_chunk: Callable[[Sequence[tuple[bytes, str]], Sequence[bool]], list[PageText]] = extract_pages_inline
    dedupe: Callable[..., Deduped] = dedupe_batch
    tag: Callable[[Sequence[Document], Sequence[Topic]], list[Tag]] = tag_batch
    store: Callable[..., int] = store_batch
    alert: Callable[..., list[Any]] | None = None  # None: newsmon.alerting.store_alerts
    submit: Callable[..., Result] | None = None

    def remote(self, step: str, **kwargs: Any) -> Result:
        """Run the step named ``step`` (``"tag"`` or ``"extract_chunk"``) with ``kwargs`` on the
        task runner (``submit``), or here and now if there is none."""
        if self.submit is not None:
            return self.submit(step, **kwargs)
        done: Future[Any] = Future()
        done.set_result(getattr(self, step)(**kwargs))
        return done
