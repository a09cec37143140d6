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
    assert PARTS == ["reprints", "topics"]
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
