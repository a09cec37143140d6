"""The held-out accuracy harness (benchmarks.accuracy): part discovery and its pair counting."""

from __future__ import annotations

import importlib
from types import ModuleType

import pytest

from benchmarks.accuracy import PARTS


def _harness(monkeypatch: pytest.MonkeyPatch, name: str) -> ModuleType:
    """Import a benchmark module; its import quiets Prefect's logging through the environment,
    which is put back after the test (later flow tests read their log)."""
    monkeypatch.delenv("PREFECT_LOGGING_LEVEL", raising=False)
    return importlib.import_module(name)


def test_parts_are_listed_and_an_absent_part_is_skipped(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    accuracy_main = _harness(monkeypatch, "benchmarks.accuracy.__main__")
    assert PARTS == ["reprints", "topics", "topics_stream", "review"]
    monkeypatch.setattr(accuracy_main, "PARTS", ["no_such_part"])
    assert accuracy_main.main() == 0
    assert "part 'no_such_part' skipped: no module benchmarks.accuracy.no_such_part" in capsys.readouterr().out


def test_pairs_are_counted_per_gold_story(monkeypatch: pytest.MonkeyPatch) -> None:
    reprints = _harness(monkeypatch, "benchmarks.accuracy.reprints")
    per_story_counts, _prf = reprints.per_story_counts, reprints._prf
    gold = {"a": "s1", "b": "s1", "c": "s1", "d": "s2", "e": "s3"}
    predicted = {"a": "x", "b": "x", "c": "y", "d": "y", "e": "z"}  # a-b right, a-c and b-c missed, c-d wrong
    stories, counts = per_story_counts(predicted, gold)
    by_story = dict(zip(stories, counts.tolist(), strict=True))
    assert by_story == {"s1": [1, 3, 1], "s2": [0, 0, 0], "s3": [0, 0, 0]}
    tp, gold_pairs, fp = counts.sum(axis=0)
    assert _prf(tp, gold_pairs, fp) == pytest.approx((0.5, 1 / 3, 0.4))
    _, only_c = per_story_counts(predicted, gold, {"c", "d"})
    assert only_c.sum(axis=0).tolist() == [0, 0, 1]


@pytest.mark.parametrize("cause", ["short_footer", "runon"])
def test_copies_of_a_text_posted_twice_share_its_gold_story(monkeypatch: pytest.MonkeyPatch, cause: str) -> None:
    """A source that posted one text twice makes one gold story; a short or run-on copy of
    either posting belongs to it, else a correct merge with the twin is scored as false."""
    from datetime import UTC, datetime, timedelta

    reprints = _harness(monkeypatch, "benchmarks.accuracy.reprints")
    from benchmarks.dedupe import Original

    at = datetime(2023, 5, 10, 12, tzinfo=UTC)
    body = "\n".join(f"Paragraph {n} of the remarks says what was said there, at length and in order." * 3
                     for n in range(12))  # fmt: skip
    twins = [
        Original(f"w{n}", "Remarks on the debt limit", body, "wh", f"https://wh.example/{n}", at + timedelta(seconds=n))
        for n in range(2)
    ]
    cases = reprints.build_cases(twins, cause, "dev", 2)
    assert {cases.gold[d] for d in cases.gold} == {"w0"}  # both postings and every copy: one story
