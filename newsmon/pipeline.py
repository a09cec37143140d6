"""The pipeline core: one run as explicit steps over batches, in plain Python.

collect (seeds folder, feeds) -> fetch and extract pages -> dedupe -> tag -> store -> re-tag
and backfill -> trends and alerts -> notify. Every step is a function of a :class:`RunContext`
(settings, clock, run id, the store's repositories, the steps to call, a logger) and a batch,
returning plain data. The Prefect flow (``flows/monitor.py``), ``newsmon run --since``,
``newsmon topics retag``, the Dask runner and the benchmarks all run this core; the flow only
wraps the steps as tasks (see :mod:`newsmon.steps`).

Determinism: documents are processed in arrival order (time, url, id), batches are cut from
that order, and every lookup that chooses among stories is totally ordered, so the same
documents give the same stories and tags whatever the batch size, worker count or runner.
"""

from __future__ import annotations

import logging
import time
from contextlib import ExitStack
from dataclasses import dataclass, field, replace
from datetime import datetime, timedelta
from typing import Any

from newsmon import __version__
from newsmon.config import Settings
from newsmon.errors import Interrupted
from newsmon.faults import fault_point
from newsmon.harvest import FeedHarvest, harvest_feeds
from newsmon.http import HttpConfig
from newsmon.models import Document, FailureTally, FeedItemRow, IngestResult, tally_failures
from newsmon.pages import PAGE_CHUNK
from newsmon.steps import Result, Steps
from newsmon.topics import TaggingPool, Topic, worker_state_for
from newsmon.workers import WorkerPool


@dataclass(slots=True)
class BackfillCounts:
    """What a backfill (``newsmon run --since``) re-processed and what that changed."""

    since: datetime
    documents: int = 0
    reread: int = 0  # documents read again from their file with the current extractors
    new_text: int = 0  # ... whose text came out different from the stored one
    moved: int = 0  # documents now in another story
    tags_added: int = 0
    tags_removed: int = 0
    tags_changed: int = 0  # same tag, other evidence
    changed: int = 0  # documents whose text, story or tags changed


@dataclass(slots=True)
class RunSummary:
    """What a run did, stage by stage (returned by the flow and printed by the CLI)."""

    run_id: str
    files_seen: int = 0
    files_skipped: int = 0
    files_other: dict[str, int] = field(default_factory=dict)  # files of other types, not read, by suffix
    feeds_polled: int = 0
    feeds_failed: int = 0
    feeds_not_modified: int = 0
    feeds_listed: int = 0
    feeds_failing: int = 0  # listed feeds whose last poll failed, in this run or an earlier one
    feeds_next_due: datetime | None = None
    pages_fetched: int = 0
    pages_failed: int = 0
    failures: list[FailureTally] = field(default_factory=list)  # by scope and class, each with an example
    documents_new: int = 0
    documents_unchanged: int = 0
    documents_changed: int = 0  # stored before, read again with other content (an edited file, a revised page)
    stories_new: int = 0
    tags_new: int = 0
    retagged: int = 0
    topics_dropped: list[str] = field(default_factory=list)  # current topics the topics file no longer defines
    alerts: list[str] = field(default_factory=list)
    notified: dict[str, int] = field(default_factory=dict)  # deliveries this run tried, by status after it
    notify_held: int = 0  # alerts waiting for a readable notify file (this run's and earlier ones)
    notify_waiting: int = 0  # deliveries not attempted yet, left for a later run (quiet hours, digest time...)
    stage_seconds: dict[str, float] = field(default_factory=dict)
    backfill: BackfillCounts | None = None

    def add_time(self, stage: str, seconds: float) -> None:
        """Accumulate the time spent inside one stage's work."""
        self.stage_seconds[stage] = self.stage_seconds.get(stage, 0.0) + seconds


@dataclass(slots=True)
class RunContext:
    """What every step of one run shares: settings, clock, run id, store, topics, steps, logger."""

    settings: Settings
    store: Any  # storage.store.Store: the run's repositories (one writer)
    topics: list[Topic]
    now: datetime
    run_id: str
    steps: Steps = field(default_factory=Steps)
    logger: Any = field(default_factory=lambda: logging.getLogger(__name__))
    pool: WorkerPool | None = None  # the run's processes for CPU work (see run_once)
    summary: RunSummary = field(init=False)

    def __post_init__(self) -> None:
        self.summary = RunSummary(self.run_id)

    @property
    def versions(self) -> list[tuple[str, str]]:
        """The (topic, version) pairs in force."""
        return [(t.slug, t.version) for t in self.topics]

    def record(self, stage: str, items_in: int, items_out: int, skipped: int, seconds: float) -> None:
        """Add a stage's counts and time to the summary and to the run's row (``v_runs``)."""
        self.summary.add_time(stage, seconds)
        self.store.runs.record_stage(self.run_id, stage, items_in, items_out, skipped, seconds)


class StageProgress:
    """Progress of a long stage in the run's log: items done of the total and the rate, at most
    every ``every_s`` seconds and always at the end; silent when ``enabled`` is false (a stage
    of one batch needs no progress line)."""

    def __init__(
        self, stage: str, total: int, unit: str, logger: Any, enabled: bool = True, every_s: float = 5.0
    ) -> None:
        self.stage, self.total, self.unit, self.logger = stage, total, unit, logger
        self.enabled, self.every_s = enabled and total > 0, every_s
        self.done = 0
        self.started = time.perf_counter()
        self._last_line = self.started

    def advance(self, n: int) -> None:
        """Count ``n`` more items done; log a line when one is due."""
        self.done += n
        now = time.perf_counter()
        if self.enabled and (self.done >= self.total or now - self._last_line >= self.every_s):
            self._last_line = now
            self.logger.info("%s", self.line())

    def line(self) -> str:
        """``backfill [####----------------] 1500/12000 documents (12%), 230 documents/s, about 45 s left``.

        The rate is items done over the time since the stage began (its callers start it when
        the stage's work starts)."""
        elapsed = max(time.perf_counter() - self.started, 1e-6)
        share = self.done / max(self.total, 1)
        filled = round(share * BAR_WIDTH)
        bar = "#" * filled + "-" * (BAR_WIDTH - filled)
        rate = self.done / elapsed
        left = f", about {_duration((self.total - self.done) / rate)} left" if 0 < self.done < self.total else ""
        counts = f"{self.done}/{self.total} {self.unit} ({100 * share:.0f}%)"
        return f"{self.stage} [{bar}] {counts}, {rate:.0f} {self.unit}/s{left}"


BAR_WIDTH = 20


def _duration(seconds: float) -> str:
    """``45 s``, ``3 min``, ``2.5 h``."""
    if seconds < 90:
        return f"{seconds:.0f} s"
    if seconds < 5400:
        return f"{seconds / 60:.0f} min"
    return f"{seconds / 3600:.1f} h"


# -- one run ----------------------------------------------------------------------------------


def run_once(ctx: RunContext, since: datetime | None = None) -> RunSummary:
    """Record the run, run every stage (:func:`run_stages`), and record how it ended.

    The caller opened ``ctx.store`` (the writer lock) and closes it afterwards. Unless the
    context brings one (or a task runner takes the CPU work), the run's one worker pool is made
    here: ``extract_workers`` processes, started on first use, holding the topics for tagging.
    """
    store, run_id, started = ctx.store, ctx.run_id, time.monotonic()
    what = str(ctx.settings.seeds) + (f"; backfill since {since.isoformat()}" if since else "")
    if store.runs.start(run_id, ctx.now, what, __version__):
        ctx.logger.warning("an earlier run had not finished (killed?): marked crashed; this run completes its work")
    with ExitStack() as stack:
        if ctx.pool is None and ctx.steps.submit is None:
            ctx.pool = stack.enter_context(WorkerPool(ctx.settings.extract_workers, state=worker_state_for(ctx.topics)))
            stack.callback(setattr, ctx, "pool", None)
        try:
            run_stages(ctx, since)
            store.runs.finish(run_id, "completed", _finished_at(ctx.now, started))
        except BaseException as err:
            try:
                status, error = _how_it_ended(err)
                store.runs.finish(run_id, status, _finished_at(ctx.now, started), error)
            except Exception as record_err:  # e.g. the disk is full: keep the original error
                ctx.logger.error("could not record the failure of run %s: %s", run_id, record_err)
            raise
    return ctx.summary


def _finished_at(now: datetime, started: float) -> datetime:
    """When a run that started at ``now`` on its clock (a replayed day's, or the wall clock)
    ended on that same clock, so that its duration is the time it took."""
    return now + timedelta(seconds=time.monotonic() - started)


def _how_it_ended(err: BaseException) -> tuple[str, str]:
    """The status and error recorded for a run that raised ``err``: ``crashed`` when it was
    stopped from outside (a signal: Ctrl-C, SIGTERM, a cancellation), ``failed`` otherwise."""
    if isinstance(err, Exception):
        return "failed", f"{type(err).__name__}: {err}"
    if isinstance(err, Interrupted):
        what = str(err)
    else:
        what = "interrupted (Ctrl-C)" if isinstance(err, KeyboardInterrupt) else f"stopped ({type(err).__name__})"
    return "crashed", f"{what} before finishing; its committed batches are kept"


def run_stages(ctx: RunContext, since: datetime | None = None) -> None:
    """Every stage of a run, in the order that keeps it crash-safe.

    Topic versions that are not current yet are made current only after every stored
    document has been re-tagged with them, so a run killed in between leaves them not
    current and the next run re-tags again (idempotent) instead of never.
    """
    from newsmon.alerting import alert_stage
    from newsmon.backfill import backfill, retag_stale

    store, summary = ctx.store, ctx.summary
    stale = store.topics.stale(ctx.topics)
    documents = ingest(ctx)
    harvested = harvest(ctx)
    documents.extend(harvested.documents)
    documents = list({d.id: d for d in reversed(documents)}.values())[::-1]  # one per id, first wins
    stored = store.documents.stored_state([d.id for d in documents])
    todo = arrival_order(
        as_first_seen(stored, [d for d in documents if stored.get(d.id, (None,))[0] != d.content_hash])
    )
    summary.documents_unchanged = len(documents) - len(todo)
    summary.documents_changed = sum(1 for d in todo if d.id in stored)
    process_new(ctx, todo, harvested.item_rows)
    processed = {d.id for d in todo}
    leftover = [r for doc_id, rs in harvested.item_rows.items() if doc_id not in processed for r in rs]
    store.feeds.store_items([*harvested.known_rows, *leftover], ctx.run_id, ctx.now)
    fault_point("before-feed-states")
    store.feeds.save_states(harvested.states)  # only now: a crash before this re-polls, never loses items
    if since is not None:
        processed |= backfill(ctx, since, {d.id: d for d in documents}, processed)
    if stale:
        retag_stale(ctx, stale, processed)
    fault_point("before-register")
    summary.topics_dropped = store.topics.current_other_than([t.slug for t in ctx.topics])
    if summary.topics_dropped:
        ctx.logger.warning(
            "topics %s are not in %s: their tags are kept but left out of the views from now on;"
            " define them there again to show them", ", ".join(summary.topics_dropped), ctx.settings.topics_path,
        )  # fmt: skip
    store.topics.register(ctx.topics, ctx.run_id, ctx.now)  # only after the re-tag: see above
    fault_point("before-alert")
    alert_stage(ctx)


def as_first_seen(stored: dict[str, tuple[str | None, datetime]], documents: list[Document]) -> list[Document]:
    """The documents, those already stored with the time they were first seen (``stored``: see
    ``stored_state``): a changed text keeps it (the store does too), so its order and its dedupe
    window are measured from when the document appeared, not from this run's clock (as a
    backfill's are)."""
    return [replace(d, first_seen_at=stored[d.id][1]) if d.id in stored else d for d in documents]


def arrival_order(documents: list[Document]) -> list[Document]:
    """Documents in the order a run processes them: by time (published, else first seen), url, id."""
    return sorted(documents, key=lambda d: (d.published_at or d.first_seen_at, d.url, d.id))


def ingest(ctx: RunContext) -> list[Document]:
    """Read the seeds folder (when it exists or was given); its documents."""
    from newsmon.documents import iter_folder_files

    settings, logger = ctx.settings, ctx.logger
    if not (settings.seeds.exists() or "seeds" in settings.model_fields_set):
        logger.info("ingest: no folder %s, no files read", settings.seeds)
        return []
    t0 = time.perf_counter()
    own = [*ctx.store.own_files(), settings.alerts_dir]  # never input, even inside the folder
    has_files = settings.seeds.is_dir() and next(iter(iter_folder_files(settings.seeds, own)), None) is not None
    ingested = (
        ctx.steps.ingest(settings.seeds, ctx.now, own) if has_files or not settings.seeds.is_dir() else IngestResult()
    )
    seconds = time.perf_counter() - t0
    ctx.summary.files_seen, ctx.summary.files_skipped = ingested.files_seen, len(ingested.skipped)
    ctx.summary.files_other = dict(ingested.other_types)
    ctx.record("ingest", ingested.files_seen, len(ingested.documents), len(ingested.skipped), seconds)
    logger.info(
        "ingest: %d files, %d documents, %d skipped in %.1f s",
        ingested.files_seen, len(ingested.documents), len(ingested.skipped), seconds,
    )  # fmt: skip
    return as_stored_files(ctx, list(ingested.documents))


def as_stored_files(ctx: RunContext, documents: list[Document]) -> list[Document]:
    """The documents read from the seeds folder, those stored before from the same file in a
    folder that has since moved (or been copied) as the stored documents: a file is keyed by its
    absolute path, so without this a moved folder would be stored again in full, as new stories
    that set off alerts. The same file: the same bytes, source (the folder's name) and path
    inside the folder."""
    root = ctx.settings.seeds.resolve().as_uri()
    folder = "/" + root.rsplit("/", 1)[-1]
    tails = {d.id: folder + d.url[len(root) :] for d in documents if d.url == root or d.url.startswith(root + "/")}
    moved = ctx.store.documents.moved_files(
        [(d.id, d.content_hash, d.source, tails[d.id]) for d in documents if d.id in tails]
    )
    if moved:
        ctx.logger.info(
            "ingest: %d files already stored from the same folder at another path (moved or copied):"
            " read as the stored documents, not stored again", len(moved),
        )  # fmt: skip
    return [replace(d, id=moved[d.id][0], url=moved[d.id][1]) if d.id in moved else d for d in documents]


def harvest(ctx: RunContext) -> FeedHarvest:
    """Poll the due feeds (when a feeds file is in force) and extract their new items' pages."""
    settings, logger, summary = ctx.settings, ctx.logger, ctx.summary
    if settings.feeds_path is None:
        return FeedHarvest()
    logger.info("feeds: polling the due feeds of %s", settings.feeds_path)
    t0 = time.perf_counter()
    http = HttpConfig.from_env(
        settings.http_allow, total_timeout_s=settings.http_timeout_s, concurrency=settings.http_concurrency
    )
    workers: int | WorkerPool = settings.dask_workers if ctx.steps.submit is not None else settings.extract_workers
    if ctx.pool is not None:
        workers = ctx.pool
    pages: list[StageProgress] = []

    def page_progress(done: int, total: int) -> None:
        if not pages:
            pages.append(StageProgress("pages", total, "pages", logger, enabled=total > PAGE_CHUNK))
        pages[0].advance(done - pages[0].done)

    try:
        result = harvest_feeds(
            ctx.store, settings.feeds_path, http, ctx.now, ctx.run_id, workers, ctx.steps, settings.fetch_pages,
            page_progress, settings.feed_items_max,
        )  # fmt: skip
    finally:
        stop_workers(ctx)
    seconds = time.perf_counter() - t0
    summary.feeds_polled, summary.feeds_failed = result.polled, result.failed
    summary.feeds_not_modified = result.not_modified
    summary.feeds_listed, summary.feeds_failing, summary.feeds_next_due = result.listed, result.failing, result.next_due
    summary.pages_fetched, summary.pages_failed = result.pages_fetched, result.pages_failed
    summary.failures = tally_failures(result.failures)
    ctx.store.failures.record(ctx.run_id, result.failures, ctx.now)
    ctx.record("feeds", result.polled, len(result.documents), result.failed, seconds)
    logger.info(
        "feeds: %d polled (%d not modified, %d failed), %d items, %d new or changed; %d pages fetched,"
        " %d failed; %.1f s (%.1f pages/s)",
        result.polled, result.not_modified, result.failed, result.items_seen, len(result.documents),
        result.pages_fetched, result.pages_failed, seconds, result.pages_fetched / max(seconds, 1e-9),
    )  # fmt: skip
    fault_point("after-fetch")
    return result


def stop_workers(ctx: RunContext) -> None:
    """Stop the run's worker processes at the end of a stage that used them (the pool starts
    them again when a later stage needs them): between stages no child process is alive, so a
    run killed there leaves none behind holding its output open."""
    if ctx.pool is not None:
        ctx.pool.close()


# -- dedupe, tag and store, batch by batch -----------------------------------------------------


def batched(documents: list[Document], size: int, max_bytes: int) -> list[list[Document]]:
    """Consecutive batches of at most ``size`` documents and about ``max_bytes`` of text each
    (one transaction each: many feed summaries fit in one, fewer full articles)."""
    batches: list[list[Document]] = []
    current: list[Document] = []
    weight = 0
    for doc in documents:
        length = len(doc.body) + len(doc.title)
        if current and (len(current) >= size or weight + length > max_bytes):
            batches.append(current)
            current, weight = [], 0
        current.append(doc)
        weight += length
    if current:
        batches.append(current)
    return batches


def process_new(ctx: RunContext, todo: list[Document], item_rows: dict[str, list[FeedItemRow]]) -> None:
    """Dedupe, tag and store the new and changed documents, batch by batch, with progress.

    Every batch's tagging is submitted at once (to the task runner, or to a helper process) and
    runs there while this process dedupes and stores the batches in order."""
    settings, summary, logger = ctx.settings, ctx.summary, ctx.logger
    queued = ctx.store.stories.backlog_size() if todo else 0  # indexed by the first batch's dedupe
    if queued:  # once, after an upgrade that changed how stories are indexed (it takes ~2 ms a story)
        logger.info("dedupe: indexing %d stored stories again for the current reprint scheme first", queued)
    batches = batched(todo, settings.batch_size, settings.batch_bytes)
    progress = StageProgress("dedupe/tag/store", len(todo), "documents", logger, enabled=len(batches) > 1)
    with ExitStack() as stack:
        stack.callback(stop_workers, ctx)  # last: after the tagging pool has stopped handing out batches
        tagging: list[Result] | None = None
        if ctx.steps.submit is not None:
            tagging = [ctx.steps.remote("tag", documents=b, topics=ctx.topics) for b in batches]
        elif TaggingPool.wanted(ctx.topics, len(todo), settings.extract_workers):
            pool = stack.enter_context(TaggingPool(ctx.topics, ctx.pool or max(1, settings.extract_workers - 1)))
            tagging = [pool.submit(b) for b in batches]
        for n, batch in enumerate(batches):
            rows = [row for d in batch for row in item_rows.get(d.id, [])]
            process_batch(ctx, batch, rows, tagging[n] if tagging else None)
            progress.advance(len(batch))
    seconds = sum(summary.stage_seconds.get(s, 0.0) for s in ("dedupe", "tag", "store"))
    logger.info(
        "dedupe: %d documents, %d new stories (%d unchanged documents not reprocessed)",
        len(todo), summary.stories_new, summary.documents_unchanged,
    )  # fmt: skip
    logger.info("tag: %d tags on %d documents", summary.tags_new, len(todo))
    logger.info(
        "store: %d new documents; dedupe, tag and store %.1f s (%.0f documents/s)",
        summary.documents_new, seconds, len(todo) / max(seconds, 1e-9),
    )  # fmt: skip


def process_batch(
    ctx: RunContext, batch: list[Document], feed_rows: list[FeedItemRow], tagging: Result | None = None
) -> None:
    """Dedupe, tag and store one batch; ``tagging``: its tags, already submitted elsewhere."""
    steps, store = ctx.steps, ctx.store
    t0 = time.perf_counter()
    deduped = steps.dedupe(store, batch, ctx.settings.dedupe_threshold, ctx.run_id)
    t1 = time.perf_counter()
    tags = tagging.result() if tagging is not None else steps.tag(batch, ctx.topics)
    t2 = time.perf_counter()
    existing = store.stories.existing([a.story_id for a in deduped.assignments if a.method == "new"])
    new_docs = steps.store(store, ctx.run_id, ctx.now, batch, deduped, tags, feed_rows, ctx.versions)
    t3 = time.perf_counter()
    new_stories = sum(1 for a in deduped.assignments if a.method == "new" and a.story_id not in existing)
    ctx.summary.documents_new += new_docs
    ctx.summary.stories_new += new_stories
    ctx.summary.tags_new += len(tags)
    ctx.record("dedupe", len(batch), new_stories, 0, t1 - t0)
    ctx.record("tag", len(batch), len(tags), 0, t2 - t1)
    ctx.record("store", len(batch), new_docs, 0, t3 - t2)
