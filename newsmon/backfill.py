"""Re-processing stored documents: re-tagging with new topic versions, and backfills
(``newsmon run --since``), both through the same steps as new documents."""

from __future__ import annotations

import time
from collections.abc import Callable, Collection, Sequence
from dataclasses import dataclass, replace
from datetime import datetime
from typing import Any

from newsmon.faults import fault_point
from newsmon.models import BackfillItem, Document, Tag
from newsmon.pipeline import BackfillCounts, RunContext, StageProgress
from newsmon.topics import Topic


def retag_stored(
    store: Any,
    topics: Sequence[Topic],
    run_id: str,
    now: datetime,
    batch_size: int,
    tag: Callable[[Sequence[Document], Sequence[Topic]], list[Tag]],
    skip_ids: Collection[str] = frozenset(),
    progress: Callable[[int, int], None] | None = None,
) -> int:
    """Tag every stored document not in ``skip_ids`` with ``topics``, batch by batch, and store
    the tags (marked backfill, never alerted). The versions are made current by the caller only
    once this is done. ``progress`` gets (documents done, documents in all). Returns the tags."""
    total = store.documents.count()
    count = done = 0
    if total <= len(skip_ids):
        return count  # every stored document was tagged by this run already (a first run)
    for batch in store.documents.iter_all(batch_size):
        tags = tag([d for d in batch if d.id not in skip_ids], topics)
        store.topics.store_retags(tags, run_id, now)
        count += len(tags)
        done += len(batch)
        if progress is not None:
            progress(done, total)
        fault_point("mid-retag")
    return count


def retag_stale(ctx: RunContext, stale: list[Topic], done: set[str]) -> None:
    """Re-tag the stored documents not processed by this run with the topic versions not yet current."""
    t0 = time.perf_counter()
    total = ctx.store.documents.count()
    line = StageProgress("retag", total, "documents", ctx.logger, enabled=total > ctx.settings.batch_size)
    ctx.summary.retagged = retag_stored(
        ctx.store, stale, ctx.run_id, ctx.now, ctx.settings.batch_size, ctx.steps.tag, done,
        lambda n, _total: line.advance(n - line.done),
    )  # fmt: skip
    seconds = time.perf_counter() - t0
    ctx.record("retag", 0, ctx.summary.retagged, 0, seconds)
    ctx.logger.info(
        "retag: %d topic version(s) new (%s), %d tags on stored documents in %.1f s",
        len(stale), ", ".join(t.slug for t in stale), ctx.summary.retagged, seconds,
    )  # fmt: skip


@dataclass(slots=True)
class _Replay:
    """A backfill under way: what its batches need, and the stories it has not replayed yet."""

    ctx: RunContext
    fresh: dict[str, Document]  # documents this run read (files again, new feed items)
    just_stored: set[str]  # ... of which those it stored before the backfill
    unreplayed: set[str]  # stories whose canonical the replay has not reached
    counts: BackfillCounts


def backfill(ctx: RunContext, since: datetime, fresh: dict[str, Document], just_stored: set[str]) -> set[str]:
    """Re-process the stored documents first seen or published from ``since`` on: dedupe and tag
    them again, in batches, with the current topics and dedupe, replaying them in time order.

    "Current extractors": a document whose file this run read again (``fresh``) is replaced by
    that reading (current charset detection, HTML extraction and boilerplate patterns; its
    first sighting kept); other documents (feed items, whose pages are not stored, and files no
    longer in the folder) are re-processed with their stored text. A document joins only a
    story from before ``since`` or one the replay has already reached, never a story whose
    canonical comes later. Idempotent: a second backfill from the same date changes no row.
    ``just_stored`` are the documents this run stored before (new or changed): they are
    replayed too, but were not "read again". Returns the ids re-processed.
    """
    t0 = time.perf_counter()
    counts = ctx.summary.backfill = BackfillCounts(since)
    items, unreplayed = ctx.store.documents.backfill_plan(since)
    replay = _Replay(ctx, fresh, just_stored, unreplayed, counts)
    size = ctx.settings.batch_size
    ctx.logger.info("backfill: %d stored documents first seen or published since %s", len(items), since.isoformat())
    progress = StageProgress("backfill", len(items), "documents", ctx.logger, enabled=len(items) > size)
    for start in range(0, len(items), size):
        chunk = items[start : start + size]
        _replay_batch(replay, chunk)
        replay.unreplayed.difference_update(item.id for item in chunk)  # their stories are replayed now
        progress.advance(len(chunk))
        fault_point("mid-backfill")
    seconds = time.perf_counter() - t0
    ctx.record("backfill", counts.documents, counts.changed, 0, seconds)
    ctx.logger.info(
        "backfill: %d documents since %s re-processed in %.1f s (%.0f documents/s): %d read again from their"
        " file (%d with a new text), %d moved to another story, tags +%d -%d, %d with new evidence",
        counts.documents, since.isoformat(), seconds, counts.documents / max(seconds, 1e-9), counts.reread,
        counts.new_text, counts.moved, counts.tags_added, counts.tags_removed, counts.tags_changed,
    )  # fmt: skip
    return {item.id for item in items}


def _replay_batch(replay: _Replay, chunk: list[BackfillItem]) -> None:
    """Dedupe, tag and store one batch of a backfill with the normal steps, and count what changed."""
    ctx, counts, fresh = replay.ctx, replay.counts, replay.fresh
    store, steps = ctx.store, ctx.steps
    stored = store.documents.by_id([item.id for item in chunk if item.id not in fresh])
    batch: list[Document] = []
    for item in chunk:
        reread = fresh.get(item.id)
        if reread is not None:
            counts.reread += reread.source_kind == "file" and item.id not in replay.just_stored
            batch.append(replace(reread, first_seen_at=item.first_seen_at))
        elif item.id in stored:
            batch.append(stored[item.id])
    ids = [d.id for d in batch]
    before_tags = {(d, t, v): e for d, t, v, e in store.topics.tag_keys(ids, ctx.versions)}
    deduped = steps.dedupe(store, batch, ctx.settings.dedupe_threshold, ctx.run_id, replay.unreplayed)
    tags = steps.tag(batch, ctx.topics)
    steps.store(store, ctx.run_id, ctx.now, batch, deduped, tags, [], ctx.versions, news=False)
    after_tags = {(t.document_id, t.topic, t.topic_version): t.evidence for t in tags}
    story_of = {a.document_id: a.story_id for a in deduped.assignments}
    old = {item.id: item for item in chunk}
    changed: set[str] = set()
    for doc in batch:
        if doc.text_hash != old[doc.id].text_hash:
            counts.new_text += 1
            changed.add(doc.id)
        if story_of.get(doc.id) != old[doc.id].story_id:
            counts.moved += 1
            changed.add(doc.id)
    for key in sorted(before_tags.keys() | after_tags.keys()):
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
