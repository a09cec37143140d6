"""Reviews of a topic's tags by a reader: how precise and how complete a topic is on *your* news.

A review is a seeded sample of the stored documents in three strata:

* ``tagged``: documents the topic's version under review tags;
* ``near``: untagged documents holding a word of the topic's query (where its misses hide);
* ``rest``: every other document.

The reader sees the sampled documents in shuffled order, without their stratum or tags, and
labels each one ``yes``, ``no`` or ``unsure`` for the topic. Each judged document then stands for
its stratum's share of the store (``population / judged in the stratum``), so precision and
recall are estimates for the whole store, not for the sample. An ``unsure`` document stands for
its share and counts neither way. Any topic definition can be scored on the same labels: a
changed one is run on the stored documents, and each stratum is split into the part it tags
and the part it does not, each weighted by its own judged documents.
"""

from __future__ import annotations

import csv
import io
import logging
import os
import random
from collections import Counter
from collections.abc import Collection, Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

import numpy as np

from newsmon.errors import InputError, OutputError
from newsmon.models import Document, Review, ReviewItem, Stratum
from newsmon.results import escape_cell
from newsmon.text import decode_utf16_without_bom, sha256_hex
from newsmon.topics import Prepared, Topic

log = logging.getLogger(__name__)

STRATA = ("tagged", "near", "rest")
LABELS = ("yes", "no", "unsure")  # a reader's labels, in the order they are counted
_LABEL_SPELLINGS = {
    "yes": "yes", "y": "yes", "1": "yes", "true": "yes",
    "no": "no", "n": "no", "0": "no", "false": "no",
    "unsure": "unsure", "?": "unsure", "u": "unsure", "ambiguous": "unsure",
}  # fmt: skip
DEFAULT_SIZES = {"tagged": 50, "near": 30, "rest": 20}  # documents drawn per stratum by default
POSTERIOR_DRAWS = 4000  # draws of the store's figures behind each interval
# Pseudo-documents added on yes and on no to what a part's readers judged, before its unread
# documents are drawn: Jeffreys (0.5) in the tagged stratum and where the definition tags, a
# quarter elsewhere (positives are rare there, and half a document on yes in a large unread
# part invents many misses). Chosen on simulated reviews for the best worst-case coverage of
# the 95 % intervals (a tenth covered worse, half too): see benchmarks.accuracy.review.
PRIOR_TAGGED = 0.5
PRIOR = 0.25
POSTERIOR_SEED = 20261207  # fixed: the same labels always give the same interval
SHEET_COLUMNS = ("review", "position", "document_id", "label", "note", "title", "source", "published", "url", "text")
EXCERPT_CHARS = 2000  # of the body, shown to the reader


@dataclass(frozen=True, slots=True)
class Judgement:
    """A drawn document with the reader's label (None: not judged yet) and whether the
    definition being scored tags it."""

    document_id: str
    stratum: str
    label: str | None
    predicted: bool


@dataclass(frozen=True, slots=True)
class Estimate:
    """A proportion estimated for the whole store, with a 95 % interval (None: nothing to estimate)."""

    value: float | None
    low: float | None = None
    high: float | None = None


@dataclass(frozen=True, slots=True)
class ReviewScore:
    """A definition's figures on a review's labels, weighted back to the store."""

    clear: int  # labelled yes or no
    unsure: int
    left: int  # drawn, not labelled yet
    true_positives: int  # judged documents (not weighted)
    false_positives: int
    misses: int
    precision: Estimate
    recall: Estimate
    f1: Estimate
    positives: float  # estimated documents of the store about the topic
    unread: tuple[str, ...] = ()  # parts of the store ("near", "near, tagged", …) of which no document is judged

    @property
    def labelled(self) -> int:
        """Documents with a label, unsure ones included."""
        return self.clear + self.unsure


def find_stratum(document: Document, topic: Topic, tagged: bool) -> str:
    """The stratum of a stored document for ``topic``: tagged, near (a query word, untagged) or rest."""
    if tagged:
        return "tagged"
    prepared = Prepared.of(document)  # the texts the tagger reads, normalized the same way
    return "near" if topic.may_match(prepared.title) or topic.may_match(prepared.body) else "rest"


def sort_strata(batches: Iterable[Sequence[Document]], topic: Topic, tagged: Collection[str]) -> dict[str, list[str]]:
    """The ids of the stored documents in each stratum, given the ids the version under review tags."""
    members: dict[str, list[str]] = {name: [] for name in STRATA}
    for batch in batches:
        for document in batch:
            members[find_stratum(document, topic, document.id in tagged)].append(document.id)
    return members


def make_review_id(topic: str, now: datetime, seed: int) -> str:
    """A review's id: the topic, the day it was drawn and a short hash of the time and seed."""
    return f"rv-{topic}-{now:%Y%m%d}-{sha256_hex(f'{now.isoformat()}/{seed}')[:6]}"


def draw_review(
    members: Mapping[str, Sequence[str]], sizes: Mapping[str, int], seed: int
) -> tuple[list[Stratum], list[ReviewItem]]:
    """Draw up to ``sizes[s]`` documents of each stratum's ``members`` (all of them when it holds
    fewer), seeded, and shuffle them together so the order tells the reader nothing.

    The same members, sizes and seed always draw the same documents in the same order,
    whatever order ``members`` lists them in.
    """
    rng = random.Random(seed)
    strata: list[Stratum] = []
    drawn: list[tuple[str, str]] = []
    for name in STRATA:
        ids = sorted(set(members.get(name, ())))
        take = min(max(0, sizes.get(name, 0)), len(ids))
        picked = sorted(rng.sample(ids, take))
        strata.append(Stratum(name, len(ids), take))
        drawn.extend((doc_id, name) for doc_id in picked)
    rng.shuffle(drawn)
    return strata, [ReviewItem(doc_id, name, i + 1) for i, (doc_id, name) in enumerate(drawn)]


def read_label(value: str | None) -> str | None:
    """A reader's label in canonical form (yes, no or unsure); None for an empty cell.

    Raises ValueError for anything else.
    """
    text = (value or "").strip().lstrip("'").strip().lower()
    if not text:
        return None
    if text not in _LABEL_SPELLINGS:
        raise ValueError(f"label {value!r} is not yes, no or unsure")
    return _LABEL_SPELLINGS[text]


def reviewed_tags(strata: Sequence[Stratum]) -> dict[str, int]:
    """How many documents of each stratum the version under review tags: all of ``tagged``, none
    of the others (see :func:`score_review`)."""
    return {s.name: s.population if s.name == "tagged" else 0 for s in strata}


def score_reviewed(strata: Sequence[Stratum], items: Sequence[ReviewItem]) -> ReviewScore:
    """The figures of the version under review: it tags exactly the documents of the tagged stratum."""
    judgements = [Judgement(i.document_id, i.stratum, i.label, i.stratum == "tagged") for i in items]
    return score_review(strata, judgements)


def count_labels(items: Iterable[ReviewItem]) -> dict[str, int]:
    """How many items carry each label (yes, no, unsure)."""
    counts = Counter(i.label for i in items)
    return {label: counts[label] for label in LABELS}


def _groups(
    strata: Sequence[Stratum], judgements: Sequence[Judgement], tags: Mapping[str, int]
) -> list[tuple[str, bool, int, Counter[str]]]:
    """(stratum, tagged by the definition, documents of the store in that part, labels judged
    there) for every part of every stratum, the parts without documents left out."""
    out = []
    for stratum in strata:
        labels = {
            predicted: Counter(
                j.label for j in judgements if j.stratum == stratum.name and j.predicted == predicted and j.label
            )
            for predicted in (True, False)
        }
        judged = {predicted: sum(counts.values()) for predicted, counts in labels.items()}
        population = max(stratum.population, judged[True] + judged[False])
        # the parts hold at least what was judged in them, and add up to the stratum
        tagged = min(max(judged[True], tags.get(stratum.name, 0)), population - judged[False])
        for predicted, size in ((True, tagged), (False, population - tagged)):
            if size > 0:
                out.append((stratum.name, predicted, size, labels[predicted]))
    return out


def _posterior(
    groups: Sequence[tuple[str, bool, int, Counter[str]]], draws: int
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Draws of the store's (precision, recall, F1) given the labels, part by part.

    The documents judged count as they were labelled; the unread rest of each part is split
    into yes, no and unsure documents (Dirichlet-multinomial) by the shares of a Dirichlet
    posterior: the counts seen, plus :data:`PRIOR_TAGGED` (in the tagged stratum and where the
    definition tags) or :data:`PRIOR` (elsewhere) of a document on yes and on no. So a part
    read in full is exact, a large part read thinly (or not at all) admits many positives, as it
    should, and a part the definition does not tag never holds its tags.
    """
    rng = np.random.default_rng(POSTERIOR_SEED)
    totals = np.zeros((draws, 3))  # true positives, false positives, misses
    for stratum, predicted, size, labels in groups:
        read = sum(labels.values())
        unread = size - read
        yes = np.full(draws, float(labels["yes"]))
        no = np.full(draws, float(labels["no"]))
        if unread > 0:
            prior = PRIOR_TAGGED if predicted or stratum == "tagged" else PRIOR
            alpha = [labels["yes"] + prior, labels["no"] + prior] + ([labels["unsure"]] if labels["unsure"] else [])
            counts = rng.multinomial(unread, rng.dirichlet(alpha, size=draws))  # whole documents
            yes += counts[:, 0]
            no += counts[:, 1]
        if predicted:
            totals[:, 0] += yes
            totals[:, 1] += no
        else:
            totals[:, 2] += yes
    tp, fp, fn = totals[:, 0], totals[:, 1], totals[:, 2]
    with np.errstate(invalid="ignore", divide="ignore"):
        return tp / (tp + fp), tp / (tp + fn), 2 * tp / (2 * tp + fp + fn)


def _estimate(value: float | None, draws: np.ndarray) -> Estimate:
    """A point estimate with the central 95 % of its posterior draws, widened to hold the estimate."""
    if value is None:
        return Estimate(None)
    finite = draws[np.isfinite(draws)]
    if finite.size == 0:
        return Estimate(value)
    low, high = np.quantile(finite, [0.025, 0.975])
    # at a bound (nothing missed in what was read) the draws may all fall short of the estimate
    return Estimate(value, float(min(low, value)), float(max(high, value)))


def _part_name(stratum: str, predicted: bool) -> str:
    """A stratum's part as the output names it: "near" for its untagged part, "tagged" for the
    tagged stratum's tagged part, else with the part ("near, tagged", "tagged, not tagged")."""
    if predicted == (stratum == "tagged"):
        return stratum
    return f"{stratum}, {'tagged' if predicted else 'not tagged'}"


def score_review(
    strata: Sequence[Stratum],
    judgements: Sequence[Judgement],
    tags: Mapping[str, int] | None = None,
    draws: int = POSTERIOR_DRAWS,
) -> ReviewScore:
    """Precision, recall and F1 of the definition whose calls are in ``judgements[*].predicted``.

    ``tags`` says how many documents of each stratum that definition tags (by default the
    version under review: :func:`reviewed_tags`). Each stratum is split into the part it tags
    and the part it does not, and a part's judged documents (yes, no and unsure) stand for all
    of its documents; documents not labelled yet are left out, as if they had not been drawn.
    A part of which nothing is judged adds nothing to the point estimates, is named in
    ``unread``, and widens the intervals by all it could hold.
    """
    groups = _groups(strata, judgements, reviewed_tags(strata) if tags is None else tags)
    tp = fp = fn = 0.0
    unread: list[str] = []
    for stratum, predicted, size, labels in groups:
        judged = sum(labels.values())
        if not labels["yes"] + labels["no"]:  # nothing judged, or only unsure: it says nothing
            unread.append(_part_name(stratum, predicted))
        if not judged:
            continue
        weight = size / judged
        if predicted:
            tp, fp = tp + weight * labels["yes"], fp + weight * labels["no"]
        else:
            fn += weight * labels["yes"]
    precision_draws, recall_draws, f1_draws = _posterior(groups, draws)
    precision = _estimate(tp / (tp + fp) if tp + fp else None, precision_draws)
    recall = _estimate(tp / (tp + fn) if tp + fn else None, recall_draws)
    f1 = _estimate(2 * tp / (2 * tp + fp + fn) if precision.value is not None and recall.value is not None else None,
                   f1_draws)  # fmt: skip
    clear = [j for j in judgements if j.label in ("yes", "no")]
    return ReviewScore(
        clear=len(clear),
        unsure=sum(1 for j in judgements if j.label == "unsure"),
        left=sum(1 for j in judgements if j.label is None),
        true_positives=sum(1 for j in clear if j.predicted and j.label == "yes"),
        false_positives=sum(1 for j in clear if j.predicted and j.label == "no"),
        misses=sum(1 for j in clear if not j.predicted and j.label == "yes"),
        precision=precision,
        recall=recall,
        f1=f1,
        positives=tp + fn,
        unread=tuple(unread),
    )


# -- the reader's sheet ------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class SheetRow:
    """A labelled row of a returned sheet (rows left blank are not returned); ``row`` is its
    number as a spreadsheet shows it (the header is row 1)."""

    row: int
    review_id: str
    document_id: str
    label: str
    note: str | None


def cut_excerpt(text: str, limit: int = EXCERPT_CHARS) -> str:
    """The start of a text, cut at a word boundary, with an ellipsis when cut."""
    if len(text) <= limit:
        return text
    cut = text[:limit].rsplit(None, 1)[0] if " " in text[:limit] else text[:limit]
    return cut + " …"


def write_sheet(path: Path, review: Review, items: Sequence[ReviewItem], documents: Mapping[str, Document]) -> None:
    """Write the reader's sheet: one row per drawn document in the review's order, with an empty
    ``label`` column to fill; never the stratum nor the tags (the reader judges blind).

    Written as UTF-8 with a byte-order mark (spreadsheets read it as UTF-8), atomically, and
    never over an existing file.
    """
    if path.exists():
        raise OutputError(f"{path} already exists: pass another --out, or move it away first")
    tmp = path.with_name(f".{path.name}.tmp")
    try:
        with tmp.open("w", encoding="utf-8-sig", newline="") as out:
            writer = csv.writer(out, lineterminator="\n")
            writer.writerow(SHEET_COLUMNS)
            for item in items:
                doc = documents.get(item.document_id)
                title, source, published, url, text = (
                    (doc.title, doc.source, doc.published_at.date().isoformat() if doc.published_at else "",
                     doc.url, cut_excerpt(doc.body))
                    if doc is not None else ("(no longer stored)", "", "", "", "")
                )  # fmt: skip
                cells = [review.id, str(item.position), item.document_id, item.label or "", item.note or "",
                         title, source, published, url, text]  # fmt: skip
                writer.writerow([escape_cell(c) for c in cells])
        os.replace(tmp, path)
    except OSError as err:
        tmp.unlink(missing_ok=True)
        raise OutputError(f"cannot write the review sheet {path}: {err.strerror or err}; check the folder") from err


def _decode_sheet(path: Path) -> str:
    """A sheet's text, as spreadsheets save it: UTF-8 (with or without a byte-order mark),
    UTF-16 ("Unicode text", with or without one), else Windows-1252 ("CSV" in Excel)."""
    try:
        raw = path.read_bytes()
    except OSError as err:
        raise InputError(
            f"cannot read the review sheet {path}: {err.strerror or err}; pass the CSV `topics review` wrote"
        ) from err
    if raw.startswith((b"\xff\xfe", b"\xfe\xff")):
        candidates: list[str | None] = [_decode(raw, "utf-16")]
    else:
        utf16 = decode_utf16_without_bom(raw)
        candidates = [utf16[0]] if utf16 else [_decode(raw, "utf-8-sig"), _decode(raw, "cp1252")]
    for text in candidates:
        if text is not None and "\x00" not in text:  # zero bytes: UTF-16 that was not recognised
            return text
    raise InputError(f"cannot decode the review sheet {path}: save it as CSV UTF-8 and run again")


def _decode(raw: bytes, encoding: str) -> str | None:
    try:
        return raw.decode(encoding)
    except UnicodeDecodeError:
        return None


def read_sheet(path: Path) -> tuple[list[SheetRow], bool]:
    """The labelled rows of a returned sheet (CSV separated by commas, semicolons or tabs, in the
    encodings spreadsheets save), and whether it has a note column. Rows left empty are
    skipped: an empty label never clears one stored before. Raises InputError, naming the row
    as a spreadsheet numbers it, on a row that cannot be read."""
    text = _decode_sheet(path)
    if not text.strip():
        raise InputError(f"{path} is empty: pass the CSV file `topics review` wrote")
    header_line = text.split("\n", 1)[0]
    reader = csv.reader(io.StringIO(text, newline=""), delimiter=max(",;\t", key=header_line.count))
    header = [cell.strip().lower() for cell in next(reader)]
    missing = [c for c in ("review", "document_id", "label") if c not in header]
    if missing:
        raise InputError(f"{path} has no column {', '.join(missing)}: pass the CSV file `topics review` wrote")
    column: dict[str, int] = {n: header.index(n) for n in ("review", "document_id", "label", "note") if n in header}
    rows: list[SheetRow] = []
    for number, cells in enumerate(reader, start=2):  # blank rows are rows too
        if not any(cell.strip() for cell in cells):
            continue
        values = {name: cells[at].strip() if at < len(cells) else "" for name, at in column.items()}
        where = f"{path}, row {number}" + (f" (document {values['document_id']})" if values["document_id"] else "")
        try:
            label = read_label(values["label"])
        except ValueError as err:
            raise InputError(f"{where}: {err}; write yes, no or unsure (or leave it empty)") from err
        if label is None:
            continue
        review_id, document_id = values["review"].lstrip("'"), values["document_id"].lstrip("'")
        if not review_id or not document_id:
            raise InputError(f"{where}: the review or document_id cell is empty; restore it from the sheet")
        rows.append(SheetRow(number, review_id, document_id, label, values.get("note") or None))
    return rows, "note" in column


def check_sheet(rows: Sequence[SheetRow], drawn: Mapping[str, Collection[str]], path: Path) -> None:
    """Fail (InputError, naming the row) on a row of a review that does not exist or of a
    document that review did not draw, or on a document labelled twice two ways (a second
    note is not a second label); ``drawn`` maps each known review id to its documents."""
    seen: dict[tuple[str, str], SheetRow] = {}
    for row in rows:
        first = seen.setdefault((row.review_id, row.document_id), row)
        if first is not row and first.label != row.label:
            raise InputError(
                f"{path}, rows {first.row} and {row.row}: document {row.document_id} is labelled twice, two ways;"
                " keep one row"
            )
        if row.review_id not in drawn:
            raise InputError(f"{path}, row {row.row}: no review {row.review_id} in this database; pass its --db")
        if row.document_id not in drawn[row.review_id]:
            raise InputError(
                f"{path}, row {row.row}: document {row.document_id} was not drawn for {row.review_id};"
                " restore the row from the sheet"
            )
