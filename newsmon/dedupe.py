"""Reprint detection: group each document with the story whose canonical it reprints.

A document is compared only with story *canonicals* (the first document of each story), so
stories never grow through chains of neighbours. Three kinds of documents:

* ``full``: an article or file body of at least :data:`MIN_BODY_WORDS` words. Exact copies
  share the hash of the normalized body (headline removed from its start, where trafilatura
  puts the ``<h1>``). Near copies are found with LSH over two one-permutation MinHash
  signatures of character 7-grams (of the text's :func:`ocr_skeleton`, so that misread
  letters and split words still leave shared shingles), one of the whole body and one of its first
  :data:`LEAD_WORDS` words (a truncated reprint keeps the lead), and then *verified* by a
  noise-tolerant word alignment with the canonical (:func:`compare_texts`). A candidate
  joins when the alignment shows a truncation (the copy is mostly the canonical's opening,
  and covers at least :data:`TRUNCATION_DENSITY` of the part it spans: a few sentences
  taken from all over a long text, a speech given again elsewhere, are another text),
  added text (the canonical is mostly inside the copy, at most :data:`MAX_ADDED_RATIO` times
  longer), or an edited copy (both directions covered), and the names and numbers in the
  aligned passages agree: template siblings (two disaster declarations, two drawdown
  memoranda) differ exactly there, while OCR noise is recognised as near-miss spellings and
  tolerated in proportion to the noise measured.
* ``short``: a feed summary, or a body under :data:`MIN_BODY_WORDS` words. Feed summaries
  are often boilerplate (newsletter prompts, photo captions, video channel blurbs), so a
  short item never joins on its body: it needs the same normalized headline (at least
  :data:`MIN_HEADLINE_WORDS` words) from another source within :data:`SHORT_WINDOW`, or, from
  the same source, the same headline with a near-identical summary (a same-source repeat
  with another summary is a recurring column, not a reprint). A short *whole* text (a file or
  an extracted page under :data:`MIN_BODY_WORDS` words, not a feed summary) is all there is of
  it: against another whole text it joins only when the bodies agree as well (equal, or a
  reprint by :func:`is_reprint`), so two nomination lists under one stock headline stay apart.
* ``boilerplate``: the body is a paywall, cookie wall, bot check or error page, in any
  language, or a page without running prose (:func:`newsmon.pagekinds.junk_kind`). It starts
  a story of its own and is never indexed, so nothing ever joins it and it joins nothing.

A document joins a story only within :data:`WINDOW` of the canonical's time (published,
else first seen): recurring templated releases weeks apart are not reprints of each other.
The band hashes and keys are plain integers, so the index lives in the database and a run
looks up only its new documents.
"""

from __future__ import annotations

import bisect
import difflib
import functools
import hashlib
import itertools
import logging
import re
import unicodedata
from collections import defaultdict
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta

import numpy as np

from newsmon.models import (
    MAX_CANDIDATES,
    WINDOW,
    DedupeKeys,
    Document,
    StoryAssignment,
    StoryKey,
)
from newsmon.pagekinds import JUNK_KINDS, junk_kind
from newsmon.text import APOSTROPHE_FOLD, INVISIBLE_FOLD, YO_FOLD, replace_chars

log = logging.getLogger(__name__)

# -- parameters (chosen by measurement, see benchmarks/dedupe.py) ---------------------------
SHINGLE_CHARS = 7
BINS = 128  # one-permutation MinHash bins per signature
SIGNATURE_SIZE = 2 * BINS  # whole body, then lead
ROWS = 3
BANDS_PER_SIGNATURE = BINS // ROWS  # 42 (126 of the 128 bins)
BANDS = 2 * BANDS_PER_SIGNATURE
LEAD_WORDS = 120
MIN_BODY_WORDS = 30
MIN_HEADLINE_WORDS = 4
SHORT_WINDOW = timedelta(hours=72)
DEFAULT_THRESHOLD = 0.5  # least share of each text found in the other, for an edited copy
HIGH_SHARE = 0.75  # share that makes a truncation or an added-text copy
MEAN_SHARE = 0.65  # mean share of an edited copy
MAX_ADDED_RATIO = 4.0
PREFIX_TOKENS = 20
SLOT_TOKENS = 8
GAP_TOKENS = 200
CONFLICT_RATE = 0.02
NOISE_RATE = 0.01
HEAVY_NOISE_RATE = 0.05  # a copy this noisy (one-edit corrections) is also tried with two-edit ones
NOISY_PREFIX_RELIEF = 0.1  # a noisy truncation may show this much less containment (half its noise)
STRONG_NAME_CHARS = 4  # a conflicting name this long that nothing resembles is never noise
RESEMBLANCE = 0.6  # least share of the shorter OCR skeleton found in order in the other: reads like it
TRUNCATION_DENSITY = 0.3  # a truncation covers at least this share of the canonical's part it spans
TWO_EDIT_CHARS = 6  # words this long are also corrected two edits apart, for very noisy copies
SHORT_SAME_SOURCE_SHARE = 0.8
SAME_SOURCE_REPOST = timedelta(hours=12)

_WORD = re.compile(r"\w+", re.UNICODE)
_U64 = np.uint64
_EMPTY = np.iinfo(np.uint64).max
_MASK57 = _U64((1 << 57) - 1)
_LEAD_SEED = 0x5851F42D4C957F2D
_BAND_MIX = np.array([0x9E3779B97F4A7C15, 0xC2B2AE3D27D4EB4F, 0x165667B19E3779F9, 0x27D4EB2F165667C5], dtype=np.uint64)
_STOPWORD_TEXT = (
    "a an the and or but if of to in on at by for with from as is are was were be been being it its this that"
    " these those he she they we you i his her their our your my me him them us not no yes do does did has"
    " have had will would can could should may might must shall than then there here when where which who"
    " whom whose what why how all any each some such more most other into over under after before about"
    " against between through during without within also just only very so too up down out off again"
    " further once mr mrs ms dr"
)
_STOPWORDS = frozenset(_STOPWORD_TEXT.split())


def _splitmix(x: np.ndarray) -> np.ndarray:
    """A fixed 64-bit finalizer (stable across versions: the index stores its output)."""
    x = np.asarray(x, dtype=np.uint64).copy()
    with np.errstate(over="ignore"):
        x ^= x >> _U64(30)
        x *= _U64(0xBF58476D1CE4E5B9)
        x ^= x >> _U64(27)
        x *= _U64(0x94D049BB133111EB)
        x ^= x >> _U64(31)
    return x


_PROBES = _splitmix(np.arange(1, 64 * BINS + 1, dtype=np.uint64)).reshape(64, BINS) % _U64(BINS)


def key64(text: str) -> int:
    """A stable signed 64-bit key of a string (how ids and hashes are stored as BIGINT)."""
    return int.from_bytes(hashlib.blake2b(text.encode("utf-8"), digest_size=8).digest(), "little", signed=True)


# -- text preparation ----------------------------------------------------------------------


@dataclass(slots=True)
class PreparedText:
    """A body as dedupe compares it: word tokens (cased and folded), headline removed."""

    cased: list[str]
    tokens: list[str]
    _vocab: frozenset[str] | None = field(default=None, repr=False)
    _deletions: dict[str, str] | None = field(default=None, repr=False)
    _deletions2: dict[str, str] | None = field(default=None, repr=False)
    _salient: np.ndarray | None = field(default=None, repr=False)
    _trigrams: tuple[np.ndarray, np.ndarray] | None = field(default=None, repr=False)
    _bands: np.ndarray | None = field(default=None, repr=False)

    @property
    def vocab(self) -> frozenset[str]:
        """The distinct folded tokens."""
        if self._vocab is None:
            self._vocab = frozenset(self.tokens)
        return self._vocab

    @property
    def deletions(self) -> dict[str, str]:
        """Each token of 4+ letters and its one-letter deletions, mapped to the token.

        A token maps to itself; a deletion two tokens share ("would", "could": "ould") maps to
        the one that comes first in the text. Never in set order: that changes with the
        process's string hash seed, and with it which near miss a noisy copy is corrected to."""
        if self._deletions is None:
            words = [t for t in dict.fromkeys(self.tokens) if len(t) >= 4 and not t.isdigit()]
            index = dict(zip(words, words, strict=True))
            for token in words:
                for variant in _deletions(token):
                    index.setdefault(variant, token)
            self._deletions = index
        return self._deletions

    @property
    def deletions2(self) -> dict[str, str]:
        """Each token of :data:`TWO_EDIT_CHARS`+ letters under its two-letter deletions (the
        first token in text order wins a shared one), for copies too noisy for one edit."""
        if self._deletions2 is None:
            index: dict[str, str] = {}
            for token in dict.fromkeys(self.tokens):
                if len(token) >= TWO_EDIT_CHARS and not token.isdigit():
                    for once in _deletions(token):
                        for twice in _deletions(once):
                            index.setdefault(twice, token)
            self._deletions2 = index
        return self._deletions2

    def salient_before(self, position: int) -> int:
        """How many names and numbers (:func:`is_salient`) the text has before ``position``."""
        if self._salient is None:
            self._salient = np.concatenate([[0], np.cumsum([is_salient(t) for t in self.cased])]).astype(np.int64)
        return int(self._salient[min(position, len(self.cased))])

    @property
    def ranked_trigrams(self) -> tuple[np.ndarray, np.ndarray]:
        """:func:`_ranked_trigrams` of the tokens, computed once (a canonical meets many documents)."""
        if self._trigrams is None:
            self._trigrams = _ranked_trigrams(self.tokens)
        return self._trigrams

    @property
    def bands(self) -> np.ndarray:
        """The LSH band hashes of the text as a full text (what the index holds for a full
        canonical), computed once."""
        if self._bands is None:
            self._bands = band_hashes(_signatures([self]))[0]
        return self._bands


# Marks that never break a word are dropped (a soft hyphen: "Sank&shy;tio&shy;nen" is one word),
# and the modifier letters that stand for an apostrophe break it as ’ does ("Вʼячеслав" is
# "В’ячеслав", "Oʻzbekiston" is "O’zbekiston"), and Russian ё is е, which most outlets print
# ("Мирзиёев" is "Мирзиеев"): one spelling or the other, the same tokens.
_TOKEN_FOLD: dict[int, str | None] = {**INVISIBLE_FOLD, **APOSTROPHE_FOLD, **YO_FOLD}


def cased_tokens(text: str) -> list[str]:
    """Word tokens of ``text`` in their original case (NFKC-normalized; see :data:`_TOKEN_FOLD`)."""
    if not text.isascii():
        text = replace_chars(text, _TOKEN_FOLD)
    return _WORD.findall(unicodedata.normalize("NFKC", text))


def headline_tokens(title: str) -> list[str]:
    """The folded word tokens of a headline."""
    return [t.casefold() for t in cased_tokens(title)]


def prepare_text(title: str, body: str, head: Sequence[str] | None = None) -> PreparedText:
    """Tokenize a body, dropping a copy of the headline from its first lines (``head``: the
    headline's tokens, if the caller has them)."""
    cased = cased_tokens(_strip_headline(list(head) if head is not None else headline_tokens(title), body))
    return PreparedText(cased, [t.casefold() for t in cased])


def _strip_headline(head: list[str], body: str) -> str:
    """Remove the headline where extraction put it on the body's first lines (once or twice)."""
    if not head:
        return body
    lines = body.split("\n", 8)
    first = [i for i, line in enumerate(lines[:8]) if line.strip()][:3]
    longest = 2 * sum(len(w) + 1 for w in head) + 20  # a longer line cannot be the headline, even noisy
    drop = {
        i
        for i in first
        if len(lines[i]) <= longest and (words := headline_tokens(lines[i])) and _same_headline(words, head)
    }
    return "\n".join(line for i, line in enumerate(lines) if i not in drop) if drop else body


def _same_headline(line: list[str], head: list[str]) -> bool:
    """A line is the headline if it is (nearly) the same words, allowing a noisy copy."""
    if line == head:
        return True
    if len(line) > 1.3 * len(head) + 2 or len(head) < 3:
        return False
    in_head, in_line = set(head), set(line)
    return sum(w in in_head for w in line) >= 0.8 * len(line) and sum(w in in_line for w in head) >= 0.8 * len(head)


def _deletions(token: str) -> Iterable[str]:
    return (token[:i] + token[i + 1 :] for i in range(len(token)))


@functools.lru_cache(maxsize=1 << 16)
def is_salient(token: str) -> bool:
    """Names and numbers: a token with a digit, or a capitalized word that is not a stop word."""
    if token.isalpha():
        return len(token) > 1 and token[0].isupper() and token.casefold() not in _STOPWORDS
    return any(ch.isdigit() for ch in token)


# -- signatures and bands --------------------------------------------------------------------


# Letters and digits that scanning and OCR confuse, read as one (the classes of common OCR
# confusion tables): shingles of this skeleton survive a misread letter that plain ones do not.
_OCR_PAIRS = (("rn", "m"), ("cl", "d"), ("vv", "w"))
_OCR_FOLD = str.maketrans(
    {"1": "l", "i": "l", "j": "l", "0": "o", "c": "e", "u": "n", "b": "h", "8": "h",
     "f": "t", "q": "g", "5": "s", "y": "v"}
)  # fmt: skip


def _folded(tokens: Sequence[str]) -> str:
    """The tokens run together, OCR-confusable letters and digits folded (doubles kept)."""
    text = "".join(tokens)
    for pair, single in _OCR_PAIRS:
        text = text.replace(pair, single)
    return text.translate(_OCR_FOLD)


def _skeleton_codes(tokens: Sequence[str]) -> np.ndarray:
    """The code points of :func:`ocr_skeleton`, computed on arrays (a regular expression that
    squeezes doubled letters costs more than the rest of the shingling)."""
    codes = np.frombuffer(_folded(tokens).encode("utf-32-le"), dtype=np.uint32)
    if codes.size > 1:
        codes = codes[np.r_[True, codes[1:] != codes[:-1]]]
    return codes


def ocr_skeleton(tokens: Sequence[str]) -> str:
    """The text LSH shingles: folded tokens run together (a word split or joined by a scan is the
    same), OCR-confusable letters and digits folded to one (``rn`` and ``m``, ``1``, ``l`` and
    ``i``, ``0`` and ``o``, ``c`` and ``e``...) and doubled letters single. Only candidate
    generation reads it: verification aligns the words themselves."""
    return _skeleton_codes(tokens).tobytes().decode("utf-32-le")


def char_shingles(tokens: Sequence[str], size: int = SHINGLE_CHARS) -> np.ndarray:
    """64-bit hashes of the character ``size``-grams of the tokens' :func:`ocr_skeleton` (repeats
    kept: MinHash takes minima, so a repeated shingle changes nothing)."""
    codes = _skeleton_codes(tokens).astype(np.uint64)
    if codes.size < size:
        codes = np.pad(codes, (0, size - codes.size))
    n = codes.size - size + 1
    acc = np.zeros(n, dtype=np.uint64)
    with np.errstate(over="ignore"):
        for k in range(size):
            acc = acc * _U64(1000003) + codes[k : k + n]
    return _splitmix(acc)


def oph_signatures(shingle_sets: Sequence[np.ndarray], seed: int = 0) -> np.ndarray:
    """One-permutation MinHash (with optimal densification) of each set: (n, BINS) uint32.

    Each shingle hash falls into one of :data:`BINS` bins by its top bits and the bin keeps
    the least remaining value; an empty bin borrows from the bins a fixed probe sequence
    names. Two sets agree on a bin with probability close to their Jaccard similarity, as
    with k-permutation MinHash, at one hash per shingle instead of :data:`BINS`.
    """
    n = len(shingle_sets)
    flat = np.full(n * BINS, _EMPTY, dtype=np.uint64)
    if n:
        lengths = np.array([s.size for s in shingle_sets])
        hashes = _splitmix(np.concatenate(shingle_sets) ^ _U64(seed)) if lengths.sum() else np.zeros(0, np.uint64)
        rows = np.repeat(np.arange(n, dtype=np.int64), lengths) * BINS
        bins = (hashes >> _U64(57)).astype(np.int64)
        np.minimum.at(flat, rows + bins, hashes & _MASK57)
    sig = flat.reshape(n, BINS)
    filled = sig.copy()
    for probe in _PROBES:
        empty = filled == _EMPTY
        if not empty.any():
            break
        borrowed = sig[:, probe]
        filled = np.where(empty & (borrowed != _EMPTY), borrowed, filled)
    filled[filled == _EMPTY] = 0
    return (filled >> _U64(25)).astype(np.uint32)


def band_hashes(signatures: np.ndarray) -> np.ndarray:
    """Hash each band of each signature, band number included: (n, SIGNATURE_SIZE) -> (n, BANDS) int64."""
    halves = np.asarray(signatures, dtype=np.uint64).reshape(-1, 2, BINS)[:, :, : BANDS_PER_SIGNATURE * ROWS]
    sig = halves.reshape(-1, BANDS, ROWS)
    with np.errstate(over="ignore"):
        mixed = (sig * _BAND_MIX[:ROWS]).sum(axis=2, dtype=np.uint64)
        mixed += np.arange(BANDS, dtype=np.uint64) * _U64(0xD6E8FEB86659FD93)
    return _splitmix(mixed).view(np.int64)


def signature_from_bytes(blob: bytes) -> np.ndarray:
    """Inverse of :meth:`Fingerprint.signature_bytes`."""
    return np.frombuffer(blob, dtype="<u4").astype(np.uint32)


def signature_similarity(a: np.ndarray, b: np.ndarray) -> float:
    """Estimated Jaccard similarity of two signatures' whole-body halves."""
    return float(np.count_nonzero(a[:BINS] == b[:BINS])) / BINS


# -- fingerprints ----------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Fingerprint:
    """What dedupe knows of one document: kind, keys, signature, time and prepared text."""

    document_id: str
    text_hash: str
    signature: np.ndarray  # uint32[SIGNATURE_SIZE]
    kind: str  # full | short | boilerplate
    exact_key: int
    headline_key: int | None
    at: datetime
    source: str
    headline: tuple[str, ...]
    text: PreparedText = field(compare=False, repr=False)
    summary: bool = False  # the body is a feed summary (a teaser), not the whole text

    @property
    def day(self) -> int:
        """Days since 1970-01-01 (UTC) of the document's time: the index's window column."""
        return day_number(self.at)

    def signature_bytes(self) -> bytes:
        """The signature as it is stored (little-endian uint32)."""
        return self.signature.astype("<u4").tobytes()


@dataclass(frozen=True, slots=True)
class Canonical:
    """A story's canonical document, as candidates are verified against it."""

    story_id: str
    document_id: str
    kind: str
    at: datetime
    source: str
    headline: tuple[str, ...]
    headline_key: int | None
    text: PreparedText = field(compare=False, repr=False)
    summary: bool = False

    @classmethod
    def of(cls, story_id: str, fp: Fingerprint) -> Canonical:
        """The canonical a fingerprint becomes when it starts a story."""
        return cls(
            story_id, fp.document_id, fp.kind, fp.at, fp.source, fp.headline, fp.headline_key, fp.text, fp.summary
        )


def day_number(at: datetime) -> int:
    """Days since 1970-01-01 in UTC."""
    stamp = at if at.tzinfo else at.replace(tzinfo=UTC)
    return int(stamp.timestamp() // 86400)


def document_time(document: Document) -> datetime:
    """When a document appeared: published, else first seen (UTC-aware)."""
    at = document.published_at or document.first_seen_at
    return at if at.tzinfo else at.replace(tzinfo=UTC)


def document_kind(document: Document, words: int) -> str:
    """``boilerplate`` (a wall, an error page or a page without prose: :mod:`newsmon.pagekinds`),
    ``short`` (feed summary or few words) or ``full``.

    A page's kind was decided when it was extracted (``page_kind``; a page that is not an
    article keeps its feed summary instead), so only files and feed summaries are measured here
    (a summary by its notices only: summaries are short by nature)."""
    if document.extraction == "article":
        if document.page_kind in JUNK_KINDS or document.page_kind == "not-article":
            return "boilerplate"
    elif junk_kind(document.body, by_shape=document.extraction != "feed-summary") is not None:
        return "boilerplate"
    return _size_kind(document, words)


def _size_kind(document: Document, words: int) -> str:
    return "short" if document.extraction == "feed-summary" or words < MIN_BODY_WORDS else "full"


def _headline_key(headline: Sequence[str]) -> int | None:
    return key64(" ".join(headline)) if len(headline) >= MIN_HEADLINE_WORDS else None


def fingerprint_documents(documents: Sequence[Document]) -> list[Fingerprint]:
    """Fingerprint a batch: prepared text, kind, exact and headline keys, and the two signatures."""
    heads = [tuple(headline_tokens(d.title)) for d in documents]
    texts = [prepare_text(d.title, d.body, head) for d, head in zip(documents, heads, strict=True)]
    kinds = [document_kind(d, len(t.tokens)) for d, t in zip(documents, texts, strict=True)]
    signatures = np.zeros((len(documents), SIGNATURE_SIZE), dtype=np.uint32)  # only full texts are banded
    full = [i for i, kind in enumerate(kinds) if kind == "full"]
    if full:
        signatures[full] = _signatures([texts[i] for i in full])
    out = []
    for doc, text, head, sig, kind in zip(documents, texts, heads, signatures, kinds, strict=True):
        body = " ".join(text.tokens)
        exact = key64(body) if kind == "full" else key64(" ".join(head) + "\n" + body)
        at, summary = document_time(doc), doc.extraction == "feed-summary"
        out.append(
            Fingerprint(
                doc.id, doc.text_hash, sig, kind, exact, _headline_key(head), at, doc.source, head, text, summary
            )
        )
    return out


def _signatures(texts: Sequence[PreparedText]) -> np.ndarray:
    """The two signatures of each text, whole body then lead: (n, SIGNATURE_SIZE)."""
    full_sets = [char_shingles(t.tokens) for t in texts]
    lead_sets = [char_shingles(t.tokens[:LEAD_WORDS]) for t in texts]
    return np.hstack([oph_signatures(full_sets), oph_signatures(lead_sets, _LEAD_SEED)])


def canonicals_from_documents(documents: Mapping[str, Document]) -> dict[str, Canonical]:
    """Canonicals of stored stories (story id -> its canonical document). They come from the
    reprint index, where boilerplate is never entered (and which migrations rebuild when the
    page rules change), so their pages are not measured again."""
    out = {}
    for story_id, doc in documents.items():
        head = tuple(headline_tokens(doc.title))
        text = prepare_text(doc.title, doc.body, head)
        kind = _size_kind(doc, len(text.tokens))
        summary = doc.extraction == "feed-summary"
        out[story_id] = Canonical(
            story_id, doc.id, kind, document_time(doc), doc.source, head, _headline_key(head), text, summary
        )
    return out


# -- comparison ------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Comparison:
    """How a document's text lines up with a canonical's.

    ``containment``: share of the document's tokens found in the canonical; ``coverage``:
    share of the canonical's tokens found in the document; ``start``/``end``: where the
    aligned part of the canonical starts (token) and ends (share of its length);
    ``conflicts``: names and numbers of the canonical replaced by different ones in short
    substitutions; ``salient``: names and numbers in the canonical's aligned part; ``noise``:
    share of the document's tokens matched only as near-miss spellings; ``replaced``: short
    substitutions; ``strong_conflicts``: those conflicts whose name no word across the
    substitution resembles (California for Washington), which no misreading explains.
    """

    containment: float
    coverage: float
    start: int
    end: float
    conflicts: int
    salient: int
    noise: float
    replaced: int
    length: int
    canonical_length: int
    strong_conflicts: int = 0


_NO_MATCH = Comparison(0.0, 0.0, 0, 0.0, 0, 0, 0.0, 0, 0, 0)


@dataclass(slots=True)
class _Tally:
    conflicts: int = 0
    replaced: int = 0
    strong: int = 0


def compare_texts(
    doc: PreparedText,
    canonical: PreparedText,
    correct: bool = True,
    threshold: float | None = None,
    two_edits: bool = False,
) -> Comparison:
    """Align a document with a canonical: shared word trigrams as anchors (longest increasing
    chain), gaps between anchors refined with difflib, after mapping OCR-style near-miss
    spellings of the document onto the canonical's words (unless ``correct`` is false).

    With a ``threshold``, the gaps are not refined when even matching all of them could not
    make a reprint (:func:`shares_could_pass`): the shares returned are then the anchors' only.
    """
    if correct:
        tokens, cased, corrected = _correct(doc, canonical, two_edits)
    else:
        tokens, cased, corrected = doc.tokens, doc.cased, np.zeros(0, dtype=np.int64)
    grams = doc.ranked_trigrams if tokens is doc.tokens else _ranked_trigrams(tokens)
    anchors_c, anchors_d = _anchors(canonical.ranked_trigrams, grams)
    if anchors_c.size < 2:
        return _NO_MATCH
    n_c, n_d = len(canonical.tokens), len(tokens)
    seen_c = np.zeros(n_c, dtype=bool)
    seen_d = np.zeros(n_d, dtype=bool)
    for k in range(3):
        seen_c[anchors_c + k] = True
        seen_d[anchors_d + k] = True
    starts_c, starts_d = anchors_c[:-1] + 3, anchors_d[:-1] + 3
    ends_c, ends_d = anchors_c[1:], anchors_d[1:]
    gaps = np.nonzero((ends_c > starts_c) & (ends_d > starts_d))[0]  # text on one side only: dropped or added
    tally = _Tally()
    if threshold is None or _gaps_could_pass(seen_c, seen_d, gaps, (starts_c, ends_c, starts_d, ends_d), threshold):
        for g in gaps.tolist():
            spans = (int(starts_c[g]), int(ends_c[g])), (int(starts_d[g]), int(ends_d[g]))
            _align_gap(canonical, (tokens, cased), *spans, (seen_c, seen_d), tally)
    first, last = int(anchors_c[0]), int(anchors_c[-1]) + 3
    salient = canonical.salient_before(last) - canonical.salient_before(first)
    noise = float(seen_d[corrected].sum()) / n_d if corrected.size else 0.0
    return Comparison(
        float(seen_d.mean()), float(seen_c.mean()), first, last / n_c, tally.conflicts, salient, noise,
        tally.replaced, n_d, n_c, tally.strong,
    )  # fmt: skip


def _gaps_could_pass(
    seen_c: np.ndarray,
    seen_d: np.ndarray,
    gaps: np.ndarray,
    bounds: tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray],
    threshold: float,
) -> bool:
    """Whether refining the gaps could lift the anchors' shares to a reprint's (each gap adds
    at most its shorter side's tokens to each share)."""
    starts_c, ends_c, starts_d, ends_d = bounds
    room = int(np.minimum(ends_c[gaps] - starts_c[gaps], ends_d[gaps] - starts_d[gaps]).sum())
    n_c, n_d = seen_c.size, seen_d.size
    return shares_could_pass((seen_d.sum() + room) / n_d, (seen_c.sum() + room) / n_c, n_d, n_c, threshold)


def shares_could_pass(
    containment: float, coverage: float, length: int, canonical_length: int, threshold: float
) -> bool:
    """Whether shares this high would make a reprint, names and numbers aside (the share rules
    of :func:`is_reprint`, without the truncation's start condition)."""
    containment, coverage = min(1.0, containment), min(1.0, coverage)
    high, mean = max(HIGH_SHARE, threshold), max(MEAN_SHARE, threshold)
    return (
        containment >= high - NOISY_PREFIX_RELIEF
        or (coverage >= high and length <= MAX_ADDED_RATIO * canonical_length)
        or (min(containment, coverage) >= threshold and (containment + coverage) / 2 >= mean)
    )


def _align_gap(
    canonical: PreparedText,
    doc: tuple[Sequence[str], Sequence[str]],
    span_c: tuple[int, int],
    span_d: tuple[int, int],
    seen: tuple[np.ndarray, np.ndarray],
    tally: _Tally,
) -> None:
    """Align the text between two anchors: mark equal runs, tally short substitutions.

    ``doc`` is the document's (corrected) folded and cased tokens, ``seen`` the canonical's
    and the document's matched-token masks."""
    (c0, c1), (d0, d1) = span_c, span_d
    (tokens, cased), (seen_c, seen_d) = doc, seen
    ops: Sequence[tuple[str, int, int, int, int]] = [("replace", 0, c1 - c0, 0, d1 - d0)]
    if c1 - c0 <= GAP_TOKENS and d1 - d0 <= GAP_TOKENS:
        ops = difflib.SequenceMatcher(None, canonical.tokens[c0:c1], tokens[d0:d1], autojunk=False).get_opcodes()
    for tag, i1, i2, j1, j2 in ops:
        if tag == "equal":
            seen_c[c0 + i1 : c0 + i2] = True
            seen_d[d0 + j1 : d0 + j2] = True
        elif tag == "replace" and i2 - i1 <= SLOT_TOKENS and j2 - j1 <= SLOT_TOKENS:
            tally.replaced += 1
            missing, strong = _conflicts(canonical.cased[c0 + i1 : c0 + i2], cased[d0 + j1 : d0 + j2])
            tally.conflicts += missing
            tally.strong += strong


def _correct(
    doc: PreparedText, canonical: PreparedText, two_edits: bool = False
) -> tuple[list[str], list[str], np.ndarray]:
    """Map the document's unknown tokens onto the canonical's words where they are one
    deletion apart (either way) or split in two; with ``two_edits``, words of
    :data:`TWO_EDIT_CHARS`+ letters also up to two deletions apart each way. Returns the
    folded tokens, the cased tokens as the document wrote them, and the corrected positions."""
    vocab = canonical.vocab
    toks, cased = doc.tokens, doc.cased
    if vocab.issuperset(toks):
        return toks, cased, np.zeros(0, dtype=np.int64)
    deletions = canonical.deletions
    out: list[str] = []
    out_cased: list[str] = []
    fixed: list[int] = []
    i, n = 0, len(toks)
    while i < n:
        token = toks[i]
        if token in vocab:
            out.append(token)
            out_cased.append(cased[i])
            i += 1
            continue
        if i + 1 < n and token + toks[i + 1] in vocab:
            fixed.append(len(out))
            out.append(token + toks[i + 1])
            out_cased.append(cased[i] + cased[i + 1])
            i += 2
            continue
        match = _near_miss(token, deletions)
        if match is None and two_edits:
            match = _far_miss(token, deletions, canonical.deletions2)
        if match is not None:
            fixed.append(len(out))
        out.append(match or token)
        out_cased.append(cased[i])
        i += 1
    return out, out_cased, np.array(fixed, dtype=np.int64)


def _far_miss(token: str, deletions: Mapping[str, str], deletions2: Mapping[str, str]) -> str | None:
    """A canonical word at most two deletions from the token each way (long words only)."""
    if len(token) < TWO_EDIT_CHARS - 1 or token.isdigit():
        return None
    found = deletions2.get(token)
    if found is not None:
        return found
    for once in dict.fromkeys(_deletions(token)):
        found = deletions2.get(once)
        if found is None:
            for twice in _deletions(once):
                found = deletions.get(twice) or deletions2.get(twice)
                if found is not None:
                    break
        if found is not None and len(found) >= TWO_EDIT_CHARS:
            return found
    return None


def _near_miss(token: str, deletions: Mapping[str, str]) -> str | None:
    if len(token) < 4 or token.isdigit():
        return None
    found = deletions.get(token)
    if found is not None:
        return found
    for i in range(len(token)):
        found = deletions.get(token[:i] + token[i + 1 :])
        if found is not None:
            return found
    return None


def _token_hashes(tokens: Sequence[str]) -> np.ndarray:
    """Per-process token hashes: alignments are computed and used within one process only."""
    return np.array(list(map(hash, tokens)), dtype=np.int64).view(np.uint64)


def _trigrams(tokens: Sequence[str]) -> np.ndarray:
    h = _token_hashes(tokens)
    if h.size < 3:
        return np.zeros(0, dtype=np.uint64)
    with np.errstate(over="ignore"):
        return (h[:-2] * _U64(1000003) + h[1:-1]) * _U64(1000003) + h[2:]


def _ranked_trigrams(tokens: Sequence[str]) -> tuple[np.ndarray, np.ndarray]:
    """Each trigram keyed with its occurrence number (first, second, ... of the same trigram),
    so a passage repeated inside a text still pairs up in order; keys are unique."""
    grams = _trigrams(tokens)
    order = np.lexsort((np.arange(grams.size), grams))
    ordered = grams[order]
    starts = np.r_[0, np.nonzero(ordered[1:] != ordered[:-1])[0] + 1] if ordered.size else np.zeros(0, np.int64)
    rank = np.arange(ordered.size) - np.repeat(starts, np.diff(np.r_[starts, ordered.size]))
    with np.errstate(over="ignore"):
        keys = _splitmix(ordered + rank.astype(np.uint64) * _U64(0x9E3779B97F4A7C15))
    return keys, order


def _anchors(
    canonical: tuple[np.ndarray, np.ndarray], doc: tuple[np.ndarray, np.ndarray]
) -> tuple[np.ndarray, np.ndarray]:
    """Positions (canonical, document) of trigrams shared by both (the n-th occurrence in one
    paired with the n-th in the other), reduced to their longest increasing chain."""
    keys_c, pos_c = canonical
    keys_d, pos_d = doc
    _, in_c, in_d = np.intersect1d(keys_c, keys_d, assume_unique=True, return_indices=True)
    order = np.argsort(pos_c[in_c])
    at_c, at_d = pos_c[in_c][order], pos_d[in_d][order]
    if at_d.size < 2 or bool(np.all(at_d[1:] > at_d[:-1])):
        return at_c, at_d  # already in order: the usual case
    keep = _longest_increasing(at_d.tolist())
    return at_c[keep], at_d[keep]


def _longest_increasing(values: list[int]) -> np.ndarray:
    """Indices of a longest strictly increasing subsequence (patience sorting)."""
    tails: list[int] = []
    tail_at: list[int] = []
    back = [-1] * len(values)
    for k, v in enumerate(values):
        p = bisect.bisect_left(tails, v)
        if p == len(tails):
            tails.append(v)
            tail_at.append(k)
        else:
            tails[p], tail_at[p] = v, k
        back[k] = tail_at[p - 1] if p else -1
    chain: list[int] = []
    k = tail_at[-1] if tail_at else -1
    while k >= 0:
        chain.append(k)
        k = back[k]
    return np.array(chain[::-1], dtype=np.int64)


def _conflicts(canonical_cased: Sequence[str], doc_cased: Sequence[str]) -> tuple[int, int]:
    """Names and numbers of the canonical's side of a substitution missing from the document's
    side (numbers exactly; words also as one-deletion near misses), and how many of those are
    *strong*: names of :data:`STRONG_NAME_CHARS`+ letters that nothing on the document's side
    reads like, replaced by a name that nothing on the canonical's side reads like (another
    place or person, not a misreading: :func:`_resembled`). Only a substitution by another name
    or number conflicts: a name dropped beside an inserted common word does not."""
    if not any(is_salient(t) for t in doc_cased):
        return 0, 0
    folded = [t.casefold() for t in doc_cased]
    present = set(folded)
    near: set[str] = set()
    for token in present:
        if len(token) >= 3 and not token.isdigit():
            near.update(_deletions(token))
    missing = unread = 0
    for cased in canonical_cased:
        if not is_salient(cased):
            continue
        token = cased.casefold()
        if token in present:
            continue
        is_number = any(ch.isdigit() for ch in token)
        if is_number or (token not in near and not any(v in present or v in near for v in _deletions(token))):
            missing += 1
            unread += not is_number and len(token) >= STRONG_NAME_CHARS and not _resembled(token, folded)
    if not unread:
        return missing, 0
    canonical = [t.casefold() for t in canonical_cased]
    foreign = any(
        sum(ch.isalpha() for ch in t) >= STRONG_NAME_CHARS
        and t[0].isupper()
        and not _resembled(t.casefold(), canonical)
        for t in doc_cased
    )
    return missing, unread if foreign else 0


@functools.lru_cache(maxsize=1 << 14)
def _word_skeleton(word: str) -> str:
    """One word's :func:`ocr_skeleton` (the same words are compared again across substitutions)."""
    return ocr_skeleton([word])


def _resembled(token: str, words: Sequence[str]) -> bool:
    """Whether a word, or two neighbours run together (a scan splits and joins words), reads like
    ``token``: :data:`RESEMBLANCE` of the shorter OCR skeleton found, in order, in the other."""
    skeleton = _word_skeleton(token)
    if not skeleton:
        return False
    for word in [*words, *(a + b for a, b in itertools.pairwise(words))]:
        other = _word_skeleton(word)
        if not other:
            continue
        blocks = difflib.SequenceMatcher(None, skeleton, other, autojunk=False).get_matching_blocks()
        if sum(b.size for b in blocks) >= RESEMBLANCE * min(len(skeleton), len(other)):
            return True
    return False


def is_reprint(c: Comparison, threshold: float = DEFAULT_THRESHOLD) -> bool:
    """Whether an alignment shows a reprint: truncation, added text or an edited copy, with
    names and numbers agreeing (conflicts tolerated only in proportion to measured noise)."""
    allowed = (CONFLICT_RATE + c.noise) * c.salient + (1 if c.noise >= NOISE_RATE else 0)
    if c.conflicts > allowed or c.strong_conflicts > CONFLICT_RATE * c.salient:
        return False
    high, mean = max(HIGH_SHARE, threshold), max(MEAN_SHARE, threshold)
    prefix = high - min(NOISY_PREFIX_RELIEF, c.noise / 2)  # noise hides some of a truncation's words
    # a cut copy keeps the canonical's opening whole; a short text whose sentences are spread
    # over all of a long one (a speech given again, abridged, elsewhere) is another text
    truncation = c.containment >= prefix and c.start <= PREFIX_TOKENS and c.coverage >= TRUNCATION_DENSITY * c.end
    added = c.coverage >= high and c.length <= MAX_ADDED_RATIO * c.canonical_length
    edited = min(c.containment, c.coverage) >= threshold and (c.containment + c.coverage) / 2 >= mean
    return truncation or added or edited


def differences(c: Comparison | None, headline_changed: bool) -> tuple[str, ...]:
    """What differs from the canonical: headline, truncated, added_text, edited, noisy."""
    out = ["headline"] if headline_changed else []
    if c is not None:
        if c.end < 0.9 and c.coverage < 0.9:
            out.append("truncated")
        if c.containment < 0.9:
            out.append("added_text")
        if c.replaced or (c.coverage < 0.9 and c.end >= 0.9):
            out.append("edited")
        if c.noise >= NOISE_RATE:
            out.append("noisy")
    return tuple(out)


# -- assignment ------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Match:
    """A verified match of a document with a canonical."""

    story_id: str
    canonical_document_id: str
    method: str  # exact | near | headline
    similarity: float | None  # None: a headline match with no text on one side to compare
    comparison: Comparison | None
    headline_changed: bool
    headline_similarity: float = 1.0


@dataclass(slots=True)
class _BatchIndex:
    """Stories started within the current batch, for matching later items of the batch."""

    exact: dict[int, str] = field(default_factory=dict)
    bands: dict[int, list[str]] = field(default_factory=lambda: defaultdict(list))
    headlines: dict[int, list[str]] = field(default_factory=lambda: defaultdict(list))

    def add(self, story_id: str, fp: Fingerprint, bands: np.ndarray) -> None:
        self.exact[fp.exact_key] = story_id  # the latest, as the store's lookup returns it
        if fp.headline_key is not None:
            self.headlines[fp.headline_key].append(story_id)
        if fp.kind == "full":
            for value in bands.tolist():
                self.bands[value].append(story_id)

    def candidates(self, fp: Fingerprint, bands: np.ndarray) -> dict[str, int]:
        """Stories with the same headline or sharing LSH bands, and how many bands each shares
        (what the store's lookups give for stored stories)."""
        hits: dict[str, int] = defaultdict(int)
        if fp.headline_key is not None:
            for story_id in self.headlines.get(fp.headline_key, ()):
                hits.setdefault(story_id, 0)
        if fp.kind == "full":
            for value in bands.tolist():
                for story_id in self.bands.get(value, ()):
                    hits[story_id] += 1
        return hits


def within_window(fp: Fingerprint, canonical: Canonical) -> bool:
    """Whether the two appeared close enough in time to be one story."""
    window = WINDOW if fp.kind == canonical.kind == "full" else SHORT_WINDOW
    return abs(fp.at - canonical.at) <= window


def verify(fp: Fingerprint, canonical: Canonical, threshold: float = DEFAULT_THRESHOLD) -> Match | None:
    """Whether ``fp`` reprints ``canonical``: body alignment for two full texts, the headline
    rule when either is short. Boilerplate pages never match."""
    if fp.kind == "boilerplate" or canonical.kind == "boilerplate" or not within_window(fp, canonical):
        return None
    changed = fp.headline != canonical.headline
    if fp.kind == canonical.kind == "full":
        if not _plausible(fp.text, canonical.text):
            return None
        c = _compare_full(fp.text, canonical.text, threshold)
        if not is_reprint(c, threshold):
            return None
        overlap = _jaccard(fp.headline, canonical.headline)
        return Match(canonical.story_id, canonical.document_id, "near", _similarity(c), c, changed, overlap)
    if changed or fp.headline_key is None:
        return None
    bodies = compare_texts(fp.text, canonical.text) if fp.text.tokens and canonical.text.tokens else None
    if not fp.summary and not canonical.summary and not _same_text(fp.text, canonical.text, bodies, threshold):
        return None  # two whole texts under one headline (two nomination lists): the bodies must agree
    if fp.source == canonical.source and not _repost(fp, canonical, bodies):
        return None  # the same source repeating a headline with another text: a series
    similarity = _similarity(bodies) if bodies else None
    return Match(canonical.story_id, canonical.document_id, "headline", similarity, bodies, False)


def _compare_full(doc: PreparedText, canonical: PreparedText, threshold: float) -> Comparison:
    """:func:`compare_texts`, with spelling correction only where it can matter.

    Correcting near-miss spellings is most of the cost of a comparison and matters only for
    noisy copies: the plain alignment comes first. The corrected one follows when the plain
    one passes (to measure the noise of a reprint) or when it fails but correcting every
    unknown word of the document could still make it pass; otherwise the plain one stands."""
    plain = compare_texts(doc, canonical, correct=False, threshold=threshold)
    vocab = canonical.vocab
    fixable = sum(1 for t in doc.tokens if t not in vocab and not t.isdigit())
    if not fixable:
        return plain
    passed = is_reprint(plain, threshold)
    n_d, n_c = len(doc.tokens), len(canonical.tokens)
    if not passed and not shares_could_pass(
        plain.containment + fixable / n_d, plain.coverage + fixable / n_c, n_d, n_c, threshold
    ):
        return plain
    corrected = compare_texts(doc, canonical, threshold=threshold)
    if passed and not is_reprint(corrected, threshold):
        return plain
    if passed or is_reprint(corrected, threshold) or corrected.noise < HEAVY_NOISE_RATE:
        return corrected
    # a very noisy copy: words two edits off are corrected too (only where one edit was not enough)
    heavy = compare_texts(doc, canonical, threshold=threshold, two_edits=True)
    return heavy if is_reprint(heavy, threshold) else corrected


def _plausible(doc: PreparedText, canonical: PreparedText) -> bool:
    """Cheap filter before alignment: enough shared vocabulary for either containment."""
    shared = len(doc.vocab & canonical.vocab)
    return shared >= 0.3 * min(len(doc.vocab), len(canonical.vocab))


def _same_text(doc: PreparedText, canonical: PreparedText, c: Comparison | None, threshold: float) -> bool:
    """Whether two whole texts (neither a feed summary) are one text: equal, or a reprint by the
    alignment full texts are verified with (a cut, added-text or edited copy)."""
    return doc.tokens == canonical.tokens or (c is not None and is_reprint(c, threshold))


def _repost(fp: Fingerprint, canonical: Canonical, c: Comparison | None) -> bool:
    """A source's second item under one headline is the same story when it comes within hours
    (an update under a new link) or with the same summary; otherwise it is a recurring column."""
    return abs(fp.at - canonical.at) <= SAME_SOURCE_REPOST or _same_summary(fp.text, canonical.text, c)


def _same_summary(doc: PreparedText, canonical: PreparedText, c: Comparison | None) -> bool:
    """Whether a source's two summaries under one headline, a day or more apart, say the same:
    equal, or nearly so with the same numbers and no name of one swapped for another (a daily
    roundup's template, "Almirall, Fisher & Paykel and more featured in the latest Market
    Talks…", names other companies each day)."""
    if not doc.tokens or not canonical.tokens:
        return not doc.tokens and not canonical.tokens
    if doc.tokens == canonical.tokens:
        return True
    return (
        c is not None
        and min(c.containment, c.coverage) >= SHORT_SAME_SOURCE_SHARE
        and c.conflicts == 0
        and [t for t in doc.tokens if t.isdigit()] == [t for t in canonical.tokens if t.isdigit()]
        and not _names_swapped(doc, canonical)
    )


def _names_swapped(doc: PreparedText, canonical: PreparedText) -> bool:
    """Whether each text has a capitalised word (a name) that the other lacks."""
    names = [{w.casefold() for w in text.cased if w[:1].isupper()} for text in (doc, canonical)]
    return bool(names[0] - names[1]) and bool(names[1] - names[0])


def _similarity(c: Comparison) -> float:
    """Mean of the two shares: 1.0 for a copy, about 0.7 for a copy cut in half."""
    return round((c.containment + c.coverage) / 2, 4)


def assign_stories(
    fingerprints: Sequence[Fingerprint],
    exact_stories: Mapping[int, str],
    candidate_stories: Mapping[str, Iterable[str] | Mapping[str, int]],
    canonicals: Mapping[str, Canonical],
    threshold: float = DEFAULT_THRESHOLD,
) -> list[StoryAssignment]:
    """Put each new document into an existing story, a story of this batch, or a new one.

    ``fingerprints`` must be in first-seen order (earliest first): the first document of a
    new story is its canonical. ``exact_stories`` maps stored exact keys to
    their (latest) story, ``candidate_stories`` maps a new document to the stored stories that
    share its headline or LSH bands (story id -> bands shared, as :func:`merge_candidates`
    gives them), and ``canonicals`` gives each of those stories' canonical. Stored candidates
    and this batch's are ranked together (:func:`_ranked`) and verified against the canonical
    only, best match wins: the outcome does not depend on which stories were stored before.
    """
    if not fingerprints:
        return []
    index = _BatchIndex()
    known = dict(canonicals)
    all_bands = band_hashes(np.stack([fp.signature for fp in fingerprints]))
    out: list[StoryAssignment] = []
    for fp, bands in zip(fingerprints, all_bands, strict=True):
        match = (
            None
            if fp.kind == "boilerplate"
            else _best_match(fp, bands, exact_stories, candidate_stories, known, index, threshold)
        )
        if match is None:
            out.append(StoryAssignment(fp.document_id, fp.document_id, 1.0, "new", fp.document_id, kind=fp.kind))
            if fp.kind != "boilerplate":
                known[fp.document_id] = Canonical.of(fp.document_id, fp)
                index.add(fp.document_id, fp, bands)
            continue
        c = match.comparison
        out.append(
            StoryAssignment(
                fp.document_id,
                match.story_id,
                match.similarity,
                match.method,
                match.canonical_document_id,
                containment=round(c.containment, 4) if c else None,
                coverage=round(c.coverage, 4) if c else None,
                differences=differences(c if match.method != "exact" else None, match.headline_changed),
                kind=fp.kind,
            )
        )
    return out


def _best_match(
    fp: Fingerprint,
    bands: np.ndarray,
    exact_stories: Mapping[int, str],
    candidate_stories: Mapping[str, Iterable[str] | Mapping[str, int]],
    known: Mapping[str, Canonical],
    index: _BatchIndex,
    threshold: float,
) -> Match | None:
    # the latest story with this exact key: this batch's stories come after the stored ones
    exact = index.exact.get(fp.exact_key) or exact_stories.get(fp.exact_key)
    if exact == fp.document_id:
        exact = None  # a stored canonical processed again starts its own story afresh
    if exact is not None and exact in known and within_window(fp, known[exact]):
        canonical = known[exact]
        return Match(exact, canonical.document_id, "exact", 1.0, None, fp.headline != canonical.headline)
    if exact is not None and exact not in known:  # stored story not loaded: trust the exact key
        return Match(exact, exact, "exact", 1.0, None, False)
    best: Match | None = None
    for story_id in _ranked(fp, bands, candidate_stories.get(fp.document_id, {}), index, known):
        match = verify(fp, known[story_id], threshold)
        if match is not None and (best is None or _rank(match) > _rank(best)):
            best = match
    return best


def _rank(match: Match) -> tuple[float, float, float]:
    """Prefer the canonical that explains most of the document (its own original does, a
    template sibling or a shorter related text does not), less its conflicting names and
    numbers; on a tie (a truncated copy of a template's shared opening), the closer headline."""
    c = match.comparison
    if c is None:
        return (0.0, match.headline_similarity, match.similarity or 0.0)
    return (round(c.containment - c.conflicts / max(1, c.length), 2), match.headline_similarity, c.coverage)


def _jaccard(a: Sequence[str], b: Sequence[str]) -> float:
    sa, sb = set(a), set(b)
    return len(sa & sb) / len(sa | sb) if sa | sb else 1.0


def _ranked(
    fp: Fingerprint,
    bands: np.ndarray,
    stored: Iterable[str] | Mapping[str, int],
    index: _BatchIndex,
    known: Mapping[str, Canonical],
) -> list[str]:
    """The candidates to verify, in order (the first of equally good matches wins), at most
    :data:`MAX_CANDIDATES`: stories with the same headline within the join window first, then
    stories sharing LSH bands within the index's day window; most bands shared first, ties by
    story id.

    Stored candidates (``stored``: story id -> bands shared, as the store's lookups give them:
    every story with the same headline, the stories sharing most bands cut to the same number)
    and this batch's are ranked together by that one rule, so the choice does not depend on
    where the batch boundaries fell (batch size, a resumed run)."""
    hits = dict(stored) if isinstance(stored, Mapping) else dict.fromkeys(stored, 0)
    local = index.candidates(fp, bands)
    hits.update(local)
    score: dict[str, int] = {}
    for story_id, n in hits.items():
        canonical = known.get(story_id)
        if canonical is None or story_id == fp.document_id:
            continue
        if fp.headline_key is not None and canonical.headline_key == fp.headline_key and within_window(fp, canonical):
            if not n and story_id not in local and fp.kind == canonical.kind == "full":
                n = int(np.isin(bands, canonical.text.bands).sum())  # beyond the store's band candidates
            score[story_id] = BANDS + n
        elif n > 0 and abs(day_number(canonical.at) - fp.day) <= WINDOW.days + 1:
            score[story_id] = n
    return sorted(score, key=lambda s: (-score[s], s))[:MAX_CANDIDATES]


def merge_candidates(*maps: Mapping[str, Iterable[str] | Mapping[str, int]]) -> dict[str, dict[str, int]]:
    """Candidates per document, in the order of the maps given, without repeats: story id ->
    LSH bands shared (from a map of bands shared, such as the store's band lookup; else 0)."""
    out: dict[str, dict[str, int]] = {}
    for candidates in maps:
        for doc_id, story_ids in candidates.items():
            merged = out.setdefault(doc_id, {})
            shared = story_ids if isinstance(story_ids, Mapping) else {}
            for story_id in story_ids:
                merged[story_id] = max(merged.get(story_id, 0), shared.get(story_id, 0))
    return out


# -- what the reprint index stores ------------------------------------------------------------


def dedupe_keys(fingerprints: Sequence[Fingerprint]) -> list[DedupeKeys]:
    """The index keys of each fingerprint, band hashes computed for all full texts at once."""
    full = [i for i, f in enumerate(fingerprints) if f.kind == "full"]
    hashes = band_hashes(np.stack([fingerprints[i].signature for i in full])) if full else None
    bands: dict[int, np.ndarray] = {i: hashes[n] for n, i in enumerate(full)} if hashes is not None else {}
    return [
        DedupeKeys(
            f.document_id,
            f.kind,
            f.day,
            f.exact_key,
            f.headline_key,
            bands.get(i),
            f.signature_bytes() if f.kind == "full" else None,
        )
        for i, f in enumerate(fingerprints)
    ]


def story_keys(keys: Sequence[DedupeKeys], story_ids: Sequence[str]) -> list[StoryKey]:
    """Index entries of stories whose canonicals have these keys (wall pages are never indexed)."""
    return [StoryKey(s, key64(s), k) for k, s in zip(keys, story_ids, strict=True) if k.kind != "boilerplate"]


def new_story_keys(keys: Sequence[DedupeKeys], assignments: Sequence[StoryAssignment]) -> list[StoryKey]:
    """Index entries of the stories a batch starts (its documents assigned as ``new``)."""
    by_id = {k.document_id: k for k in keys}
    starts = [a for a in assignments if a.method == "new" and a.kind != "boilerplate" and a.document_id in by_id]
    return story_keys([by_id[a.document_id] for a in starts], [a.story_id for a in starts])
