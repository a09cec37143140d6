"""Main-text extraction from HTML pages with trafilatura."""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import UTC, datetime

import trafilatura

log = logging.getLogger(__name__)

EXTRACTOR = f"trafilatura/{trafilatura.__version__}"


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
    doc = trafilatura.bare_extraction(
        html,
        url=url,
        include_comments=False,
        include_tables=True,
        favor_precision=False,
        with_metadata=True,
    )
    if doc is None or isinstance(doc, dict) or not (doc.text or "").strip():
        return None
    return Extracted(
        title=(doc.title or None),
        text=doc.text or "",
        author=(doc.author or None),
        published_at=_parse_date(doc.date),
        sitename=(doc.sitename or None),
        language=(doc.language or None),
    )


def _parse_date(value: str | None) -> datetime | None:
    if not value:
        return None
    try:
        parsed = datetime.fromisoformat(value)
    except ValueError:
        return None
    return parsed.replace(tzinfo=UTC) if parsed.tzinfo is None else parsed.astimezone(UTC)
