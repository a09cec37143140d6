"""Text built to make pattern matching slow: every step that reads feed or page text must stay
linear in its length. Each case once took time growing with the square of its size (minutes
at these sizes); linear code does it in well under a second, so the bound below only fails
on a quadratic path, not on a slow machine."""

from __future__ import annotations

import time
from collections.abc import Callable
from datetime import UTC, datetime

import pytest

from newsmon.config import default_topics_path
from newsmon.feeds import plain_text
from newsmon.models import Document
from newsmon.text import normalize_for_query, split_sentences
from newsmon.topics import load_topics, tag_documents

pytestmark = pytest.mark.hostile("text that makes patterns slow")

SIZE = 200_000  # characters
BOUND_S = 10.0  # linear: under 0.5 s here; quadratic: minutes
NOW = datetime(2026, 1, 1, tzinfo=UTC)


def _tag(body: str) -> object:
    doc = Document(
        id="d", url="https://example.org/a", source="s", source_kind="feed", title="Title", body=body, author=None,
        origin=None, published_at=NOW, first_seen_at=NOW, content_hash="", text_hash="", extractor="x", charset=None,
    )  # fmt: skip
    return tag_documents([doc], load_topics(default_topics_path(), semantic=False))


CASES: dict[str, tuple[Callable[[str], object], str]] = {
    "a run of '<' in a feed title, no '>'": (plain_text, "<"),
    "unclosed script tags in a feed summary": (plain_text, "<script"),
    "escaped '<' in a feed summary": (plain_text, "&lt;"),
    "a hyphen chain read for links": (normalize_for_query, "a-"),
    "a dotted chain read for links": (normalize_for_query, "a."),
    "initials split into sentences": (split_sentences, "A. "),
    "titles split into sentences": (split_sentences, "Mr. "),
    "one sentence repeating a topic's words": (_tag, "Kazakhstan Russia sanctions "),
}


@pytest.mark.parametrize("case", list(CASES))
def test_hostile_text_is_read_in_linear_time(case: str) -> None:
    step, unit = CASES[case]
    text = (unit * (SIZE // len(unit) + 1))[:SIZE]
    started = time.perf_counter()
    step(text)
    assert time.perf_counter() - started < BOUND_S, f"{case}: {SIZE:,} characters took too long"
