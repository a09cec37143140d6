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
changed one is re-run on the judged documents, and its tags in every stratum are weighted the
same way.
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
from newsmon.text import normalize_for_query
from newsmon.topics import Topic

log = logging.getLogger(__name__)

STRATA = ("tagged", "near", "rest")
LABELS = ("yes", "no", "unsure")
_LABEL_SPELLINGS = {
    "yes": "yes", "y": "yes", "1": "yes", "true": "yes",
    "no": "no", "n": "no", "0": "no", "false": "no",
    "unsure": "unsure", "?": "unsure", "u": "unsure", "ambiguous": "unsure",
}  # fmt: skip
DEFAULT_SIZES = {"tagged": 50, "near": 30, "rest": 20}  # documents drawn per stratum by default
POSTERIOR_DRAWS = 4000  # draws of the store's figures behind each interval
PRIOR = 0.25  # pseudo-documents on each yes and no cell (see benchmarks.accuracy.review)
POSTERIOR_SEED = 20261207  # fixed: the same labels always give the same interval
SHEET_COLUMNS = ("review", "position", "document_id", "label", "note", "title", "source", "published", "url", "text")
EXCERPT_CHARS = 2000  # of the body, shown to the reader
_FORMULA_START = ("=", "+", "-", "@", "\t", "\r")


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

    judged: int  # labelled yes or no
    unsure: int
    left: int  # drawn, not labelled yet
    true_positives: int  # judged documents (not weighted)
    false_positives: int
    misses: int
    precision: Estimate
    recall: Estimate
    f1: float | None
    positives: float  # estimated documents of the store about the topic


def stratum_of(document: Document, topic: Topic, tagged: bool) -> str:
    """The stratum of a stored document for ``topic``: tagged, near (a query word, untagged) or rest."""
    if tagged:
        return "tagged"
    near = topic.may_match(normalize_for_query(document.title)) or topic.may_match(normalize_for_query(document.body))
    return "near" if near else "rest"


def sort_strata(batches: Iterable[Sequence[Document]], topic: Topic, tagged: Collection[str]) -> dict[str, list[str]]:
    """The ids of the stored documents in each stratum, given the ids the version under review tags."""
    members: dict[str, list[str]] = {name: [] for name in STRATA}
    for batch in batches:
        for document in batch:
            members[stratum_of(document, topic, document.id in tagged)].append(document.id)
    return members


def make_review_id(topic: str, now: datetime, seed: int) -> str:
    """A review's id: the topic, the day it was drawn and a short hash of the time and seed."""
    from newsmon.text import sha256_hex

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


def _posterior(
    population: Mapping[str, int], judgements: Sequence[Judgement], draws: int = POSTERIOR_DRAWS
) -> tuple[np.ndarray, np.ndarray]:
    """Draws of the store's (precision, recall) given the labels, stratum by stratum.

    In each stratum, the shares of its cells (tagged or not, by yes, no or unsure) follow a
    Dirichlet posterior: the counts seen, plus :data:`PRIOR` of a document on each yes and no
    cell of the tagged and untagged groups seen there. So a stratum where no miss was drawn still
    admits some, in proportion to how little of it was read: a large stratum read thinly gives a
    wide recall interval, as it should.
    """
    rng = np.random.default_rng(POSTERIOR_SEED)
    totals = np.zeros((draws, 3))  # true positives, false positives, misses
    for name, size in population.items():
        cells: Counter[tuple[bool, str]] = Counter(
            (j.predicted, j.label) for j in judgements if j.stratum == name and j.label
        )
        if not cells or size <= 0:
            continue
        keys = sorted(
            {key for key in cells} | {(pred, lab) for pred, _ in cells for lab in ("yes", "no")},
            key=lambda k: (not k[0], LABELS.index(k[1])),
        )
        alpha = np.array([cells[k] + (PRIOR if k[1] != "unsure" else 0.0) for k in keys])
        shares = rng.dirichlet(alpha, size=draws) * size
        for column, (pred, lab) in enumerate(keys):
            if lab == "yes":
                totals[:, 0 if pred else 2] += shares[:, column]
            elif lab == "no" and pred:
                totals[:, 1] += shares[:, column]
    tp, fp, fn = totals[:, 0], totals[:, 1], totals[:, 2]
    with np.errstate(invalid="ignore", divide="ignore"):
        return tp / (tp + fp), tp / (tp + fn)


def _estimate(value: float | None, draws: np.ndarray) -> Estimate:
    """A point estimate with the central 95 % of its posterior draws."""
    if value is None:
        return Estimate(None)
    finite = draws[np.isfinite(draws)]
    if finite.size == 0:
        return Estimate(value)
    low, high = np.quantile(finite, [0.025, 0.975])
    return Estimate(value, float(min(low, value)), float(max(high, value)))


def score_review(strata: Sequence[Stratum], judgements: Sequence[Judgement]) -> ReviewScore:
    """Precision, recall and F1 of the definition whose calls are in ``judgements[*].predicted``.

    A stratum's judged documents (yes, no and unsure) stand for its whole population; documents
    not labelled yet are left out, as if they had not been drawn.
    """
    population = {s.name: s.population for s in strata}
    labelled = Counter(j.stratum for j in judgements if j.label is not None)
    weight = {name: population.get(name, 0) / n for name, n in labelled.items() if n}
    clear = [j for j in judgements if j.label in ("yes", "no")]
    tp = sum(weight[j.stratum] for j in clear if j.predicted and j.label == "yes")
    fp = sum(weight[j.stratum] for j in clear if j.predicted and j.label == "no")
    fn = sum(weight[j.stratum] for j in clear if not j.predicted and j.label == "yes")
    precision_draws, recall_draws = _posterior(population, judgements)
    precision = _estimate(tp / (tp + fp) if tp + fp else None, precision_draws)
    recall = _estimate(tp / (tp + fn) if tp + fn else None, recall_draws)
    positives = tp + fn
    f1 = None
    if precision.value is not None and recall.value is not None and precision.value + recall.value > 0:
        f1 = 2 * precision.value * recall.value / (precision.value + recall.value)
    return ReviewScore(
        judged=len(clear),
        unsure=sum(1 for j in judgements if j.label == "unsure"),
        left=sum(1 for j in judgements if j.label is None),
        true_positives=sum(1 for j in clear if j.predicted and j.label == "yes"),
        false_positives=sum(1 for j in clear if j.predicted and j.label == "no"),
        misses=sum(1 for j in clear if not j.predicted and j.label == "yes"),
        precision=precision,
        recall=recall,
        f1=f1,
        positives=positives,
    )


# -- the reader's sheet ------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class SheetRow:
    """A labelled row of a returned sheet (rows left blank are not returned)."""

    line: int
    review_id: str
    document_id: str
    label: str
    note: str | None


def excerpt(text: str, limit: int = EXCERPT_CHARS) -> str:
    """The start of a text, cut at a word boundary, with an ellipsis when cut."""
    if len(text) <= limit:
        return text
    cut = text[:limit].rsplit(None, 1)[0] if " " in text[:limit] else text[:limit]
    return cut + " …"


def spreadsheet_cell(value: str) -> str:
    """Text as a cell a spreadsheet shows as text, never runs: a leading = + - @ gets a quote."""
    return "'" + value if value.startswith(_FORMULA_START) else value


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
                     doc.url, excerpt(doc.body))
                    if doc is not None else ("(no longer stored)", "", "", "", "")
                )  # fmt: skip
                cells = [review.id, str(item.position), item.document_id, item.label or "", item.note or "",
                         title, source, published, url, text]  # fmt: skip
                writer.writerow([spreadsheet_cell(c) for c in cells])
        os.replace(tmp, path)
    except OSError as err:
        tmp.unlink(missing_ok=True)
        raise OutputError(f"cannot write the review sheet {path}: {err.strerror or err}; check the folder") from err


def read_sheet(path: Path) -> list[SheetRow]:
    """The labelled rows of a returned sheet (CSV, comma, semicolon or tab separated, as
    spreadsheets save it). Raises InputError, naming the line, on a row that cannot be read."""
    try:
        text = path.read_text(encoding="utf-8-sig")
    except (OSError, UnicodeDecodeError) as err:
        why = getattr(err, "strerror", None) or err
        raise InputError(f"cannot read the review sheet {path}: {why}; pass the CSV `topics review` wrote") from err
    if not text.strip():
        raise InputError(f"{path} is empty: pass the CSV file `topics review` wrote")
    header = text.split("\n", 1)[0]
    delimiter = max(",;\t", key=header.count)
    reader = csv.DictReader(io.StringIO(text, newline=""), delimiter=delimiter)
    missing = [c for c in ("review", "document_id", "label") if c not in (reader.fieldnames or [])]
    if missing:
        raise InputError(f"{path} has no column {', '.join(missing)}: pass the CSV file `topics review` wrote")
    rows: list[SheetRow] = []
    end = 1  # the header's line
    for record in reader:
        line, end = end + 1, reader.line_num  # a quoted cell may span lines: name the row's first
        try:
            label = read_label(record.get("label"))
        except ValueError as err:
            raise InputError(f"{path}, line {line}: {err}; write yes, no or unsure (or leave it empty)") from err
        if label is None:
            continue
        review_id, document_id = (record.get("review") or "").strip(), (record.get("document_id") or "").strip()
        if not review_id or not document_id:
            raise InputError(f"{path}, line {line}: the review or document_id cell is empty; restore it from the sheet")
        note = (record.get("note") or "").strip() or None
        rows.append(SheetRow(line, review_id, document_id, label, note))
    return rows


def check_sheet(rows: Sequence[SheetRow], drawn: Mapping[str, Collection[str]], path: Path) -> None:
    """Fail (InputError, naming the line) on a row of a review that does not exist or of a
    document that review did not draw, or on a document labelled twice two ways; ``drawn`` maps
    each known review id to its documents."""
    seen: dict[tuple[str, str], SheetRow] = {}
    for row in rows:
        first = seen.setdefault((row.review_id, row.document_id), row)
        if first is not row and (first.label, first.note) != (row.label, row.note):
            raise InputError(
                f"{path}, lines {first.line} and {row.line}: document {row.document_id} is labelled twice, two ways;"
                " keep one row"
            )
        if row.review_id not in drawn:
            raise InputError(f"{path}, line {row.line}: no review {row.review_id} in this database; pass its --db")
        if row.document_id not in drawn[row.review_id]:
            raise InputError(
                f"{path}, line {row.line}: document {row.document_id} was not drawn for {row.review_id};"
                " restore the row from the sheet"
            )
