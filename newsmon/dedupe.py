"""Reprint detection: exact copies by normalized-text hash, near-identical reprints by MinHash.

Each document gets a fingerprint: the hash of its normalized text and a 128-value MinHash
signature of its body's word 3-shingles (boilerplate already removed, headline left out so a
rewritten headline does not hide a reprint). Candidates come from LSH banding (32 bands of 4
rows: pairs above a Jaccard of about 0.42 collide with probability >= 0.5, above 0.5 with
>= 0.87); a candidate joins a story only if its estimated Jaccard with the story's
*canonical* document reaches the threshold, so stories cannot snowball through chains of
neighbours. The band hashes are plain integers, so the index can live in the database and a
run looks up only its new documents.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field

import numpy as np
from datasketch import MinHash

from newsmon.models import Document, StoryAssignment
from newsmon.text import words

log = logging.getLogger(__name__)

NUM_PERM = 128
BANDS = 32
ROWS = NUM_PERM // BANDS
SHINGLE_WORDS = 3
DEFAULT_THRESHOLD = 0.5
_MIX = np.array(
    [0x9E3779B97F4A7C15, 0xC2B2AE3D27D4EB4F, 0x165667B19E3779F9, 0x27D4EB2F165667C5],
    dtype=np.uint64,
)


@dataclass(frozen=True, slots=True)
class Fingerprint:
    """What dedupe knows of one document."""

    document_id: str
    text_hash: str
    signature: np.ndarray  # uint32[NUM_PERM]

    def signature_bytes(self) -> bytes:
        """The signature as it is stored (little-endian uint32)."""
        return self.signature.astype("<u4").tobytes()


def signature_from_bytes(blob: bytes) -> np.ndarray:
    """Inverse of :meth:`Fingerprint.signature_bytes`."""
    return np.frombuffer(blob, dtype="<u4").astype(np.uint32)


def shingles(text: str, size: int = SHINGLE_WORDS) -> list[bytes]:
    """Word ``size``-grams of the normalized text, as bytes; short texts give one shingle."""
    tokens = words(text)
    if len(tokens) < size:
        return [" ".join(tokens).encode("utf-8")] if tokens else [b""]
    return list({" ".join(tokens[i : i + size]).encode("utf-8") for i in range(len(tokens) - size + 1)})


def fingerprint_documents(documents: Sequence[Document]) -> list[Fingerprint]:
    """Fingerprint a batch of documents (batched MinHash over each body's shingles)."""
    shingle_sets = [shingles(d.body or d.title) for d in documents]
    minhashes = MinHash.bulk(shingle_sets, num_perm=NUM_PERM)
    return [
        Fingerprint(d.id, d.text_hash, m.hashvalues.astype(np.uint32))
        for d, m in zip(documents, minhashes, strict=True)
    ]


def band_hashes(signatures: np.ndarray) -> np.ndarray:
    """Hash each band of each signature: (n, NUM_PERM) uint32 -> (n, BANDS) int64."""
    sig = np.asarray(signatures, dtype=np.uint64).reshape(-1, BANDS, ROWS)
    with np.errstate(over="ignore"):
        mixed = (sig * _MIX[:ROWS]).sum(axis=2, dtype=np.uint64)
        mixed ^= mixed >> np.uint64(31)
    return mixed.view(np.int64)


def similarity(a: np.ndarray, b: np.ndarray) -> float:
    """Estimated Jaccard similarity of two signatures (share of equal values)."""
    return float(np.count_nonzero(a == b)) / NUM_PERM


@dataclass(slots=True)
class _BatchIndex:
    """Stories started within the current batch, for matching later items of the batch."""

    by_hash: dict[str, str] = field(default_factory=dict)
    by_band: dict[tuple[int, int], set[str]] = field(default_factory=dict)

    def add(self, story_id: str, fp: Fingerprint, bands: np.ndarray) -> None:
        self.by_hash.setdefault(fp.text_hash, story_id)
        for band, value in enumerate(bands.tolist()):
            self.by_band.setdefault((band, value), set()).add(story_id)

    def candidates(self, bands: np.ndarray) -> set[str]:
        found: set[str] = set()
        for band, value in enumerate(bands.tolist()):
            found |= self.by_band.get((band, value), set())
        return found


def assign_stories(
    fingerprints: Sequence[Fingerprint],
    exact_stories: Mapping[str, str],
    candidate_stories: Mapping[str, Iterable[str]],
    story_signatures: Mapping[str, np.ndarray],
    threshold: float = DEFAULT_THRESHOLD,
) -> list[StoryAssignment]:
    """Put each new document into an existing story, a story of this batch, or a new one.

    ``fingerprints`` must be in first-seen order (earliest first): the first document of a
    new story is its canonical. ``exact_stories`` maps stored text hashes to their story,
    ``candidate_stories`` maps a new document to stored stories sharing an LSH band with it,
    and ``story_signatures`` gives each of those stories' canonical signature.
    """
    index = _BatchIndex()
    signatures = dict(story_signatures)
    if not fingerprints:
        return []
    all_bands = band_hashes(np.stack([fp.signature for fp in fingerprints]))
    out: list[StoryAssignment] = []
    for fp, bands in zip(fingerprints, all_bands, strict=True):
        story = exact_stories.get(fp.text_hash) or index.by_hash.get(fp.text_hash)
        if story is not None:
            out.append(StoryAssignment(fp.document_id, story, 1.0, "exact"))
            continue
        best_story, best_sim = None, 0.0
        stories = set(candidate_stories.get(fp.document_id, ())) | index.candidates(bands)
        for story_id in sorted(stories):
            sig = signatures.get(story_id)
            sim = similarity(fp.signature, sig) if sig is not None else 0.0
            if sim > best_sim:
                best_story, best_sim = story_id, sim
        if best_story is not None and best_sim >= threshold:
            out.append(StoryAssignment(fp.document_id, best_story, best_sim, "minhash"))
            continue
        out.append(StoryAssignment(fp.document_id, fp.document_id, 1.0, "new"))
        signatures[fp.document_id] = fp.signature
        index.add(fp.document_id, fp, bands)
    return out
