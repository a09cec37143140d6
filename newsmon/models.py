"""Plain data passed between the stages; no I/O, no framework types."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime


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
    page_kind: str = "article"  # article | paywall | cookie-wall | bot-check | not-article | unavailable
    language: str | None = None
    canonical_url: str | None = None


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


@dataclass(frozen=True, slots=True)
class StoryAssignment:
    """Where dedupe put one document: its story, and how close it is to the story's canonical."""

    document_id: str
    story_id: str
    similarity: float
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
