"""Fixtures shared by the unit tests: the seed folder, the default topics, document factories,
and the third-party data folder that sits beside the checkout (``../shared``)."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path

import pytest

import newsmon
from newsmon.models import Document
from newsmon.text import sha256_hex, text_hash

REPO = Path(__file__).resolve().parents[1]
SEEDS = REPO / "seeds"
SHARED = Path(__file__).resolve().parents[2] / "shared"
SHARED_DATA = SHARED / "data"
DEFAULT_TOPICS = Path(newsmon.__file__).resolve().parent / "defaults" / "topics.toml"
FIXED_NOW = datetime(2023, 3, 1, 12, 0, tzinfo=UTC)

MakeDocument = Callable[..., Document]


@pytest.fixture
def shared_data() -> Path:
    """``../shared/data`` beside the checkout; the test is skipped when it is absent."""
    if not SHARED_DATA.is_dir():
        pytest.skip("../shared/data is absent: real-data tests need the shared folder beside the checkout")
    return SHARED_DATA


@pytest.fixture(scope="session")
def seeds_dir() -> Path:
    """The repository's seed documents."""
    return SEEDS


@pytest.fixture(scope="session")
def default_topics_file() -> Path:
    """The topics file shipped with the package."""
    return DEFAULT_TOPICS


@pytest.fixture
def now() -> datetime:
    """A fixed, timezone-aware 'current time' for ingestion."""
    return FIXED_NOW


@pytest.fixture
def make_document() -> MakeDocument:
    """Factory for in-memory documents (the same hashes ingestion would compute)."""

    def make(doc_id: str, body: str, title: str = "Untitled", source: str = "test") -> Document:
        url = f"file:///docs/{doc_id}.txt"
        return Document(
            id=doc_id,
            url=url,
            source=source,
            source_kind="file",
            title=title,
            body=body,
            author=None,
            origin=None,
            published_at=None,
            first_seen_at=FIXED_NOW,
            content_hash=sha256_hex(f"{title}\n{body}"),
            text_hash=text_hash(f"{title}\n{body}"),
            extractor="test",
            charset="utf-8",
        )

    return make
