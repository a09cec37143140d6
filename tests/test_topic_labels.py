"""The held-out topic labels: the file's shape, its frozen test split, and the loader that
joins it to the texts in ``../shared/data``."""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

import pytest

from benchmarks.accuracy import build_topic_labels as labels
from newsmon.errors import InputError

FIELDS = {
    "id",
    "source",
    "link",
    "date_published",
    "labels",
    "judged",
    "kind",
    "ambiguous",
    "note",
    "split",
    "pool",
    "labelled_on",
    "scored_text",
}


def records() -> list[dict[str, Any]]:
    with labels.LABELS.open(encoding="utf-8") as lines:
        return [json.loads(line) for line in lines]


def held_out(path: Path, source: str, labelled_on: str) -> list[dict[str, Any]]:
    """A test-only labels file's records, each checked for its shape."""
    with path.open(encoding="utf-8") as lines:
        found = [json.loads(line) for line in lines]
    assert found and len({r["id"] for r in found}) == len(found)
    for record in found:
        assert set(record) == FIELDS, record["id"]
        assert record["split"] == "test" and record["source"] == source, record["id"]
        assert record["labelled_on"] == labelled_on, record["id"]
        assert set(record["labels"]) <= set(record["judged"]) <= set(labels.TOPICS), record["id"]
        assert (record["kind"] == "positive") == bool(record["labels"]), record["id"]
        assert labels.sha1(record["link"]) == record["id"]
    return found


def assert_documented_hash(found: list[dict[str, Any]], name: str) -> None:
    """The file's SHA-256 is the one TOPIC_LABELS.md gives after ``name``."""
    doc = (labels.LABELS.parent / "TOPIC_LABELS.md").read_text(encoding="utf-8")
    documented = re.search(re.escape(name) + r" SHA-256[^`]*`([0-9a-f]{64})`", doc)
    assert documented, f"TOPIC_LABELS.md gives no SHA-256 for the {name}"
    assert labels.test_split_sha256(found) == documented.group(1)


def dev_links() -> set[str]:
    """The links of the labels the rules were written on (needs ../shared/data)."""
    with (labels.SHARED / labels.DEV_LABELS).open(encoding="utf-8") as lines:
        return {json.loads(line)["link"] for line in lines}


def test_every_record_has_the_fields_and_no_text() -> None:
    found = records()
    assert len({r["id"] for r in found}) == len(found)
    for record in found:
        assert set(record) == FIELDS, record["id"]
        assert set(record["labels"]) <= set(labels.TOPICS)
        assert set(record["judged"]) <= set(labels.TOPICS)
        assert set(record["labels"]) <= set(record["judged"]), record["id"]
        assert record["split"] in {"dev", "test"}
        assert record["kind"] in {"positive", "hard_negative", "random"}
        assert (record["kind"] == "positive") == bool(record["labels"]), record["id"]
        assert record["source"] in {labels.FEEDS, labels.WH}
        assert labels.sha1(record["link"]) == record["id"]


def test_each_topic_has_at_least_300_scored_items_and_both_splits() -> None:
    found = records()
    for topic in labels.TOPICS:
        scored = [r for r in found if topic in r["judged"] and not r["ambiguous"]]
        assert len(scored) >= 300, topic
        for split in ("dev", "test"):
            assert any(topic in r["labels"] for r in scored if r["split"] == split), (topic, split)


def test_the_test_split_hash_is_the_one_documented() -> None:
    doc = (labels.LABELS.parent / "TOPIC_LABELS.md").read_text(encoding="utf-8")
    documented = re.search(r"test split SHA-256: `([0-9a-f]{64})`", doc)
    assert documented, "TOPIC_LABELS.md gives no test split SHA-256"
    assert labels.test_split_sha256(records()) == documented.group(1)


def test_the_hash_changes_with_a_test_label_but_not_with_a_dev_one() -> None:
    found = records()
    before = labels.test_split_sha256(found)
    dev = next(i for i, r in enumerate(found) if r["split"] == "dev")
    test = next(i for i, r in enumerate(found) if r["split"] == "test")
    changed_dev = [dict(r, labels=["covid-origins"]) if i == dev else r for i, r in enumerate(found)]
    assert labels.test_split_sha256(changed_dev) == before
    changed_test = [dict(r, ambiguous=not r["ambiguous"]) if i == test else r for i, r in enumerate(found)]
    assert labels.test_split_sha256(changed_test) != before


def test_splits_are_stratified_and_seeded() -> None:
    items: list[dict[str, Any]] = [
        {"id": f"{n:040x}", "labels": ["russia-sanctions"] if n % 2 else [], "kind": "random", "ambiguous": False}
        for n in range(60)
    ]
    split = labels.assign_splits(items)
    assert split == labels.assign_splits(list(reversed(items)))
    for positive in (True, False):
        stratum = [i["id"] for i in items if bool(i["labels"]) == positive]
        assert sum(split[i] == "dev" for i in stratum) == 10


def test_load_items_says_the_shared_data_is_missing(tmp_path: Path) -> None:
    with pytest.raises(InputError, match="no shared data"):
        labels.load_items(labels.LABELS, tmp_path / "absent")


def test_load_items_joins_every_label_to_its_text(shared_data: Path) -> None:
    items = labels.load_items(labels.LABELS, shared_data)
    assert len(items) == len(records())
    for item in items:
        assert item["title"], item["id"]
        if item["source"] == labels.WH:
            assert item["text"].startswith(item["label_text"])
            assert len(item["label_text"]) <= labels.LABEL_CHARS


def test_no_item_comes_from_the_rules_own_labels(shared_data: Path) -> None:
    with (shared_data / labels.DEV_LABELS).open(encoding="utf-8") as lines:
        dev_links = {json.loads(line)["link"] for line in lines}
    assert not dev_links & {r["link"] for r in records()}


def test_the_fresh_set_is_new_held_out_and_matches_its_documented_hash() -> None:
    fresh = held_out(labels.FRESH, labels.WH, labels.FRESH_LABELLED_ON)
    assert not {r["id"] for r in fresh} & {r["id"] for r in records()}, "the fresh set repeats the first set"
    assert_documented_hash(fresh, "fresh set")
    if not labels.SHARED.is_dir():
        pytest.skip("../shared/data is absent: the fresh set's texts and topics-dev links need the shared folder")
    assert not dev_links() & {r["link"] for r in fresh}
    assert {r["id"] for r in fresh} == {c["id"] for c in labels.fresh_candidates()}
    items = labels.load_items(labels.FRESH)
    assert [i["id"] for i in items] == [r["id"] for r in fresh]
    for item in items:
        assert item["title"] and item["text"], item["id"]
        assert item["label_text"] == labels.reading_text(item["text"]), item["id"]
        assert item["text"].startswith(item["label_text"][: labels.LABEL_CHARS]), item["id"]


def test_reading_text_adds_later_keyword_paragraphs_only() -> None:
    head = "Opening remarks. " * 100
    text = f"{head}\n\nWeather talk.\n\nNew sanctions on Russian banks.\n\nMore weather.\n\nRussia and oil prices."
    read = labels.reading_text(text)
    assert read.startswith(head)
    assert "New sanctions on Russian banks." in read and "Russia and oil prices." in read
    assert "Weather talk." not in read and "More weather." not in read


def test_the_stream_set_is_new_held_out_and_matches_its_documented_hash() -> None:
    stream = held_out(labels.STREAM, labels.FEEDS, labels.STREAM_LABELLED_ON)
    assert all(set(r["judged"]) == set(labels.TOPICS) for r in stream)
    earlier = {r["id"] for r in records()} | {
        r["id"] for r in held_out(labels.FRESH, labels.WH, labels.FRESH_LABELLED_ON)
    }
    assert not {r["id"] for r in stream} & earlier, "the stream set repeats an earlier set"
    assert_documented_hash(stream, "stream set")
    if not labels.SHARED.is_dir():
        pytest.skip("../shared/data is absent: the stream set's texts and topics-dev links need the shared folder")
    assert not dev_links() & {r["link"] for r in stream}
    # The keyword pools are re-created exactly from the release's tagged items (re-running that
    # release's tagger is the `check` sub-command's job: it takes about a minute).
    tagged = {r["id"] for r in stream if r["pool"] == "tagged"}
    eligible = labels.stream_eligible()
    rebuilt = labels.stream_candidates(tagged=tagged, records=eligible)
    sizes: dict[str, int] = {}
    for record in eligible:
        stratum = labels.stream_stratum(record, tagged)
        sizes[stratum] = sizes.get(stratum, 0) + 1
    assert sizes == labels.STREAM_STRATA
    assert [(c["id"], c["pool"]) for c in rebuilt] == [(r["id"], r["pool"]) for r in stream]
    items = labels.load_items(labels.STREAM)
    assert [i["id"] for i in items] == [r["id"] for r in stream]
    assert all(item["title"] and item["label_text"] == item["text"] for item in items)


def test_the_stream_audit_judges_tags_outside_the_stream_set() -> None:
    audit = held_out(labels.STREAM_AUDIT, labels.FEEDS, labels.STREAM_AUDIT_LABELLED_ON)
    with labels.STREAM.open(encoding="utf-8") as lines:
        stream = {json.loads(line)["id"] for line in lines}
    assert not {r["id"] for r in audit} & (stream | {r["id"] for r in records()})
    assert all(r["pool"] in ("tagged-863859d", "decoy") for r in audit)
    assert_documented_hash(audit, "stream audit")
    if not labels.SHARED.is_dir():
        pytest.skip("../shared/data is absent: the audit's texts live there")
    assert [c["id"] for c in labels.audit_candidates()] == [r["id"] for r in audit]
    items = labels.load_items(labels.STREAM_AUDIT)
    assert [i["id"] for i in items] == [r["id"] for r in audit]


def test_stream_items_stand_for_their_stratum_and_ambiguous_ones_count_neither_way() -> None:
    from benchmarks.accuracy.topics import Item, _stream_weights, weighted_counts

    records = [
        {"id": "t1", "pool": "tagged"},
        {"id": "t2", "pool": "tagged"},
        {"id": "s1", "pool": "sanctions-not-russia"},
        {"id": "s2", "pool": "random"},  # drawn at random, yet in the sanctions stratum
        {"id": "s3", "pool": "sanctions-not-russia", "ambiguous": True},  # stands for its share too
        {"id": "r1", "pool": "random"},
    ]
    texts = {
        "t1": ("Tagged", ""),
        "t2": ("Tagged too", ""),
        "s1": ("New sanctions on Iran", ""),
        "s2": ("Sanctions on Venezuela eased", ""),
        "s3": ("Sanctions on Cuba debated", ""),
        "r1": ("Weather today", "Sunny."),
    }
    weights = _stream_weights(records, texts)
    sizes = labels.STREAM_STRATA
    assert weights == {
        "t1": sizes["tagged"] / 2,
        "t2": sizes["tagged"] / 2,
        "s1": sizes["sanctions-not-russia"] / 3,
        "s2": sizes["sanctions-not-russia"] / 3,
        "s3": sizes["sanctions-not-russia"] / 3,
        "r1": sizes["rest"] / 1,
    }
    topic = "russia-sanctions"
    items = [
        Item("a", "", "", frozenset({topic}), frozenset({topic}), False, weight=2.0),  # found
        Item("b", "", "", frozenset(), frozenset({topic}), False, weight=3.0),  # wrongly tagged
        Item("c", "", "", frozenset({topic}), frozenset({topic}), False, weight=5.0),  # missed
        Item("d", "", "", frozenset(), frozenset({topic}), True, weight=7.0),  # ambiguous: neither way
    ]
    tagged = {("a", topic), ("b", topic), ("d", topic)}
    assert weighted_counts(items, tagged, topic) == (2.0, 3.0, 5.0)
