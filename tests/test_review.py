"""Reviews of a topic's tags: a blind stratified sample, the reader's labels, and precision and
recall weighted back to the store (``newsmon topics review | judge | score``)."""

from __future__ import annotations

import csv
import re
import shutil
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from support import SEEDS, store_seeds
from typer.testing import Result

from newsmon.config import default_topics_path
from newsmon.errors import InputError, OutputError
from newsmon.models import Review, ReviewItem, Stratum
from newsmon.results import escape_cell
from newsmon.review import (
    SHEET_COLUMNS,
    Estimate,
    Judgement,
    check_sheet,
    draw_review,
    read_label,
    read_sheet,
    score_review,
    write_sheet,
)
from storage.store import Store

# -- drawing -----------------------------------------------------------------------------------


def test_draw_is_seeded_capped_and_blind_to_member_order() -> None:
    members = {"tagged": [f"t{i}" for i in range(8)], "near": [f"n{i}" for i in range(40)], "rest": ["r1"]}
    sizes = {"tagged": 20, "near": 5, "rest": 3}
    strata, items = draw_review(members, sizes, seed=11)
    assert strata == [Stratum("tagged", 8, 8), Stratum("near", 40, 5), Stratum("rest", 1, 1)]
    assert [i.position for i in items] == list(range(1, 15))
    assert {i.document_id for i in items if i.stratum == "tagged"} == set(members["tagged"])
    shuffled = {name: list(reversed(ids)) for name, ids in members.items()}
    assert draw_review(shuffled, sizes, seed=11) == (strata, items)
    _, other = draw_review(members, sizes, seed=12)
    assert [i.document_id for i in other] != [i.document_id for i in items]
    # the strata are mixed in the reader's order, not one block after another
    assert [i.stratum for i in items] != sorted((i.stratum for i in items), key=["tagged", "near", "rest"].index)


# -- scoring -----------------------------------------------------------------------------------


def _judgements(spec: list[tuple[str, str | None, bool]]) -> list[Judgement]:
    return [Judgement(f"d{n}", stratum, label, predicted) for n, (stratum, label, predicted) in enumerate(spec)]


def test_score_weights_each_stratum_back_to_its_population() -> None:
    strata = [Stratum("tagged", 10, 2), Stratum("near", 100, 5), Stratum("rest", 1000, 2)]
    judgements = _judgements(
        [
            ("tagged", "yes", True), ("tagged", "no", True),
            ("near", "yes", False), ("near", "no", False), ("near", "no", False), ("near", "no", False),
            ("near", "unsure", False),  # stands for its share of the stratum, counts neither way
            ("rest", "no", False), ("rest", None, False),  # not judged yet: as if not drawn
        ]
    )  # fmt: skip
    score = score_review(strata, judgements)
    assert (score.clear, score.unsure, score.left, score.labelled) == (7, 1, 1, 8)
    assert (score.true_positives, score.false_positives, score.misses) == (1, 1, 1)
    assert score.precision.value == pytest.approx(0.5)
    # one tagged yes stands for 10/2 = 5 documents, one near yes for 100/5 = 20
    assert score.positives == pytest.approx(25.0)
    assert score.recall.value == pytest.approx(5 / 25)
    assert score.f1.value == pytest.approx(2 * 0.5 * 0.2 / 0.7)
    assert score.f1.low is not None and score.f1.high is not None and score.f1.low < score.f1.value < score.f1.high
    assert score.recall.low is not None and score.recall.high is not None
    assert 0.0 <= score.recall.low < 0.2 < score.recall.high <= 1.0


def test_a_changed_definition_is_weighted_by_the_parts_it_tags() -> None:
    strata = [Stratum("tagged", 4, 4), Stratum("near", 50, 2), Stratum("rest", 500, 1)]
    labels = [("tagged", "yes"), ("tagged", "yes"), ("tagged", "no"), ("tagged", "no"), ("near", "yes"),
              ("near", "no"), ("rest", "no")]  # fmt: skip
    calls = [True, True, False, False, True, False, False]  # drops both wrong tags, finds the near miss
    judgements = _judgements([(s, lab, p) for (s, lab), p in zip(labels, calls, strict=True)])
    # it tags 2 of the 4 tagged documents, 10 of the 50 near ones and none of the rest
    score = score_review(strata, judgements, {"tagged": 2, "near": 10, "rest": 0})
    assert score.precision.value == pytest.approx(1.0) and score.recall.value == pytest.approx(1.0)
    assert score.positives == pytest.approx(2 + 10)  # one judged yes stands for the 10 near tags
    # 9 near tags and 39 untagged near documents unread: both intervals stay open
    assert score.precision.low is not None and score.precision.low < 0.95
    assert score.recall.low is not None and score.recall.low < 0.8
    assert score.unread == ()


def test_parts_hold_what_was_judged_in_them_and_add_up_to_the_stratum() -> None:
    from newsmon.review import _groups

    # a tag count scaled or stale below what was judged tagged in the stratum
    judgements = _judgements([("rest", "no", True), ("rest", "no", False)])
    parts = _groups([Stratum("rest", 100_000, 2)], judgements, {"rest": 0})
    assert [(predicted, size) for _, predicted, size, _ in parts] == [(True, 1), (False, 99_999)]


def test_a_part_judged_only_unsure_is_named_as_unread() -> None:
    judgements = _judgements([("tagged", "yes", True)] * 5 + [("near", "unsure", False)] * 3)
    score = score_review([Stratum("tagged", 5, 5), Stratum("near", 300, 3), Stratum("rest", 0, 0)], judgements)
    assert score.unread == ("near",)
    assert score.recall.low is not None and score.recall.low < 0.5  # 300 documents of which nothing is known


def test_a_part_read_in_full_is_exact_and_one_not_read_is_wide_open() -> None:
    census = _judgements([("tagged", "yes", True)] * 8 + [("tagged", "no", True)] * 3)
    score = score_review([Stratum("tagged", 11, 11), Stratum("near", 0, 0), Stratum("rest", 0, 0)], census)
    assert score.f1.value == score.f1.low == score.f1.high == pytest.approx(2 * 8 / (2 * 8 + 3))
    assert score.precision.value == pytest.approx(8 / 11)
    assert score.precision.low == pytest.approx(8 / 11) and score.precision.high == pytest.approx(8 / 11)
    unread = score_review([Stratum("tagged", 11, 11), Stratum("near", 5000, 0), Stratum("rest", 0, 0)], census)
    assert unread.recall.value == pytest.approx(1.0)  # from what was read ...
    assert unread.recall.low is not None and unread.recall.low < 0.05  # ... but 5,000 unread documents may hold many
    assert unread.unread == ("near",)
    changed = _judgements([("tagged", "yes", True)] * 8 + [("tagged", "no", False)] * 3)
    parts = score_review([Stratum("tagged", 11, 11), Stratum("near", 40, 0)], changed, {"tagged": 8, "near": 5})
    assert parts.unread == ("near, tagged", "near")  # the part of near the changed definition tags, and the rest
    assert parts.f1.value == pytest.approx(1.0) and parts.f1.low is not None and parts.f1.low < 0.9


def test_score_with_nothing_tagged_or_found_has_no_figures() -> None:
    score = score_review([Stratum("rest", 10, 1)], _judgements([("rest", "no", False)]))
    assert score.precision.value is None and score.recall.value is None and score.f1.value is None


def test_intervals_widen_with_what_was_not_read_and_repeat_exactly() -> None:
    # every tag read and right, 30 of 300 near read without a miss; the rest read thinly or well
    spec = [("tagged", "yes", True)] * 40 + [("near", "no", False)] * 30
    thin = [Stratum("tagged", 40, 40), Stratum("near", 300, 30), Stratum("rest", 100_000, 10)]
    well = [Stratum("tagged", 40, 40), Stratum("near", 300, 30), Stratum("rest", 1_000, 500)]
    thin_score = score_review(thin, _judgements(spec + [("rest", "no", False)] * 10))
    well_score = score_review(well, _judgements(spec + [("rest", "no", False)] * 500))
    assert thin_score.recall.value == well_score.recall.value == 1.0
    assert thin_score.recall.low is not None and well_score.recall.low is not None
    # 10 of 100,000 read cannot rule out many misses; 500 of 1,000 (and 30 of 300 near) rule out most
    assert thin_score.recall.low < 0.2 < 0.6 < well_score.recall.low
    assert thin_score.precision == Estimate(1.0, 1.0, 1.0)  # every tag was read: exact
    assert score_review(thin, _judgements(spec + [("rest", "no", False)] * 10)) == thin_score


# -- the reader's sheet ------------------------------------------------------------------------


def test_labels_are_read_in_the_usual_spellings() -> None:
    assert [read_label(v) for v in ("Yes", " y", "NO", "n", "?", "unsure", "", None, "'yes")] == [
        "yes", "yes", "no", "no", "unsure", "unsure", None, None, "yes",
    ]  # fmt: skip
    with pytest.raises(ValueError, match="'maybe' is not yes, no or unsure"):
        read_label("maybe")


def test_spreadsheet_cells_never_start_a_formula() -> None:
    assert escape_cell('=HYPERLINK("http://x","y")') == '\'=HYPERLINK("http://x","y")'
    assert [escape_cell(v) for v in ("+1", "-2", "@SUM(A1)", "plain")] == ["'+1", "'-2", "'@SUM(A1)", "plain"]


@pytest.mark.parametrize(
    ("encoding", "delimiter"),
    [("utf-8-sig", ","), ("utf-8", ";"), ("cp1252", ","), ("utf-16", "\t"), ("utf-16-le", "\t"), ("utf-16-be", ",")],
    ids=["csv-utf8", "semicolons", "excel-csv", "unicode-text", "utf16-le-no-bom", "utf16-be-no-bom"],
)
def test_sheets_come_back_in_the_encodings_spreadsheets_save(tmp_path: Path, encoding: str, delimiter: str) -> None:
    sheet = tmp_path / "back.csv"
    lines = [["review", "document_id", "label", "note", "title"], ["rv-x-1", "d1", "no", "", "Café “Moskva” …"]]
    sheet.write_bytes("\r\n".join(delimiter.join(line) for line in lines).encode(encoding))
    (row,), has_notes = read_sheet(sheet)
    assert has_notes
    assert (row.review_id, row.document_id, row.label) == ("rv-x-1", "d1", "no")


def _review() -> Review:
    return Review("rv-x-1", "x", "v1", 1, datetime(2026, 1, 1, tzinfo=UTC), "run-1")


def test_sheet_is_blind_safe_and_never_overwritten(tmp_path: Path) -> None:
    from support import NOW

    from newsmon.models import Document

    doc = Document(
        id="d1", url="https://example.org/a", source="feed", source_kind="feed", title="=cmd|' /C calc'!A0",
        body="word " * 1000, author=None, origin=None, published_at=NOW, first_seen_at=NOW, content_hash="",
        text_hash="", extractor="x", charset=None,
    )  # fmt: skip
    items = [ReviewItem("d1", "tagged", 1), ReviewItem("gone", "rest", 2)]
    sheet = tmp_path / "sheet.csv"
    write_sheet(sheet, _review(), items, {"d1": doc})
    raw = sheet.read_bytes()
    assert raw.startswith(b"\xef\xbb\xbf")  # a BOM: spreadsheets read the file as UTF-8
    rows = list(csv.DictReader(sheet.read_text(encoding="utf-8-sig").splitlines()))
    assert tuple(rows[0]) == SHEET_COLUMNS and "stratum" not in rows[0] and "tagged" not in raw.decode("utf-8-sig")
    assert rows[0]["title"].startswith("'=") and rows[0]["text"].endswith(" …") and len(rows[0]["text"]) < 2100
    assert rows[1]["title"] == "(no longer stored)"
    with pytest.raises(OutputError, match="already exists"):
        write_sheet(sheet, _review(), items, {"d1": doc})


def test_returned_sheets_are_read_with_their_rows_named_as_a_spreadsheet_numbers_them(tmp_path: Path) -> None:
    sheet = tmp_path / "back.csv"
    sheet.write_text(
        'Review;position;Document_ID;LABEL;note\nrv-x-1;1;d1;Yes;\nrv-x-1;2;d2;;\nrv-x-1;3;d3;no;"two\nlines"\n'
        'rv-x-1;4;d4;"maybe";"a long text\nover\nthree lines"\n',
        encoding="utf-8",
    )  # semicolons and capitalised headers, as some spreadsheets save CSV; cells over many lines
    with pytest.raises(InputError, match=r"back.csv, row 5 \(document d4\): label 'maybe' is not yes, no or unsure"):
        read_sheet(sheet)
    sheet.write_text(sheet.read_text(encoding="utf-8").replace('"maybe"', ""), encoding="utf-8")
    rows, _ = read_sheet(sheet)
    assert [(r.row, r.document_id, r.label, r.note) for r in rows] == [
        (2, "d1", "yes", None),
        (4, "d3", "no", "two\nlines"),
    ]
    check_sheet(rows, {"rv-x-1": {"d1", "d2", "d3"}}, sheet)
    with pytest.raises(InputError, match=r"row 4: document d3 was not drawn"):
        check_sheet(rows, {"rv-x-1": {"d1"}}, sheet)
    with pytest.raises(InputError, match=r"row 2: no review rv-x-1"):
        check_sheet(rows, {}, sheet)
    sheet.write_text("review,document_id,label\nrv-x-1,d1,yes\nrv-x-1,d1,no\n", encoding="utf-8")
    with pytest.raises(InputError, match=r"rows 2 and 3: document d1 is labelled twice"):
        check_sheet(read_sheet(sheet)[0], {"rv-x-1": {"d1"}}, sheet)
    sheet.write_text("review,document_id,label,note\nrv-x-1,d1,yes,first\nrv-x-1,d1,yes,second\n", encoding="utf-8")
    check_sheet(read_sheet(sheet)[0], {"rv-x-1": {"d1"}}, sheet)  # the same label twice, two notes: one label
    sheet.write_text("review,document_id,label\n\nrv-x-1,d1,yes\n\n\nrv-x-1,d2,perhaps\n", encoding="utf-8")
    with pytest.raises(InputError, match=r"row 6 \(document d2\): label 'perhaps'"):  # blank rows counted
        read_sheet(sheet)
    assert read_sheet(_write(tmp_path, "review,document_id,label\n")) == ([], False)  # no note column
    sheet.write_text("id,verdict\n", encoding="utf-8")
    with pytest.raises(InputError, match="no column review, document_id, label"):
        read_sheet(sheet)


def _write(folder: Path, text: str) -> Path:
    path = folder / "plain.csv"
    path.write_text(text, encoding="utf-8")
    return path


# -- the commands, on a real database -----------------------------------------------------------

ARTICLES = {  # name: (title, body, the reader's label for russia-sanctions)
    "eu-package": ("EU adopts eleventh sanctions package against Russia",
                   "The European Union adopted its eleventh package of sanctions against Russia on Friday,"
                   " targeting firms that help Moscow evade export controls.", "yes"),
    "price-cap": ("G7 keeps the price cap on Russian oil",
                  "Finance ministers of the Group of Seven agreed to keep the $60 price cap on Russian seaborne"
                  " crude, saying it had cut the Kremlin's revenue.", "yes"),
    "oligarch": ("Court upholds asset freeze on Russian oligarch",
                 "A European court upheld the freeze of the assets of a Russian billionaire placed under"
                 " sanctions after the invasion of Ukraine.", "yes"),
    "chips": ("US charges smugglers of chips to Russia",
              "Prosecutors charged three men with shipping American microchips to Russia in breach of US"
              " export controls.", "yes"),
    "measures": ("Western measures against the Kremlin's oil exports start to bite",
                 "Revenue from Moscow's crude exports fell by half in a year as buyers in Europe stopped buying"
                 " its oil.", "yes"),
    "counter": ("Moscow seizes Danone's Russian unit",
                "The Kremlin placed the Russian business of Danone under temporary state management by decree.",
                "unsure"),
    "front": ("Russian troops shell Kherson",
              "Russian forces shelled the city of Kherson overnight, Ukrainian officials said.", "no"),
    "iran": ("Washington imposes new sanctions on Iran",
             "The Treasury imposed sanctions on Iranian drone makers on Tuesday, its third round this year.", "no"),
    "garden": ("How to grow tomatoes on a balcony", "Pick a sunny spot, a deep pot and water them every morning.",
               "no"),
    "weather": ("Heatwave expected this weekend", "Forecasters expect temperatures above 35C across the south.",
                "no"),
}  # fmt: skip
CHANGED_TOPIC = """
[topics.russia-sanctions]
name = "Russia sanctions"
description = "Sanctions on Russia."
query = 'sanction* OR "export controls" OR "western measures"'
"""


@pytest.fixture
def reviewed_db(tmp_path: Path) -> Path:
    """A database holding the seeds and ten short articles, tagged with the shipped topics."""
    folder = tmp_path / "corpus"
    folder.mkdir()
    for seed in SEEDS.iterdir():
        shutil.copy(seed, folder / seed.name)
    for name, (title, body, _) in ARTICLES.items():
        (folder / f"{name}.txt").write_text(f"{title}\n\n{body}\n", encoding="utf-8")
    db = tmp_path / "news.duckdb"
    store = Store.open_writer(db)
    try:
        assert store_seeds(store, "run-1", folder) == 12
    finally:
        store.close()
    return db


def _fill(sheet: Path, labels: dict[str, str], delimiter: str = ",") -> None:
    """Label the sheet's rows by title, as a reader would, and save it back."""
    rows = list(csv.DictReader(sheet.read_text(encoding="utf-8-sig").splitlines()))
    for row in rows:
        row["label"] = labels.get(row["title"], "yes")  # the two seeds cover sanctions
    with sheet.open("w", encoding="utf-8-sig", newline="") as out:
        writer = csv.DictWriter(out, fieldnames=list(rows[0]), delimiter=delimiter)
        writer.writeheader()
        writer.writerows(rows)


def _cells(line: str) -> list[str]:
    """The cells of a table row as printed."""
    return [c.strip() for c in line.strip().strip("│").split("│")]


def test_review_judge_and_score_a_topic(
    reviewed_db: Path, tmp_path: Path, newsmon: Callable[..., Result], monkeypatch: pytest.MonkeyPatch
) -> None:
    import support

    db = str(reviewed_db)
    monkeypatch.chdir(tmp_path)
    drawn = newsmon("topics", "review", "russia-sanctions", "--db", db, "--seed", "5")
    assert drawn.exit_code == 0, drawn.output
    assert "6 of 6 tagged, 3 of 3 near, 3 of 3 rest" in " ".join(drawn.output.split())
    (sheet,) = tmp_path.glob("rv-russia-sanctions-*.csv")  # the default name, in the current folder
    assert f"newsmon topics judge {sheet.name}" in drawn.output
    assert "label each row yes, no or unsure for: Sanctions, export controls" in " ".join(drawn.output.split())

    labels = {title: label for title, _, label in ARTICLES.values()}
    _fill(sheet, labels, delimiter=";")
    judged = newsmon("topics", "judge", str(sheet), "--db", db)
    assert judged.exit_code == 0, judged.output
    assert "12 labels read" in judged.output and "12 new or changed" in judged.output
    assert "12 of 12 labelled (yes 7, no 4, unsure 1)" in " ".join(judged.output.split())
    # piped or logged, the next command is one line, whole (it was broken at 80 columns)
    assert re.search(r"figures: newsmon topics score russia-sanctions --review rv-\S+$", judged.stdout, re.M)
    again = newsmon("topics", "judge", str(sheet), "--db", db)
    assert "0 new or changed" in again.output  # storing the same sheet again changes nothing

    scored = newsmon("topics", "score", "russia-sanctions", "--db", db, env={"COLUMNS": "200"})
    assert scored.exit_code == 0, scored.output
    reviewed = next(line for line in scored.output.splitlines() if "(reviewed)" in line)
    # six tags, all right; the Western-measures story is missed; the Danone story counts neither way
    assert _cells(reviewed)[1:4] == ["6", "0", "1"]
    assert _cells(reviewed)[4].startswith("1.000 [") and _cells(reviewed)[5].startswith("0.857 [")
    assert _cells(reviewed)[6].startswith("0.923 [") and _cells(reviewed)[7] == "~7 documents"
    assert "missed by version" in scored.output and "Western measures against the Kremlin" in scored.output
    listed = newsmon("topics", "list", "--db", db, env={"COLUMNS": "250"})
    row = next(line for line in listed.output.splitlines() if "russia-sanctions" in line)
    assert "P 1.000 [" in row and ", R 0.857 [" in row and "(11 yes or no, version" in row

    changed = tmp_path / "changed.toml"
    changed.write_text(CHANGED_TOPIC, encoding="utf-8")
    tried = newsmon("topics", "score", "--db", db, "--topics", str(changed), env={"COLUMNS": "200"})
    assert tried.exit_code == 0, tried.output
    candidate = next(line for line in tried.output.splitlines() if "(changed.toml)" in line)
    # it finds the missed story, tags the Iran story (wrong) and loses the price cap
    assert _cells(candidate)[1:4] == ["6", "1", "1"]
    assert [c[:5] for c in _cells(candidate)[4:7]] == ["0.857", "0.857", "0.857"]
    assert "wrong tags of version" in tried.output and "Washington imposes new sanctions on Iran" in tried.output
    assert [c[5:] for c in _cells(candidate)[4:6]] == [" [0.857-0.857]"] * 2  # every stratum read in full: exact

    later = tmp_path / "later"  # news stored after the draw, which the changed definition tags
    later.mkdir()
    (later / "canada.txt").write_text(
        "Canada imposes sanctions on Iranian officials\n\nOttawa imposed sanctions on ten officials.\n",
        encoding="utf-8",
    )
    monkeypatch.setattr(support, "NOW", support.NOW + timedelta(days=1))
    store = Store.open_writer(reviewed_db)
    try:
        assert store_seeds(store, "run-2", later) == 1
    finally:
        store.close()
    grown = newsmon("topics", "score", "--db", db, "--topics", str(changed), env={"COLUMNS": "200"})
    assert next(line for line in grown.output.splitlines() if "(changed.toml)" in line) == candidate  # left out

    store = Store.open_writer(reviewed_db)  # the Iran story is stored again with another text
    try:
        store.con.execute("UPDATE documents SET text_hash = 'changed' WHERE title LIKE 'Washington imposes%'")
    finally:
        store.close()
    moved = newsmon("topics", "score", "--db", db, "--topics", str(changed), env={"COLUMNS": "200"})
    candidate = next(line for line in moved.output.splitlines() if "(changed.toml)" in line)
    assert _cells(candidate)[1:4] == ["6", "0", "1"]  # its label was given to another text: not counted
    assert "nothing judged yes or no in rest, tagged" in " ".join(moved.output.split())
    assert "1 label not counted (their document was stored again" in " ".join(moved.output.split())

    store = Store.open_writer(reviewed_db)  # a review drawn before newsmon kept its strata's documents
    try:
        store.con.execute("UPDATE topic_reviews SET store_run_at = NULL")
    finally:
        store.close()
    older = newsmon("topics", "score", "--db", db, "--topics", str(changed), env={"COLUMNS": "200"})
    assert older.exit_code == 0 and "(changed.toml)" not in older.output and "(reviewed)" in older.output
    assert "draw a new review to score changed.toml on it" in " ".join(older.output.split())

    views = newsmon("sql", "select drawn, judged, yes, no, unsure from v_topic_reviews", "--db", db, "--format", "csv")
    assert views.exit_code == 0, views.output
    assert views.output.strip().splitlines()[-1] == "12,12,7,4,1"
    runs = newsmon("sql", "select count(*) from runs", "--db", db, "--format", "csv")
    assert runs.output.strip().splitlines()[-1] == "2"  # the store's two runs: a review is not a run

    fresh = newsmon("topics", "review", "russia-sanctions", "--db", db, "--seed", "6", "--out", "second.csv")
    assert fresh.exit_code == 0, fresh.output  # a newer review, not judged yet, hides nothing judged
    listed = newsmon("topics", "list", "--db", db, env={"COLUMNS": "250"})
    row = next(line for line in listed.output.splitlines() if "russia-sanctions" in line)
    assert "P 1.000 [" in row and "(11 yes or no, version" in row
    rescored = newsmon("topics", "score", "russia-sanctions", "--db", db, env={"COLUMNS": "200"})
    assert _cells(next(line for line in rescored.output.splitlines() if "(reviewed)" in line))[1:4] == ["6", "0", "1"]
    assert "no topic nosuch" in newsmon("topics", "score", "nosuch", "--db", db).stderr


def test_wrong_tags_of_the_reviewed_version_show_their_evidence(
    reviewed_db: Path, tmp_path: Path, newsmon: Callable[..., Result], monkeypatch: pytest.MonkeyPatch
) -> None:
    db = str(reviewed_db)
    monkeypatch.chdir(tmp_path)
    assert newsmon("topics", "review", "russia-sanctions", "--db", db, "--seed", "5").exit_code == 0
    (sheet,) = tmp_path.glob("rv-russia-sanctions-*.csv")
    labels = {title: label for title, _, label in ARTICLES.values()}
    labels["EU adopts eleventh sanctions package against Russia"] = "no"  # a reader disagrees with a tag
    _fill(sheet, labels)
    assert newsmon("topics", "judge", str(sheet), "--db", db).exit_code == 0
    scored = newsmon("topics", "score", "russia-sanctions", "--db", db, env={"COLUMNS": "200"})
    assert scored.exit_code == 0, scored.output
    wrong = scored.output.split("wrong tags of version", 1)[1]
    assert "  - EU adopts eleventh sanctions package against Russia" in wrong
    assert "evidence: EU adopts eleventh sanctions package against Russia" in wrong  # what the tag rests on


def test_documents_stored_after_a_draw_are_told_by_run_order_not_clock(
    reviewed_db: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import support

    store = Store.open_writer(reviewed_db)
    try:
        drawn_at = store.runs.latest_seq()  # what a draw records: the latest run its snapshot held
        assert drawn_at == 1 and store.documents.stored_after(drawn_at) == set()
        base = support.NOW
        for name, shift, run_id in (("replayed", -30, "run-2"), ("later", 1, "run-3")):
            folder = tmp_path / name  # a replay of an earlier day, then a run at a later clock
            folder.mkdir()
            text = f"{name.title()} story\n\nText of the {name} story.\n"
            (folder / f"{name}.txt").write_text(text, encoding="utf-8")
            monkeypatch.setattr(support, "NOW", base + timedelta(days=shift))
            assert store_seeds(store, run_id, folder) == 1
        titles = {d.title for d in store.documents.by_id(sorted(store.documents.stored_after(drawn_at))).values()}
        assert titles == {"Replayed story", "Later story"}
        store.runs.start("run-2", support.NOW, "resumed")  # a run resumed under its id keeps its place
        assert [r[0] for r in store.con.execute("SELECT id FROM runs ORDER BY seq").fetchall()] == [
            "run-1", "run-2", "run-3",
        ]  # fmt: skip
    finally:
        store.close()


def test_runs_and_reviews_of_an_earlier_release_are_numbered_on_upgrade(reviewed_db: Path) -> None:
    store = Store.open_writer(reviewed_db)
    try:
        later = store.con.execute("SELECT started_at + INTERVAL 1 DAY FROM runs").fetchall()[0][0]
        store.runs.start("run-0", later - timedelta(days=2), "an earlier day, recorded later")
        store.reviews.create(
            Review("rv-old", "russia-sanctions", "v0", 1, later, "review-1", store_run_at=later - timedelta(days=2)),
            [Stratum("rest", 1, 0)], [], {},
        )  # fmt: skip
        store.con.execute("DELETE FROM schema_migrations WHERE version >= 13")  # as 0012 left the file
        store.con.execute("ALTER TABLE runs DROP COLUMN seq; ALTER TABLE topic_reviews DROP COLUMN store_run_seq")
    finally:
        store.close(snapshot=False)
    store = Store.open_writer(reviewed_db)
    try:
        assert store.con.execute("SELECT id, seq FROM runs ORDER BY seq").fetchall() == [("run-0", 1), ("run-1", 2)]
        review = store.reviews.get("rv-old")
        assert review is not None and review.store_run_seq == 1  # the latest monitor run started by then
        store.runs.start("run-2", later, "next")
        assert store.runs.latest_seq() == 3
    finally:
        store.close()


def test_a_topic_without_a_description_is_judged_against_its_name(
    reviewed_db: Path, tmp_path: Path, newsmon: Callable[..., Result]
) -> None:
    shipped = default_topics_path().read_text(encoding="utf-8")
    start = shipped.index('description = """Sanctions, export controls')
    bare = tmp_path / "bare.toml"  # the same version: a description is no part of what tags
    bare.write_text(shipped[:start] + shipped[shipped.index('"""', start + 20) + 4 :], encoding="utf-8")
    out = tmp_path / "sheet.csv"
    drawn = newsmon("topics", "review", "russia-sanctions", "--db", str(reviewed_db), "--topics", str(bare),
                    "--out", str(out))  # fmt: skip
    assert drawn.exit_code == 0, drawn.output
    assert "label each row yes, no or unsure for: Russia sanctions" in drawn.output


def test_review_needs_the_definitions_tags_and_a_new_sheet(
    reviewed_db: Path, tmp_path: Path, newsmon: Callable[..., Result]
) -> None:
    changed = tmp_path / "changed.toml"
    changed.write_text(CHANGED_TOPIC, encoding="utf-8")
    db = str(reviewed_db)
    stale = newsmon("topics", "review", "russia-sanctions", "--db", db, "--topics", str(changed))
    assert stale.exit_code == 1
    told = " ".join(stale.stderr.split())
    assert f"run `newsmon topics retag russia-sanctions --topics {changed} --db {db}` first" in told
    taken = tmp_path / "taken.csv"
    taken.write_text("x", encoding="utf-8")
    again = newsmon("topics", "review", "russia-sanctions", "--db", db, "--out", str(taken))
    assert again.exit_code == 1 and "already exists" in again.stderr
    empty = newsmon("topics", "review", "russia-sanctions", "--db", db, "--tagged", "0", "--near", "0", "--rest", "0")
    assert empty.exit_code == 1 and "nothing to draw" in empty.stderr
    unknown = newsmon("topics", "score", "--review", "rv-none", "--db", db)
    assert unknown.exit_code == 1 and "no review rv-none" in unknown.stderr and "v_topic_reviews" in unknown.stderr
    nothing = newsmon("topics", "score", "covid-origins", "--db", db)
    assert nothing.exit_code == 1 and "draw one with `newsmon topics review" in nothing.stderr
    writer = Store.open_writer(reviewed_db)  # a run holds the writer lock all along the draw
    try:
        sheet = tmp_path / "locked.csv"
        locked = newsmon(
            "topics", "review", "russia-sanctions", "--db", db, "--out", str(sheet),
            env={"NEWSMON_LOCK_TIMEOUT_S": "0.5"},
        )  # fmt: skip
        assert locked.exit_code == 1 and "is writing" in locked.stderr  # it read the snapshot, then waited
        assert not sheet.exists()  # the draw could not be recorded: its sheet is gone too
        assert writer.reviews.latest() == []  # failed draws left nothing behind
    finally:
        writer.close()


def test_a_read_of_a_snapshot_older_than_the_schema_is_one_line(tmp_path: Path) -> None:
    import duckdb

    from newsmon.errors import StorageError
    from storage.database import records

    con = duckdb.connect(str(tmp_path / "old.duckdb"))
    try:
        con.execute("CREATE TABLE review_items (review_id VARCHAR, document_id VARCHAR)")
        with pytest.raises(StorageError, match=r"written by an earlier newsmon, run `newsmon run` once"):
            records(con, ReviewItem, "SELECT document_id, text_hash FROM review_items")
    finally:
        con.close()
