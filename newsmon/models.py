"""Plain data passed between the stages; no I/O, no framework types."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from typing import Any, Protocol

import numpy as np

DEFAULT_INTERVAL_S = 1800.0  # a feed's default polling interval
SCHEME = "oph-c7ocr-2x128"  # the reprint fingerprint scheme stored with every signature (7-grams of the OCR skeleton)
WINDOW = timedelta(days=7)  # a reprint joins a story whose canonical is at most this far apart
MAX_CANDIDATES = 8  # stories verified per document at most, most shared LSH bands first


@dataclass(frozen=True, slots=True)
class Document:
    """One ingested item, boilerplate removed, ready for dedupe and tagging.

    ``id`` is the natural key: a hash of ``url`` (for files, their ``file:`` URI).
    ``text_hash`` hashes the normalized body, so exact copies share it.
    """

    id: str
    url: str
    source: str
    source_kind: str
    title: str
    body: str
    author: str | None
    origin: str | None
    published_at: datetime | None
    first_seen_at: datetime
    content_hash: str
    text_hash: str
    extractor: str
    charset: str | None
    boilerplate_lines: int = 0
    extraction: str = "file"  # file | article | feed-summary
    page_kind: str = "article"  # article | paywall | cookie-wall | bot-check | error-page | not-article | unavailable
    language: str | None = None  # declared: the page's <html lang>, else None (the feed's is in v_documents)
    canonical_url: str | None = None
    detected_language: str | None = None  # read from the text (newsmon.language)


@dataclass(frozen=True, slots=True)
class Skip:
    """An input that was not ingested, and why (one line, for the log and the run record)."""

    path: str
    reason: str


@dataclass(slots=True)
class IngestResult:
    """What one ingestion pass produced."""

    documents: list[Document] = field(default_factory=list)
    skipped: list[Skip] = field(default_factory=list)
    files_seen: int = 0
    other_types: dict[str, int] = field(default_factory=dict)  # files not read, by suffix


@dataclass(frozen=True, slots=True)
class StoryAssignment:
    """Where dedupe put one document: its story, and how close it is to the story's canonical."""

    document_id: str
    story_id: str
    similarity: float | None  # None: joined by headline, with no text on one side to compare
    method: str  # "new" (starts a story), "exact" (same normalized text), "near", "headline" (older: "minhash")
    matched_document_id: str | None = None
    containment: float | None = None  # share of this document found in the canonical
    coverage: float | None = None  # share of the canonical found in this document
    differences: tuple[str, ...] = ()  # headline, truncated, added_text, edited, noisy
    kind: str = "full"  # full | short | boilerplate (a wall page: never joins, never joined)


@dataclass(frozen=True, slots=True)
class Tag:
    """A topic assigned to a document, with the evidence that triggered it."""

    document_id: str
    topic: str
    topic_version: str
    score: float
    evidence: str
    clause: str


@dataclass(frozen=True, slots=True)
class AlertItem:
    """A new tagged document, as an alert summary lists it."""

    document_id: str
    story_id: str
    title: str
    source: str
    url: str
    evidence: str
    score: float
    is_new_story: bool
    published_at: datetime | None = None  # the document's publication time, when it has one


@dataclass(frozen=True, slots=True)
class Failure:
    """One failed fetch of a run: a feed's poll or an article page, with its failure class
    (a key of ``newsmon.errors.FAILURE_CLASSES``)."""

    scope: str  # feed | page
    url: str
    kind: str
    message: str
    feed_url: str | None = None  # a page's: the feed whose item linked it
    status: int | None = None


@dataclass(slots=True)
class FailureTally:
    """A run's failures of one scope and class: how many, and the first as an example."""

    scope: str
    kind: str
    count: int
    example: Failure


def tally_failures(failures: Sequence[Failure]) -> list[FailureTally]:
    """Failures counted by (scope, class), most frequent first, each with its first example."""
    tallies: dict[tuple[str, str], FailureTally] = {}
    for failure in failures:
        key = (failure.scope, failure.kind)
        if key in tallies:
            tallies[key].count += 1
        else:
            tallies[key] = FailureTally(failure.scope, failure.kind, 1, failure)
    return sorted(tallies.values(), key=lambda t: (t.scope != "feed", -t.count, t.kind))


@dataclass(frozen=True, slots=True)
class Alert:
    """One topic's summary of what a run found new."""

    id: str
    run_id: str
    topic: str
    created_at: datetime
    document_count: int
    story_count: int
    markdown: str


@dataclass(frozen=True, slots=True)
class FeedItemRow:
    """Which document a feed item became (the feed's record of items it has seen)."""

    feed_url: str
    item_key: str
    document_id: str
    content_hash: str


@dataclass(frozen=True, slots=True)
class StoryLine:
    """One story as a digest lists it: its canonical headline and how far it spread."""

    story_id: str
    headline: str
    url: str
    documents: int
    sources: tuple[str, ...]
    evidence: str
    score: float
    first_seen_at: datetime
    is_new: bool = False  # new to the topic in this run
    new_documents: int = 0  # its documents first tagged in this run
    published_at: datetime | None = None  # the canonical's publication time, when known
    latest_at: datetime | None = None  # the latest copy's publication (else first sighting) time

    @property
    def reprints(self) -> int:
        """Copies beyond the first."""
        return max(0, self.documents - 1)


@dataclass(frozen=True, slots=True)
class AlertRecord:
    """One digest section: a topic's alert, or the silent feeds (``kind = 'sources'``)."""

    id: str
    run_id: str
    topic: str
    kind: str  # topic | sources
    created_at: datetime
    day: date
    document_count: int
    story_count: int
    new_stories: int
    spike: bool
    triggers: Mapping[str, Any]
    markdown: str
    html: str
    title: str = ""  # one line, for notifications
    path: str | None = None
    digest_path: str | None = None


@dataclass(frozen=True, slots=True)
class FeedSpec:
    """One feed the user follows."""

    name: str
    url: str
    interval_s: float = DEFAULT_INTERVAL_S
    tags: tuple[str, ...] = ()


@dataclass(frozen=True, slots=True)
class FeedState:
    """What newsmon remembers of one feed between polls."""

    url: str
    name: str
    interval_s: float
    etag: str | None = None
    last_modified: str | None = None
    validators_trusted: bool = True
    validator_churn: int = 0
    polls_since_full_get: int = 0
    last_body_hash: str | None = None
    last_polled_at: datetime | None = None
    last_success_at: datetime | None = None
    last_status: int | None = None
    last_error: str | None = None
    last_error_kind: str | None = None
    last_error_at: datetime | None = None
    consecutive_failures: int = 0
    next_poll_at: datetime | None = None
    items_total: int = 0
    title: str | None = None  # the feed's own title, site link, language and format (rss20, atom10, ...),
    site_url: str | None = None  # as its latest successful poll (or `newsmon feeds add`) read them
    language: str | None = None
    format: str | None = None


@dataclass(frozen=True, slots=True)
class SpikeParams:
    """The spike test's knobs; the defaults are what ``v_topic_trend`` uses."""

    window_days: int = 14
    guard_days: int = 1
    min_history_days: int = 3
    floor: float = 0.5
    min_stories: int = 3
    min_ratio: float = 2.0
    alpha: float = 0.01
    backlog_days: float = 3.0  # a copy published longer than this before its first sighting is not counted


@dataclass(frozen=True, slots=True)
class AlertRule:
    """When a topic alerts (``[topics.<id>.alerts]`` in the topics file; not part of its version).

    ``min_new_stories``: a new-story alert waits until this many recent stories new to the topic
    are pending (they are listed together); ``spikes``: whether a spike of the topic alerts.
    """

    min_new_stories: int = 1
    spikes: bool = True


@dataclass(frozen=True, slots=True)
class SilenceParams:
    """The silent-feed test's knobs; the defaults are what ``v_source_cadence`` uses."""

    window_days: int = 14
    min_history_days: int = 7  # a full week: weekend lulls must be in the history
    max_share: float = 0.25
    alpha: float = 0.001


@dataclass(frozen=True, slots=True)
class DayCount:
    """One topic's activity on one day."""

    day: date
    stories: int  # unique stories, backlog left out
    documents: int = 0
    backlog: int = 0  # stories whose copies that day were all published long before (SpikeParams.backlog_days)
    observed: bool = True  # False: no monitor run that day (not a day without news: a day nobody looked)


@dataclass(frozen=True, slots=True)
class FeedActivity:
    """A feed's items per 24-hour bucket back from the run's clock (bucket 0 = the last 24 h)."""

    name: str
    url: str
    first_seen_at: datetime
    last_seen_at: datetime | None
    buckets: Mapping[int, int]
    status: str | None = None  # v_feed_health status, if known
    last_error_kind: str | None = None
    unobserved: frozenset[int] = frozenset()  # buckets in which no monitor run started (left out)


@dataclass(frozen=True, slots=True)
class PendingDelivery:
    """A delivery to make (new, failed before, or cut short by a crash)."""

    alert_id: str
    topic: str  # the alert's topic (sources:silent for silent feeds)
    target: str  # target_key of the URL
    label: str  # see redact()
    attempts: int
    title: str
    body: str
    created_at: datetime | None = None  # when the alert was made


def notification_body(markdown: str, alert_id: str, digest_path: str | None) -> str:
    """The message of a notification: the alert's Markdown and its identifiers."""
    footer = f"\n\n---\nnewsmon alert `{alert_id}`"
    if digest_path:
        footer += f" · digest: {digest_path}"
    return markdown.rstrip() + footer + "\n"


@dataclass(frozen=True, slots=True)
class Outcome:
    """The result of one delivery attempt."""

    status: str  # sent | failed | gave-up | dropped
    error: str | None = None  # one line: what happened, what to do
    kind: str | None = None  # the failure's class (see newsmon.notify.Sent)


@dataclass(frozen=True, slots=True)
class BackfillItem:
    """A stored document a backfill re-processes: when it appeared (published, else first seen),
    its url (the tie-break of the replay order), its first sighting, text hash and story."""

    id: str
    at: datetime
    url: str
    first_seen_at: datetime
    text_hash: str
    story_id: str | None


@dataclass(frozen=True, slots=True)
class DedupeKeys:
    """What the reprint index stores and looks up for one document (computed by dedupe).

    ``band_keys`` (int64 LSH band hashes) and ``signature`` (the stored MinHash bytes) are set
    for full texts only; ``day`` is days since 1970-01-01 UTC, the index's window column."""

    document_id: str
    kind: str  # full | short | boilerplate
    day: int
    exact_key: int
    headline_key: int | None
    band_keys: np.ndarray | None = field(default=None, compare=False, repr=False)
    signature: bytes | None = field(default=None, compare=False, repr=False)


@dataclass(frozen=True, slots=True)
class StoryKey:
    """A story's entry in the reprint index: its id, the hash that stands for it in band rows,
    and its canonical's keys."""

    story_id: str
    story_key: int
    keys: DedupeKeys


@dataclass(frozen=True, slots=True)
class IndexScheme:
    """How the reprint index is read: the fingerprint scheme, the join window and candidate cap."""

    scheme: str
    window_days: int  # the widest join window, in whole days (both sides rounded)
    max_candidates: int


INDEX_SCHEME = IndexScheme(SCHEME, WINDOW.days + 1, MAX_CANDIDATES)


class TopicLike(Protocol):
    """A topic definition as storage records it (see ``newsmon.topics.Topic``)."""

    @property
    def slug(self) -> str: ...
    @property
    def version(self) -> str: ...
    @property
    def name(self) -> str: ...
    @property
    def description(self) -> str: ...
    @property
    def definition(self) -> str: ...


@dataclass(frozen=True, slots=True)
class Batch:
    """One processed batch as it is stored.

    ``keys`` are the documents' dedupe keys; ``new_stories`` the index entries of the stories
    the batch starts; ``tagged_versions`` the (topic, version) pairs the batch was tagged with
    (the batch's tags of those versions then become exactly ``tags``), or None to only add tags.
    ``news``: whether the batch is news (a run's new and changed documents, whose new tags wait
    for an alert), or history (a backfill's re-processing, whose tags never alert).
    """

    documents: Sequence[Document]
    keys: Sequence[DedupeKeys]
    new_stories: Sequence[StoryKey]
    assignments: Sequence[StoryAssignment]
    tags: Sequence[Tag]
    feed_items: Sequence[FeedItemRow] = ()
    tagged_versions: Sequence[tuple[str, str]] | None = None
    news: bool = True


@dataclass(frozen=True, slots=True)
class Review:
    """A review of one topic version's tags (see ``newsmon.review``)."""

    id: str
    topic: str
    topic_version: str
    seed: int
    drawn_at: datetime
    run_id: str
    store_run_at: datetime | None = None  # the latest run in the snapshot drawn from: when it started
    store_run_seq: int | None = None  # … and its number in the order runs started (runs.seq)


@dataclass(frozen=True, slots=True)
class Stratum:
    """One stratum of a review: how many stored documents it held when drawn, and how many were drawn."""

    name: str
    population: int
    drawn: int


@dataclass(frozen=True, slots=True)
class ReviewItem:
    """A drawn document: its stratum, its place in the order the reader sees, the reader's label
    (yes, no or unsure; None until judged) and note, and the hash of the text drawn."""

    document_id: str
    stratum: str
    position: int
    label: str | None = None
    note: str | None = None
    text_hash: str | None = None  # the document's text when drawn (the text the reader saw)
