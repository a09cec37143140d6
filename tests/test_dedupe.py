"""Reprint detection: exact copies, MinHash near-copies, no chaining (newsmon.dedupe)."""

from __future__ import annotations

import shutil
from collections.abc import Callable, Sequence
from datetime import datetime
from pathlib import Path

import numpy as np
import pytest

from newsmon.dedupe import (
    BANDS,
    NUM_PERM,
    Fingerprint,
    assign_stories,
    band_hashes,
    fingerprint_documents,
    shingles,
    signature_from_bytes,
    similarity,
)
from newsmon.documents import read_documents
from newsmon.models import Document, StoryAssignment

MakeDocument = Callable[..., Document]

SECOND_SEED = "002_7a780bc5721e2cfc.txt"


def reprint_of(seed_text: str) -> str:
    """A lightly edited reprint: new headline, other boilerplate, a few words changed, a paragraph dropped."""
    lines = seed_text.split("\n")
    paragraphs = [ln for ln in lines[1:] if ln.strip()]
    body = [p for p in paragraphs if p.strip() not in {"Source link", "Leave a Reply"} and "email address" not in p]
    dropped = body.pop(7)
    assert dropped == "The main context is the war in Ukraine."
    for index, old, new in [
        (0, "flying", "traveling"),
        (2, "first by any", "first ever by a"),
        (-1, "pressure point", "lever"),
    ]:
        assert old in body[index]
        body[index] = body[index].replace(old, new)
    header = ["Blinken heads to Central Asia to press allies on Russia", "", "Share this:", "Facebook", "Twitter", ""]
    footer = ["", "Read more at Example Wire", "", "Related Posts", ""]
    return "\n".join(header + [p + "\n" for p in body] + footer)


def assign_in_one_batch(docs: Sequence[Document]) -> dict[str, StoryAssignment]:
    return {a.document_id: a for a in assign_stories(fingerprint_documents(docs), {}, {}, {})}


@pytest.fixture
def reprint_folder(tmp_path: Path, seeds_dir: Path) -> Path:
    folder = tmp_path / "batch"
    folder.mkdir()
    for seed in sorted(seeds_dir.iterdir()):
        shutil.copy(seed, folder / seed.name)
    shutil.copy(seeds_dir / SECOND_SEED, folder / "100_exact_copy.txt")
    seed_text = (seeds_dir / SECOND_SEED).read_text(encoding="utf-8")
    (folder / "101_reprint.txt").write_text(reprint_of(seed_text), encoding="utf-8")
    return folder


@pytest.fixture
def batch(reprint_folder: Path, now: datetime) -> dict[str, Document]:
    docs = read_documents(reprint_folder, now).documents
    return {Path(d.url.removeprefix("file://")).name: d for d in docs}


def test_the_two_seeds_stay_two_stories(seeds_dir: Path, now: datetime) -> None:
    docs = read_documents(seeds_dir, now).documents
    assignments = assign_in_one_batch(docs)
    assert [a.method for a in assignments.values()] == ["new", "new"]
    assert len({a.story_id for a in assignments.values()}) == 2
    first, second = fingerprint_documents(docs)
    assert similarity(first.signature, second.signature) < 0.2


def test_exact_copy_joins_the_seed_story(batch: dict[str, Document]) -> None:
    seed, copy = batch[SECOND_SEED], batch["100_exact_copy.txt"]
    assert seed.id != copy.id
    assert seed.text_hash == copy.text_hash
    assignments = assign_in_one_batch(list(batch.values()))
    assert assignments[seed.id].method == "new"
    assert assignments[copy.id].story_id == assignments[seed.id].story_id == seed.id
    assert assignments[copy.id].method == "exact"
    assert assignments[copy.id].similarity == 1.0


def test_lightly_edited_reprint_joins_by_minhash(batch: dict[str, Document]) -> None:
    seed, reprint = batch[SECOND_SEED], batch["101_reprint.txt"]
    assert reprint.title != seed.title
    assert reprint.text_hash != seed.text_hash
    assert "Share this:" not in reprint.body
    assignments = assign_in_one_batch(list(batch.values()))
    joined = assignments[reprint.id]
    assert joined.method == "minhash"
    assert joined.story_id == seed.id
    assert 0.5 <= joined.similarity < 1.0


def test_the_other_seed_is_not_pulled_in(batch: dict[str, Document]) -> None:
    assignments = assign_in_one_batch(list(batch.values()))
    first_seed = next(d for name, d in batch.items() if name.startswith("000_"))
    assert assignments[first_seed.id].method == "new"
    assert sum(a.story_id == first_seed.id for a in assignments.values()) == 1


def test_headline_is_not_part_of_the_signature(make_document: MakeDocument) -> None:
    body = " ".join(f"word{i}" for i in range(60))
    a = make_document("a", body, title="One headline")
    b = make_document("b", body, title="A completely different headline")
    assert a.text_hash != b.text_hash
    assignments = assign_in_one_batch([a, b])
    assert assignments["b"].method == "minhash"
    assert assignments["b"].story_id == "a"
    assert assignments["b"].similarity == 1.0


def _segments(count: int, size: int = 40) -> list[str]:
    return [" ".join(f"s{n}w{i}" for i in range(size)) for n in range(count)]


def test_no_chaining_through_a_middle_document(make_document: MakeDocument) -> None:
    seg = _segments(14)
    # Sliding windows of 10 segments: A~B and B~C share 8 of 12 segments, A~C only 6 of 14.
    a = make_document("a", " ".join(seg[0:10]))
    b = make_document("b", " ".join(seg[2:12]))
    c = make_document("c", " ".join(seg[4:14]))
    fa, fb, fc = fingerprint_documents([a, b, c])
    assert similarity(fa.signature, fb.signature) >= 0.55
    assert similarity(fb.signature, fc.signature) >= 0.55
    assert similarity(fa.signature, fc.signature) < 0.45

    assignments = {x.document_id: x for x in assign_stories([fa, fb, fc], {}, {}, {})}
    assert (assignments["b"].story_id, assignments["b"].method) == ("a", "minhash")
    assert assignments["c"].story_id != "a"
    assert (assignments["c"].story_id, assignments["c"].method) == ("c", "new")


def test_threshold_is_respected(make_document: MakeDocument) -> None:
    seg = _segments(10)
    a = make_document("a", " ".join(seg[0:8]))
    b = make_document("b", " ".join(seg[2:10]))
    fps = fingerprint_documents([a, b])
    sim = similarity(fps[0].signature, fps[1].signature)
    assert assign_stories(fps, {}, {}, {}, threshold=sim)[1].method == "minhash"
    assert assign_stories(fps, {}, {}, {}, threshold=sim + 0.01)[1].method == "new"


def _stored_maps(
    stored: Sequence[Fingerprint], stored_assignments: Sequence[StoryAssignment], new: Sequence[Fingerprint]
) -> tuple[dict[str, str], dict[str, set[str]], dict[str, np.ndarray]]:
    """What a store would answer for ``new``: exact matches, LSH candidates, canonical signatures."""
    story_of = {a.document_id: a.story_id for a in stored_assignments}
    exact = {fp.text_hash: story_of[fp.document_id] for fp in stored}
    band_index: dict[tuple[int, int], set[str]] = {}
    for fp, bands in zip(stored, band_hashes(np.stack([f.signature for f in stored])), strict=True):
        for band, value in enumerate(bands.tolist()):
            band_index.setdefault((band, value), set()).add(story_of[fp.document_id])
    candidates: dict[str, set[str]] = {}
    for fp, bands in zip(new, band_hashes(np.stack([f.signature for f in new])), strict=True):
        found = set().union(*(band_index.get((band, value), set()) for band, value in enumerate(bands.tolist())))
        if found:
            candidates[fp.document_id] = found
    signatures = {fp.document_id: fp.signature for fp in stored if story_of[fp.document_id] == fp.document_id}
    return exact, candidates, signatures


def test_stored_candidates_behave_like_one_batch(batch: dict[str, Document], make_document: MakeDocument) -> None:
    unrelated = make_document("unrelated", " ".join(f"other{i}" for i in range(80)))
    first_docs = [d for name, d in batch.items() if name.startswith("00")]
    later_docs = [d for name, d in batch.items() if name.startswith("10")] + [unrelated]

    together = assign_in_one_batch(first_docs + later_docs)

    first_fps = fingerprint_documents(first_docs)
    first_assignments = assign_stories(first_fps, {}, {}, {})
    later_fps = fingerprint_documents(later_docs)
    exact, candidates, signatures = _stored_maps(first_fps, first_assignments, later_fps)
    assert candidates, "the reprint should share an LSH band with its seed"
    in_two_runs = assign_stories(later_fps, exact, candidates, signatures)

    assert [together[a.document_id] for a in in_two_runs] == in_two_runs
    assert [a.method for a in in_two_runs] == ["exact", "minhash", "new"]


def test_stored_story_without_signature_is_not_matched(make_document: MakeDocument) -> None:
    body = " ".join(f"word{i}" for i in range(60))
    (fp,) = fingerprint_documents([make_document("new", body, title="Other title")])
    (assignment,) = assign_stories([fp], {}, {"new": ["stored-story"]}, {})
    assert assignment.method == "new"


def test_empty_batch() -> None:
    assert assign_stories([], {}, {}, {}) == []


# --- signatures and bands -----------------------------------------------------------------


def test_band_hashes_are_deterministic_with_shape_n_by_bands(make_document: MakeDocument) -> None:
    docs = [make_document(f"d{i}", f"document number {i} about the talks in Astana and Tashkent") for i in range(5)]
    sigs = np.stack([fp.signature for fp in fingerprint_documents(docs)])
    first = band_hashes(sigs)
    assert first.shape == (5, BANDS) == (5, 32)
    assert first.dtype == np.int64
    assert np.array_equal(first, band_hashes(sigs.copy()))
    again = np.stack([fp.signature for fp in fingerprint_documents(docs)])
    assert np.array_equal(first, band_hashes(again))
    assert np.array_equal(band_hashes(sigs[2]), first[2:3])


def test_changing_one_signature_value_changes_exactly_its_band(make_document: MakeDocument) -> None:
    (fp,) = fingerprint_documents([make_document("d", "the foreign ministers met in Astana on Tuesday")])
    changed = fp.signature.copy()
    changed[NUM_PERM // BANDS * 5 + 1] += 1
    diff = band_hashes(fp.signature) != band_hashes(changed)
    assert diff.tolist() == [[i == 5 for i in range(BANDS)]]


def test_signature_round_trips_through_bytes(make_document: MakeDocument) -> None:
    (fp,) = fingerprint_documents([make_document("d", "the foreign ministers met in Astana on Tuesday")])
    assert fp.signature.shape == (NUM_PERM,)
    blob = fp.signature_bytes()
    assert len(blob) == 4 * NUM_PERM
    assert np.array_equal(signature_from_bytes(blob), fp.signature)


def test_shingles_are_normalized_word_trigrams() -> None:
    assert sorted(shingles("The U.N. met, the UN met")) == sorted(
        {b"the u n", b"u n met", b"n met the", b"met the un", b"the un met"}
    )
    assert shingles("Two words") == [b"two words"]
    assert shingles("") == [b""]
