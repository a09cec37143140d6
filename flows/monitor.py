"""The ``monitor`` flow: ingest -> dedupe -> tag -> store -> alert, one task per batch.

Each task wraps a plain newsmon function; the flow owns the run record, the DuckDB store
(one writer, behind a lock) and the batching. Every stage logs one summary line and adds
its counts and duration to the run's row in ``run_stages`` (see ``v_runs``).
"""

from __future__ import annotations

import errno
import logging
import time
import uuid
from collections.abc import Collection
from contextlib import ExitStack
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from prefect import flow, get_run_logger, task
from prefect.cache_policies import NONE
from prefect.exceptions import MissingContextError
from prefect.futures import PrefectFuture
from prefect.runtime import flow_run
from prefect.states import Failed, State

from flows import as_is
from flows.feeds import FeedHarvest, harvest_feeds
from flows.runners import task_runner
from newsmon.alerts import (
    CHART_DAYS,
    AlertRecord,
    TopicInput,
    build_sources_alert,
    build_topic_alert,
    digest_order,
    runs_missing_files,
    stories_wanted,
    topic_input,
    write_missing_files,
)
from newsmon.config import Settings, load_settings
from newsmon.dedupe import (
    Fingerprint,
    assign_stories,
    canonicals_from_documents,
    fingerprint_documents,
    merge_candidates,
)
from newsmon.documents import iter_document_files, read_documents
from newsmon.errors import NewsmonError, StorageError
from newsmon.faults import fault_point
from newsmon.http import HttpConfig
from newsmon.models import Document, FeedItemRow, IngestResult, StoryAssignment, Tag
from newsmon.notify import (
    MAX_ATTEMPTS,
    NotifyConfig,
    deliver_all,
    load_notify_config,
    notify_config_path,
    redact,
    target_key,
    unknown_routes,
)
from newsmon.pages import PAGE_CHUNK
from newsmon.topics import TaggingPool, TagsAhead, Topic, load_topics, tag_documents
from newsmon.trends import SilenceParams, SpikeParams, TrendPoint, silence_changes, topic_trends
from storage.store import BackfillItem, Store


@dataclass(slots=True)
class RunSummary:
    """What a run did, stage by stage (returned by the flow and printed by the CLI)."""

    run_id: str
    files_seen: int = 0
    files_skipped: int = 0
    feeds_polled: int = 0
    feeds_failed: int = 0
    documents_new: int = 0
    documents_unchanged: int = 0
    stories_new: int = 0
    tags_new: int = 0
    retagged: int = 0
    alerts: list[str] = field(default_factory=list)
    stage_seconds: dict[str, float] = field(default_factory=dict)
    backfill: BackfillCounts | None = None

    def add_time(self, stage: str, seconds: float) -> None:
        """Accumulate the time spent inside one stage's work."""
        self.stage_seconds[stage] = self.stage_seconds.get(stage, 0.0) + seconds


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
        """``backfill: 1500/12000 documents (12%), 230 documents/s, about 45 s left``."""
        elapsed = max(time.perf_counter() - self.started, 1e-9)
        rate = self.done / elapsed
        left = f", about {(self.total - self.done) / rate:.0f} s left" if 0 < self.done < self.total else ""
        share = 100 * self.done / max(self.total, 1)
        return f"{self.stage}: {self.done}/{self.total} {self.unit} ({share:.0f}%), {rate:.0f} {self.unit}/s{left}"


@task(name="ingest", cache_policy=NONE)
def ingest_task(folder: Path, now: datetime) -> IngestResult:
    """Read the input folder into documents (bad files are skipped and counted)."""
    return read_documents(folder, now)


@task(name="dedupe", cache_policy=NONE)
def dedupe_task(
    store: Store,
    documents: list[Document],
    threshold: float,
    run_id: str | None = None,
    exclude: Collection[str] = frozenset(),
) -> tuple[list[Fingerprint], list[StoryAssignment]]:
    """Fingerprint a batch and put each document into a story (stored or new).

    Only the batch's own keys and LSH bands are looked up, within the join window; candidates
    are verified against their stories' canonical documents. Stories in ``exclude`` are not
    candidates (a backfill's stories whose canonical it has not replayed yet).
    """
    store.backfill_story_index(run_id=run_id)
    fingerprints = fingerprint_documents(documents)
    exact, by_headline = store.key_matches(fingerprints, exclude)
    candidates = merge_candidates(by_headline, store.band_candidates(fingerprints, exclude=exclude))
    story_ids = {*exact.values(), *(s for ids in candidates.values() for s in ids)}
    canonicals = canonicals_from_documents(store.story_canonicals(sorted(story_ids)))
    return fingerprints, assign_stories(fingerprints, exact, candidates, canonicals, threshold)


@task(name="tag", cache_policy=NONE)
def tag_task(documents: list[Document], topics: list[Topic]) -> list[Tag]:
    """Tag a batch with every topic."""
    return tag_documents(documents, topics)


@task(name="store", cache_policy=NONE)
def store_task(
    store: Store,
    run_id: str,
    now: datetime,
    documents: list[Document],
    fingerprints: list[Fingerprint],
    assignments: list[StoryAssignment],
    tags: list[Tag],
    feed_rows: list[FeedItemRow],
    tagged_versions: list[tuple[str, str]] | None = None,
) -> int:
    """Write a batch in one transaction; returns the number of new documents.

    With ``tagged_versions`` (the topic versions the batch was tagged with), the batch's tags of
    those versions are replaced by ``tags``."""
    return store.store_batch(
        run_id, now, documents, fingerprints, assignments, tags, feed_rows, tagged_versions=tagged_versions
    )


@task(name="retag", cache_policy=NONE)
def retag_task(
    store: Store,
    topics: list[Topic],
    skip_ids: set[str],
    run_id: str,
    now: datetime,
    batch_size: int,
) -> int:
    """Apply new topic versions to the documents stored before this run, batch by batch, with
    progress in the log. The versions are made current by the caller only once this is done."""
    total = store.count_documents()
    count = 0
    if total <= len(skip_ids):
        return count  # every stored document was tagged by this run already (a first run)
    progress = StageProgress("retag", total, "documents", _logger(), enabled=total > batch_size)
    for batch in store.iter_documents(batch_size):
        todo = [d for d in batch if d.id not in skip_ids]
        tags = tag_documents(todo, topics)
        store.store_tags(tags, run_id, now)
        count += len(tags)
        progress.advance(len(batch))
        fault_point("mid-retag")
    return count


@task(name="alert", cache_policy=NONE)
def alert_task(store: Store, run_id: str, now: datetime, folder: Path) -> list[AlertRecord]:
    """Decide this run's alerts (stories new to a topic, spikes, silent feeds) and store them; then
    write the alert files from the stored rows (and any that are missing) and send notifications.

    The alerts folder is made first, so a folder that cannot be used fails the run before any
    alert is stored. Notifications never fail the run.
    """
    folder.mkdir(parents=True, exist_ok=True)
    notify_config = _notify_config(store)
    records, silenced, recovered = _decide_alerts(store, run_id, now)
    routes = notify_config or NotifyConfig()
    deliveries = [(r.id, target_key(url), redact(url)) for r in records for url in routes.urls_for(r.topic)]
    store.store_alerts(records, deliveries, silenced, recovered, now)
    fault_point("after-alert-store")
    failure = _write_alert_files(store, folder)
    fault_point("before-notify")
    if notify_config is not None:
        _deliver(store, notify_config, run_id, now)
    if failure is not None:
        raise failure
    return records


def _decide_alerts(
    store: Store, run_id: str, now: datetime
) -> tuple[list[AlertRecord], list[tuple[str, int, str]], list[str]]:
    """This run's alerts in digest order, the feeds that went silent (url, quietest day, alert id)
    and the urls of silent feeds that recovered."""
    records = [r for r in (build_topic_alert(run_id, now, t) for t in _topic_inputs(store, now)) if r is not None]
    activities = store.feed_activity(now, SilenceParams().window_days)
    silent, recovered = silence_changes(activities, now, store.open_silences())
    sources = build_sources_alert(run_id, now, silent)
    if sources is None:
        return digest_order(records), [], recovered
    silenced = [(c.url, c.quietest or 0, sources.id) for c in silent]
    return digest_order([*records, sources]), silenced, recovered


def _write_alert_files(store: Store, folder: Path) -> StorageError | None:
    """Write the files of every stored alert that lacks one; the error, if the disk refused."""
    try:
        paths, pages = write_missing_files(store.alert_records(runs_missing_files(store.alert_files())), folder)
    except OSError as err:  # the rows are stored: the next run writes the files
        error = StorageError(
            f"cannot write alert files in {folder} ({err.strerror or err}): {_file_advice(err)};"
            " the alerts are stored and the next run writes their files"
        )
        error.__cause__ = err
        return error
    store.set_alert_paths(paths, pages)
    return None


def _file_advice(err: OSError) -> str:
    """What to do about a file that could not be written."""
    if err.errno in (errno.ENOSPC, errno.EDQUOT):
        return "the disk is full: free disk space"
    if err.errno == errno.EFBIG:
        return "a file size limit (ulimit -f) stopped the write: raise the limit"
    if err.errno in (errno.EACCES, errno.EPERM, errno.EROFS):
        return "fix the folder's permissions"
    return "free disk space or fix permissions"


def _topic_inputs(store: Store, now: datetime) -> list[TopicInput]:
    """Each current topic's pending items, trend up to the run's day and candidate stories."""
    day = now.date()
    names = store.topic_names()
    pending = store.pending_alert_items()
    start = store.history_start()
    trends: dict[str, list[TrendPoint]] = {}
    if start is not None and start <= day:
        params = SpikeParams()
        since = max(start, day - timedelta(days=CHART_DAYS + params.window_days + params.guard_days))
        trends = topic_trends(store.topic_day_counts(since, day), names, since, day, params)
    spiked = store.spike_alerted_topics(day)
    lines = store.story_lines(sorted(stories_wanted(pending, trends, day, store.stories_on_day(day), spiked)))
    return [topic_input(t, names[t], pending.get(t, []), trends.get(t, []), lines, t in spiked) for t in sorted(names)]


def _notify_config(store: Store) -> NotifyConfig | None:
    """The notification routes, or None (and an error in the log) when the notify file is invalid."""
    try:
        config = load_notify_config(notify_config_path())
    except NewsmonError as err:
        _logger().error("notifications skipped: %s", err)
        return None
    for key in unknown_routes(config, list(store.topic_names())):
        _logger().warning("notify: %r in %s matches no topic", key, config.path)
    return config


def _logger() -> Any:
    """The run's logger inside a flow run, else this module's (the task called as a function)."""
    try:
        return get_run_logger()
    except MissingContextError:
        return logging.getLogger(__name__)


def _deliver(store: Store, config: NotifyConfig, run_id: str, now: datetime) -> None:
    """Send the deliveries due (new and earlier failures); a failure is recorded, never raised."""
    logger = _logger()
    try:
        pending = store.due_deliveries(MAX_ATTEMPTS)
        if not pending:
            return
        counts = deliver_all(
            pending,
            config,
            lambda d: store.record_delivery_attempt(d, now, run_id),
            lambda d, outcome: store.record_delivery_outcome(d, outcome, now),
        )
        logger.info("notify: %s", ", ".join(f"{n} {status}" for status, n in sorted(counts.items())))
    except Exception as err:  # notifications must never fail the pipeline
        logger.error("notify: deliveries interrupted (%s: %s); they are retried next run", type(err).__name__, err)


def current_run_id() -> str:
    """The Prefect flow run id, or a fresh UUID outside Prefect."""
    return str(flow_run.get_id() or uuid.uuid4())


@flow(name="monitor", validate_parameters=False)
def monitor(
    settings: Settings | dict[str, Any] | None = None,
    now: datetime | None = None,
    since: datetime | None = None,
) -> RunSummary | State[Any]:
    """Run the whole pipeline once over ``settings.seeds`` into ``settings.db``.

    ``settings`` may be a :class:`Settings`, or a plain mapping of its fields (as a
    deployment passes them); missing fields come from the environment and defaults.
    ``since`` also re-processes the stored documents first seen or published from then on
    (a backfill: see :func:`_backfill`).
    A newsmon error (locked database, disk full, bad input folder) ends the run as Failed
    with its one-line message, without a traceback; the error is the state's data.
    """
    try:
        return _monitor(settings, now, since)
    except NewsmonError as err:
        get_run_logger().error("%s", err)
        return Failed(message=str(err), data=err)


def _monitor(settings: Settings | dict[str, Any] | None, now: datetime | None, since: datetime | None) -> RunSummary:
    if not isinstance(settings, Settings):
        settings = load_settings(None, **(settings or {}))
    logger = get_run_logger()
    clock = now or datetime.now(UTC)
    run_id = current_run_id()
    summary = RunSummary(run_id)
    topics = load_topics(settings.topics_path)
    store = Store.open_writer(settings.db, settings.lock_timeout_s)
    what = str(settings.seeds) + (f"; backfill since {since.isoformat()}" if since is not None else "")
    try:
        if store.start_run(run_id, clock, what):
            logger.warning("an earlier run had not finished (killed?): marked crashed; this run completes its work")
        _run_stages(store, settings, topics, clock, summary, logger, since)
        store.finish_run(run_id, "completed", datetime.now(UTC))
    except BaseException as err:
        try:
            store.finish_run(run_id, "failed", datetime.now(UTC), f"{type(err).__name__}: {err}")
        except NewsmonError as record_err:  # e.g. the disk is full: keep the original error
            logger.error("could not record the failure of run %s: %s", run_id, record_err)
        raise
    finally:
        snapshot = store.close(snapshot=True)
    if snapshot is not None:
        logger.info("snapshot: %s published for readers", snapshot)
    return summary


def _run_stages(
    store: Store,
    settings: Settings,
    topics: list[Topic],
    now: datetime,
    summary: RunSummary,
    logger: Any,
    since: datetime | None = None,
) -> None:
    """Every stage of a run, in the order that keeps it crash-safe.

    Topic versions that are not current yet are made current only after every stored
    document has been re-tagged with them, so a run killed in between leaves them not
    current and the next run re-tags again (idempotent) instead of never.
    """
    run_id = summary.run_id
    stale = store.stale_topics(topics)
    documents = _ingest(store, settings, now, summary, logger)
    with task_runner(settings) as runner:  # Dask, when configured: extraction and tagging run there
        harvest = _harvest(store, settings, now, summary, logger, runner)
        documents.extend(harvest.documents)
        documents = list({d.id: d for d in reversed(documents)}.values())[::-1]  # one per id, first wins
        known = store.known_content([d.id for d in documents])
        todo = [d for d in documents if known.get(d.id) != d.content_hash]
        todo.sort(key=lambda d: (d.published_at or d.first_seen_at, d.url))
        summary.documents_unchanged = len(documents) - len(todo)
        _process_new(store, settings, topics, now, todo, harvest, summary, logger, runner)
    processed = {d.id for d in todo}
    leftover = [r for doc_id, rs in harvest.item_rows.items() if doc_id not in processed for r in rs]
    store.store_feed_items([*harvest.known_rows, *leftover], run_id, now)
    fault_point("before-feed-states")
    store.save_feed_states(harvest.states)  # only now: a crash before this re-polls, never loses items

    if since is not None:
        fresh = {d.id: d for d in documents}
        processed |= _backfill(store, settings, topics, now, since, fresh, processed, summary, logger)
    if stale:
        _retag(store, settings, stale, now, processed, summary, logger)
    fault_point("before-register")
    store.register_topics(topics, run_id, now)  # only after the re-tag: see above

    t0 = time.perf_counter()
    fault_point("before-alert")
    alerts = alert_task(store, run_id, now, settings.alerts_dir)
    seconds = time.perf_counter() - t0
    summary.alerts = [a.topic for a in alerts]
    summary.add_time("alert", seconds)
    store.record_stage(run_id, "alert", 0, len(alerts), 0, seconds)
    logger.info("alert: %s", ", ".join(summary.alerts) if alerts else "nothing new, no alert")


def _ingest(store: Store, settings: Settings, now: datetime, summary: RunSummary, logger: Any) -> list[Document]:
    """Read the seeds folder (when it exists or was given); its documents."""
    if not (settings.seeds.exists() or "seeds" in settings.model_fields_set):
        logger.info("ingest: no folder %s, no files read", settings.seeds)
        return []
    t0 = time.perf_counter()
    has_files = settings.seeds.is_dir() and next(iter(iter_document_files(settings.seeds)), None) is not None
    ingested = ingest_task(settings.seeds, now) if has_files or not settings.seeds.is_dir() else IngestResult()
    seconds = time.perf_counter() - t0
    summary.files_seen, summary.files_skipped = ingested.files_seen, len(ingested.skipped)
    summary.add_time("ingest", seconds)
    store.record_stage(
        summary.run_id, "ingest", ingested.files_seen, len(ingested.documents), len(ingested.skipped), seconds
    )
    logger.info(
        "ingest: %d files, %d documents, %d skipped in %.1f s",
        ingested.files_seen, len(ingested.documents), len(ingested.skipped), seconds,
    )  # fmt: skip
    return list(ingested.documents)


def _harvest(
    store: Store, settings: Settings, now: datetime, summary: RunSummary, logger: Any, runner: Any | None = None
) -> FeedHarvest:
    """Poll the due feeds (when a feeds file is in force) and extract their new items' pages
    (on ``runner``, a started Dask task runner, if given)."""
    if settings.feeds_path is None:
        return FeedHarvest()
    logger.info("feeds: polling the due feeds of %s", settings.feeds_path)
    t0 = time.perf_counter()
    http = HttpConfig.from_env(
        settings.http_allow, total_timeout_s=settings.http_timeout_s, concurrency=settings.http_concurrency
    )
    workers = settings.dask_workers if runner is not None else settings.extract_workers
    pages: list[StageProgress] = []

    def page_progress(done: int, total: int) -> None:
        if not pages:
            pages.append(StageProgress("pages", total, "pages", logger, enabled=total > PAGE_CHUNK))
        pages[0].advance(done - pages[0].done)

    harvest = harvest_feeds(
        store, settings.feeds_path, http, now, summary.run_id, workers, settings.fetch_pages, runner, page_progress,
    )  # fmt: skip
    seconds = time.perf_counter() - t0
    summary.feeds_polled, summary.feeds_failed = harvest.polled, harvest.failed
    summary.add_time("feeds", seconds)
    store.record_stage(summary.run_id, "feeds", harvest.polled, len(harvest.documents), harvest.failed, seconds)
    logger.info(
        "feeds: %d polled (%d not modified, %d failed), %d items, %d new or changed; %d pages fetched,"
        " %d failed; %.1f s (%.1f pages/s)",
        harvest.polled, harvest.not_modified, harvest.failed, harvest.items_seen, len(harvest.documents),
        harvest.pages_fetched, harvest.pages_failed, seconds, harvest.pages_fetched / max(seconds, 1e-9),
    )  # fmt: skip
    fault_point("after-fetch")
    return harvest


def _process_new(
    store: Store,
    settings: Settings,
    topics: list[Topic],
    now: datetime,
    todo: list[Document],
    harvest: FeedHarvest,
    summary: RunSummary,
    logger: Any,
    runner: Any | None = None,
) -> None:
    """Dedupe, tag and store the new and changed documents, batch by batch, with progress (the
    tagging on ``runner``, a started Dask task runner, if given)."""
    batches = batched(todo, settings.batch_size, settings.batch_bytes)
    progress = StageProgress("dedupe/tag/store", len(todo), "documents", logger, enabled=len(batches) > 1)
    # every batch's tagging is submitted at once, to Dask or to a helper process, and runs there
    # while this process dedupes and stores the batches in order
    with ExitStack() as stack:
        tagging: list[Any] | None = None
        if runner is not None:
            tagging = [runner.submit(tag_task, {"documents": b, "topics": topics}) for b in batches]
        elif TaggingPool.wanted(topics, len(todo), settings.extract_workers):
            pool = stack.enter_context(TaggingPool(topics, max(1, settings.extract_workers - 1)))
            tagging = [pool.submit(b) for b in batches]
        for n, batch in enumerate(batches):
            rows = [row for d in batch for row in harvest.item_rows.get(d.id, [])]
            _process_batch(store, settings, topics, now, batch, rows, summary, tagging[n] if tagging else None)
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


def _retag(
    store: Store,
    settings: Settings,
    stale: list[Topic],
    now: datetime,
    done: set[str],
    summary: RunSummary,
    logger: Any,
) -> None:
    """Re-tag the stored documents not processed by this run with the topic versions not yet current."""
    t0 = time.perf_counter()
    summary.retagged = retag_task(store, as_is(stale), as_is(done), summary.run_id, now, settings.batch_size)
    seconds = time.perf_counter() - t0
    summary.add_time("retag", seconds)
    store.record_stage(summary.run_id, "retag", 0, summary.retagged, 0, seconds)
    logger.info(
        "retag: %d topic version(s) new (%s), %d tags on stored documents in %.1f s",
        len(stale), ", ".join(t.slug for t in stale), summary.retagged, seconds,
    )  # fmt: skip


def _backfill(
    store: Store,
    settings: Settings,
    topics: list[Topic],
    now: datetime,
    since: datetime,
    fresh: dict[str, Document],
    just_stored: set[str],
    summary: RunSummary,
    logger: Any,
) -> set[str]:
    """Re-process the stored documents first seen or published from ``since`` on: dedupe and tag
    them again, in batches, with the current topics and dedupe, replaying them in time order.

    "Current extractors": a document whose file this run read again (``fresh``) is replaced by
    that reading (current charset detection, HTML extraction and boilerplate patterns; its
    first sighting kept); other documents (feed items, whose pages are not stored, and files no
    longer in the folder) are re-processed with their stored text. A document joins only a
    story from before ``since`` or one the replay has already reached, never a story whose
    canonical comes later (it would be pulled into a story that did not exist at its time).
    Idempotent: a second backfill from the same date changes no row. ``just_stored`` are the
    documents this run stored before (new or changed): they are replayed too, but were not
    "read again". Returns the ids re-processed.
    """
    t0 = time.perf_counter()
    counts = summary.backfill = BackfillCounts(since)
    items, unreplayed = store.backfill_plan(since)
    replay = _Replay(store, settings, topics, now, summary.run_id, fresh, just_stored, unreplayed, counts)
    logger.info("backfill: %d stored documents first seen or published since %s", len(items), since.isoformat())
    progress = StageProgress("backfill", len(items), "documents", logger, enabled=len(items) > settings.batch_size)
    for start in range(0, len(items), settings.batch_size):
        chunk = items[start : start + settings.batch_size]
        _replay_batch(replay, chunk)
        replay.unreplayed.difference_update(item.id for item in chunk)  # their stories are replayed now
        progress.advance(len(chunk))
        fault_point("mid-backfill")
    seconds = time.perf_counter() - t0
    summary.add_time("backfill", seconds)
    store.record_stage(summary.run_id, "backfill", counts.documents, counts.changed, 0, seconds)
    logger.info(
        "backfill: %d documents since %s re-processed in %.1f s (%.0f documents/s): %d read again from their"
        " file (%d with a new text), %d moved to another story, tags +%d -%d, %d with new evidence",
        counts.documents, since.isoformat(), seconds, counts.documents / max(seconds, 1e-9), counts.reread,
        counts.new_text, counts.moved, counts.tags_added, counts.tags_removed, counts.tags_changed,
    )  # fmt: skip
    return {item.id for item in items}


@dataclass(slots=True)
class _Replay:
    """A backfill under way: what its batches need, and the stories it has not replayed yet."""

    store: Store
    settings: Settings
    topics: list[Topic]
    now: datetime
    run_id: str
    fresh: dict[str, Document]  # documents this run read (files again, new feed items)
    just_stored: set[str]  # ... of which those it stored before the backfill
    unreplayed: set[str]  # stories whose canonical the replay has not reached
    counts: BackfillCounts

    @property
    def versions(self) -> list[tuple[str, str]]:
        """The (topic, version) pairs in force."""
        return [(t.slug, t.version) for t in self.topics]


def _replay_batch(replay: _Replay, chunk: list[BackfillItem]) -> None:
    """Dedupe, tag and store one batch of a backfill with the normal stages, and count what changed."""
    store, counts, fresh, run_id, versions = replay.store, replay.counts, replay.fresh, replay.run_id, replay.versions
    stored = store.documents_by_id([item.id for item in chunk if item.id not in fresh])
    batch: list[Document] = []
    for item in chunk:
        reread = fresh.get(item.id)
        if reread is not None:
            counts.reread += reread.source_kind == "file" and item.id not in replay.just_stored
            batch.append(replace(reread, first_seen_at=item.first_seen_at))
        elif item.id in stored:
            batch.append(stored[item.id])
    ids = [d.id for d in batch]
    before_tags = {(d, t, v): e for d, t, v, e in store.tag_keys(ids, versions)}
    fingerprints, assignments = dedupe_task(
        store, as_is(batch), replay.settings.dedupe_threshold, run_id, as_is(replay.unreplayed)
    )
    tags = tag_task(as_is(batch), as_is(replay.topics))
    store_task(
        store, run_id, replay.now, as_is(batch), as_is(fingerprints), as_is(assignments), as_is(tags), [],
        as_is(versions),
    )  # fmt: skip
    after_tags = {(t.document_id, t.topic, t.topic_version): t.evidence for t in tags}
    story_of = {a.document_id: a.story_id for a in assignments}
    old = {item.id: item for item in chunk}
    changed: set[str] = set()
    for doc in batch:
        if doc.text_hash != old[doc.id].text_hash:
            counts.new_text += 1
            changed.add(doc.id)
        if story_of.get(doc.id) != old[doc.id].story_id:
            counts.moved += 1
            changed.add(doc.id)
    for key in before_tags.keys() | after_tags.keys():
        if key not in before_tags:
            counts.tags_added += 1
        elif key not in after_tags:
            counts.tags_removed += 1
        elif before_tags[key] != after_tags[key]:
            counts.tags_changed += 1
        else:
            continue
        changed.add(key[0])
    counts.documents += len(batch)
    counts.changed += len(changed)


def _process_batch(
    store: Store,
    settings: Settings,
    topics: list[Topic],
    now: datetime,
    batch: list[Document],
    feed_rows: list[FeedItemRow],
    summary: RunSummary,
    tagging: PrefectFuture[list[Tag]] | TagsAhead | None = None,
) -> None:
    """Dedupe, tag and store one batch; ``tagging``: its tags, already submitted (to the task
    runner, or to a helper process)."""
    run_id = summary.run_id
    t0 = time.perf_counter()
    fingerprints, assignments = dedupe_task(store, as_is(batch), settings.dedupe_threshold, run_id)
    t1 = time.perf_counter()
    tags = tagging.result() if tagging is not None else tag_task(as_is(batch), as_is(topics))
    t2 = time.perf_counter()
    existing = store.existing_stories([a.story_id for a in assignments if a.method == "new"])
    versions = [(t.slug, t.version) for t in topics]
    new_docs = store_task(
        store, run_id, now, as_is(batch), as_is(fingerprints), as_is(assignments), as_is(tags), as_is(feed_rows),
        as_is(versions),
    )  # fmt: skip
    t3 = time.perf_counter()
    new_stories = sum(1 for a in assignments if a.method == "new" and a.story_id not in existing)
    summary.documents_new += new_docs
    summary.stories_new += new_stories
    summary.tags_new += len(tags)
    for stage, n_out, secs in (
        ("dedupe", new_stories, t1 - t0),
        ("tag", len(tags), t2 - t1),
        ("store", new_docs, t3 - t2),
    ):
        summary.add_time(stage, secs)
        store.record_stage(run_id, stage, len(batch), n_out, 0, secs)
