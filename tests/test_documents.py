"""Ingestion of a folder of text, Markdown and HTML files (newsmon.documents)."""

from __future__ import annotations

import gzip
import json
import os
from collections import Counter
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
import trafilatura
from support import SEEDS

import newsmon.documents as documents_module
from newsmon.documents import document_id, iter_document_files, read_document, read_documents
from newsmon.errors import InputError
from newsmon.models import Document, IngestResult
from newsmon.text import text_hash, words

SEED_TITLES = [
    "Antony Blinken, want to enter the “heart of Moscow’s sphere of influence”?",
    "In Central Asia, Blinken Will Urge Distance From Russia, and Ukraine War",
]
BOILERPLATE = ["Spread the love", "Source link", "Leave a Reply", "Your email address will not be published"]
FRENCH_TITLE = "Réunion à Genève"
FRENCH_BODY = "Le président a déclaré que la réunion à Genève était très importante pour l’économie."
RUSSIAN_BODY = "Министры Казахстана и Узбекистана провели переговоры в Астане."
HTML_PAGE = """<!DOCTYPE html>
<html><head><title>Ministers meet in Astana</title></head>
<body>
<nav><a href="/">Home</a> <a href="/world">World</a></nav>
<article>
<h1>Ministers meet in Astana</h1>
<p>The foreign ministers of Kazakhstan and Uzbekistan met in Astana on Tuesday to discuss trade,
energy and regional security with their counterparts from the United States.</p>
<p>They agreed to meet again next year and to expand cooperation on water management across the
region, officials said after the talks.</p>
</article>
<footer>Copyright 2023 Example News</footer>
</body></html>
"""


def by_name(result: IngestResult) -> dict[str, Document]:
    return {Path(d.url.removeprefix("file://")).name: d for d in result.documents}


def skip_reasons(result: IngestResult) -> dict[str, str]:
    return {Path(s.path).name: s.reason for s in result.skipped}


# --- the seed folder ----------------------------------------------------------------------


@pytest.fixture
def seed_result(seeds_dir: Path, now: datetime) -> IngestResult:
    return read_documents(seeds_dir, now)


def test_seeds_are_read_in_order_with_their_titles(seed_result: IngestResult) -> None:
    assert seed_result.files_seen == 2
    assert seed_result.skipped == []
    assert [d.title for d in seed_result.documents] == SEED_TITLES


def test_first_seed_attribution_is_lifted(seed_result: IngestResult) -> None:
    first, second = seed_result.documents
    assert first.origin == "WeChat official account: Buyidao"
    assert first.author == "Nine Life Sabre"
    assert first.body.startswith("Within one day, Antony Blinken visited")
    assert "Writing/Nine Life Sabre" not in first.body
    assert "authorized to reprint" not in first.body
    assert (second.origin, second.author) == (None, None)
    assert second.body.startswith("Secretary of State Antony J. Blinken is flying on Tuesday")


@pytest.mark.parametrize("phrase", BOILERPLATE)
def test_seed_bodies_have_no_boilerplate(seed_result: IngestResult, phrase: str) -> None:
    for doc in seed_result.documents:
        assert phrase not in doc.body
        assert doc.boilerplate_lines > 0


def test_seed_bodies_keep_their_content(seed_result: IngestResult) -> None:
    first, second = seed_result.documents
    assert first.body.rstrip().endswith("this will always be an unsolvable problem.")
    assert second.body.rstrip().endswith("maintaining the pipeline’s flow.")
    assert "\n\n\n" not in first.body


def test_seed_document_fields(seed_result: IngestResult, seeds_dir: Path, now: datetime) -> None:
    for doc in seed_result.documents:
        assert doc.url.startswith("file://")
        assert Path(doc.url.removeprefix("file://")).parent == seeds_dir.resolve()
        assert doc.id == document_id(doc.url)
        assert doc.source == "seeds"
        assert doc.source_kind == "file"
        assert doc.first_seen_at == now
        assert doc.charset == "utf-8"
        assert doc.text_hash == text_hash(f"{doc.title}\n{doc.body}")
    assert len({d.id for d in seed_result.documents}) == 2


def test_reading_twice_gives_the_same_documents(seeds_dir: Path, now: datetime) -> None:
    assert read_documents(seeds_dir, now) == read_documents(seeds_dir, now)


def test_source_name_can_be_given(seeds_dir: Path, now: datetime) -> None:
    assert {d.source for d in read_documents(seeds_dir, now, source="wire").documents} == {"wire"}


# --- a folder of mixed files --------------------------------------------------------------


@pytest.fixture
def mixed_folder(tmp_path: Path) -> Path:
    folder = tmp_path / "inbox"
    (folder / "sub").mkdir(parents=True)
    (folder / ".hidden-dir").mkdir()
    (folder / "a-binary.txt").write_bytes(bytes.fromhex("89504e470d0a1a0a0000000d4948445200000001") + b"\x00" * 64)
    (folder / "b-empty.txt").write_bytes(b"")
    (folder / "c-whitespace.txt").write_bytes(b"  \n\t\r\n   \n")
    (folder / "latin1.txt").write_bytes(f"{FRENCH_TITLE}\n{FRENCH_BODY}\n".encode("cp1252"))
    (folder / "note.md").write_text(
        "# Summit in [Astana](http://x)\n\nSee [the report](http://x) and ![a map](http://x/map.png) for details.\n",
        encoding="utf-8",
    )
    (folder / "page.html").write_text(HTML_PAGE, encoding="utf-8")
    (folder / "utf16.txt").write_bytes(f"Переговоры\n{RUSSIAN_BODY}\n".encode("utf-16"))
    (folder / "report.pdf").write_bytes(b"%PDF-1.4\nnot read\n")
    (folder / "image.png").write_bytes(b"\x89PNG\r\n\x1a\n")
    (folder / ".hidden.txt").write_text("Hidden\nNot to be read.\n", encoding="utf-8")
    (folder / ".hidden-dir" / "inside.txt").write_text("Hidden dir\nNot to be read.\n", encoding="utf-8")
    (folder / "sub" / "inner.txt").write_text("Inner title\nInner body sentence.\n", encoding="utf-8")
    return folder


def test_mixed_folder_counts(mixed_folder: Path, now: datetime) -> None:
    result = read_documents(mixed_folder, now)
    # pdf, png, hidden file and hidden folder are not seen at all
    assert result.files_seen == 8
    assert sorted(by_name(result)) == ["inner.txt", "latin1.txt", "note.md", "page.html", "utf16.txt"]
    assert len(result.skipped) == 3
    assert len(result.documents) + len(result.skipped) == result.files_seen
    # the pdf and the png are not read, but counted by type: a user learns they were left out
    assert result.other_types == {".pdf": 1, ".png": 1}


def test_files_of_other_types_are_named_in_the_run_summary(tmp_path: Path) -> None:
    from cli.report import summary_lines
    from newsmon.config import Settings
    from newsmon.pipeline import RunSummary

    summary = RunSummary("run-1", files_other={".pdf": 2, "(no suffix)": 1})
    text = " ".join("\n".join(summary_lines(summary, Settings(), 1.0, 100)).split())
    assert "3 files of other types ((no suffix), .pdf ×2) not read" in text
    assert "note: newsmon reads .htm .html .markdown .md .text .txt files" in text
    assert "nothing to read" not in text  # there was something: of a type newsmon does not read
    one = " ".join("\n".join(summary_lines(RunSummary("r", files_other={".docx": 1}), Settings(), 1.0, 100)).split())
    assert "1 file of another type (.docx) not read" in one
    for seeds, shown in ((Path("seeds"), "./seeds"), (tmp_path / "inbox", str(tmp_path / "inbox"))):
        empty = " ".join("\n".join(summary_lines(RunSummary("r"), Settings(seeds=seeds), 1.0, 200)).split())
        assert f"next: nothing to read: put documents in {shown}, or add a feed" in empty


def test_mixed_folder_skip_reasons(mixed_folder: Path, now: datetime) -> None:
    reasons = skip_reasons(read_documents(mixed_folder, now))
    assert set(reasons) == {"a-binary.txt", "b-empty.txt", "c-whitespace.txt"}
    assert reasons["a-binary.txt"].startswith("not text")
    assert reasons["b-empty.txt"].startswith("empty")
    assert reasons["c-whitespace.txt"].startswith("empty")


def test_skips_are_logged(mixed_folder: Path, now: datetime, caplog: pytest.LogCaptureFixture) -> None:
    with caplog.at_level("WARNING", logger="newsmon.documents"):
        read_documents(mixed_folder, now)
    assert sum("skipped" in r.getMessage() for r in caplog.records) == 3


def test_legacy_and_utf16_text_files(mixed_folder: Path, now: datetime) -> None:
    docs = by_name(read_documents(mixed_folder, now))
    latin = docs["latin1.txt"]
    assert (latin.title, latin.body) == (FRENCH_TITLE, FRENCH_BODY)
    assert latin.charset is not None and latin.charset != "utf-8"
    utf16 = docs["utf16.txt"]
    assert (utf16.title, utf16.body, utf16.charset) == ("Переговоры", RUSSIAN_BODY, "utf-16")


def test_markdown_heading_and_links(mixed_folder: Path, now: datetime) -> None:
    doc = by_name(read_documents(mixed_folder, now))["note.md"]
    assert doc.title == "Summit in Astana"
    assert doc.body == "See the report and a map for details."
    assert "http://x" not in doc.body


@pytest.mark.parametrize(
    ("name", "text", "title", "body", "published"),
    [
        (
            "g7.md",
            '---\ntitle: "Sanctions on Russia widened"\ndate: 2023-05-19\ntags: [g7]\n---\n\n'
            "The G7 agreed new sanctions.\n",
            "Sanctions on Russia widened", "The G7 agreed new sanctions.", datetime(2023, 5, 19, tzinfo=UTC),
        ),
        (  # a time with an offset, and a headline repeating the front matter's title
            "talks.markdown",
            "---\ntitle: 'Talks in Astana &amp; Tashkent'\ndate: 2023-05-19 10:30:00 +0200\n---\n"
            "# Talks in Astana & Tashkent\n\nThey met.\n",
            "Talks in Astana & Tashkent", "They met.", datetime(2023, 5, 19, 8, 30, tzinfo=UTC),
        ),
        (  # YAML escapes in double quotes, as a site generator writes typographic quotes
            "lasso.md",
            '---\ntitle: "Remarks on \\u201CTed Lasso,\\u201D the \\"show\\" \\U0001F3C6"\n'
            "date: 2023-03-20\n---\n\nText.\n",
            'Remarks on “Ted Lasso,” the "show" 🏆', "Text.", datetime(2023, 3, 20, tzinfo=UTC),
        ),
    ],
)  # fmt: skip
def test_markdown_front_matter_gives_title_and_published_time(
    tmp_path: Path, now: datetime, name: str, text: str, title: str, body: str, published: datetime
) -> None:
    path = tmp_path / name
    path.write_text(text, encoding="utf-8")
    doc = read_document(path, now, "files")
    assert (doc.title, doc.body, doc.published_at) == (title, body, published)


def test_markdown_inline_markup_is_read_as_text(tmp_path: Path, now: datetime) -> None:
    (tmp_path / "meet.md").write_text(
        "**Biden &amp; Xi meet in San Francisco**\n\n"
        "They met on <s>Tuesday</s> Wednesday, <del>not</del> at the <em>Filoli</em> estate &mdash; "
        "aides said <!-- check -->so. The `List<int>` stays.\n",
        encoding="utf-8",
    )
    (tmp_path / "report.md").write_text("## Report \\#1: __new__ *sanctions* ##\n\nText.\n", encoding="utf-8")
    docs = by_name(read_documents(tmp_path, now))
    meet = docs["meet.md"]
    assert meet.title == "Biden & Xi meet in San Francisco"
    assert meet.body == "They met on Wednesday, at the Filoli estate — aides said so. The `List<int>` stays."
    assert docs["report.md"].title == "Report #1: new sanctions"


def test_text_files_keep_markdown_like_characters(tmp_path: Path, now: datetime) -> None:
    (tmp_path / "note.txt").write_text(
        "---\ntitle: x\n---\n\n**Biden &amp; Xi**\n\nOn <s>Tuesday</s>.\n", encoding="utf-8"
    )
    doc = read_document(tmp_path / "note.txt", now, "files")
    assert doc.title == "---"
    assert "**Biden &amp; Xi**" in doc.body
    assert "<s>Tuesday</s>" in doc.body
    assert doc.published_at is None


def test_html_page(mixed_folder: Path, now: datetime) -> None:
    doc = by_name(read_documents(mixed_folder, now))["page.html"]
    assert doc.title == "Ministers meet in Astana"
    assert "foreign ministers of Kazakhstan and Uzbekistan met in Astana" in doc.body
    assert "water management" in doc.body
    assert "Home" not in doc.body
    assert doc.extractor == f"trafilatura/{trafilatura.__version__}+fast,recall"  # the options are provenance


def test_subfolders_are_read_and_order_is_stable(mixed_folder: Path, now: datetime) -> None:
    paths = list(iter_document_files(mixed_folder))
    assert [p.relative_to(mixed_folder).as_posix() for p in paths] == [
        "a-binary.txt",
        "b-empty.txt",
        "c-whitespace.txt",
        "latin1.txt",
        "note.md",
        "page.html",
        "utf16.txt",
        "sub/inner.txt",
    ]
    assert by_name(read_documents(mixed_folder, now))["inner.txt"].body == "Inner body sentence."


def test_a_bad_file_never_stops_the_run(tmp_path: Path, now: datetime, monkeypatch: pytest.MonkeyPatch) -> None:
    (tmp_path / "0-huge.txt").write_text("Huge\n" + "word " * 100, encoding="utf-8")
    (tmp_path / "1-binary.txt").write_bytes(b"\x00\x01\x02" * 50)
    (tmp_path / "2-no-text.html").write_text("<html><body><script>var x = 1;</script></body></html>", encoding="utf-8")
    try:
        os.symlink(tmp_path / "missing-target.txt", tmp_path / "3-dangling.txt")
    except OSError:
        pytest.skip("symlinks are not supported here")
    (tmp_path / "4-good.txt").write_text("Good title\nGood body.\n", encoding="utf-8")
    monkeypatch.setattr(documents_module, "MAX_FILE_BYTES", 200)
    result = read_documents(tmp_path, now)
    assert result.files_seen == 5
    assert [d.title for d in result.documents] == ["Good title"]
    reasons = skip_reasons(result)
    assert reasons["0-huge.txt"] == (
        "too large (0.5 KiB; newsmon reads files of up to 0.2 KiB): split it into smaller files"
    )
    assert reasons["1-binary.txt"].startswith("not text") and reasons["1-binary.txt"].endswith(
        ": save it as plain text (.txt) to have it read"
    )
    assert reasons["2-no-text.html"].startswith("no main text")
    assert reasons["3-dangling.txt"].startswith("unreadable")


def test_single_line_file_is_title_and_body(tmp_path: Path, now: datetime) -> None:
    (tmp_path / "one.txt").write_text("Only one line here\n", encoding="utf-8")
    (doc,) = read_documents(tmp_path, now).documents
    assert doc.title == doc.body == "Only one line here"


def test_empty_folder(tmp_path: Path, now: datetime) -> None:
    result = read_documents(tmp_path, now)
    assert (result.files_seen, result.documents, result.skipped) == (0, [], [])


def test_missing_folder_is_an_input_error(tmp_path: Path, now: datetime) -> None:
    with pytest.raises(InputError, match="does not exist"):
        read_documents(tmp_path / "nope", now)


def test_a_file_instead_of_a_folder_is_an_input_error(tmp_path: Path, now: datetime) -> None:
    path = tmp_path / "file.txt"
    path.write_text("Title\nBody.\n", encoding="utf-8")
    with pytest.raises(InputError, match="not a folder"):
        read_documents(path, now)


# --- real pages against gold text ---------------------------------------------------------

BENCHMARK_PAGES = [
    "04a6711caa7c687592777718866e781e976e0fe684faebe8b3cedcef8cd0ea34",
    "05844573ca7e1fba714d715bb11ca08c26e25328999c74a1cb3bc8a0e4399f0f",
    "06e5123e4ef7cfb4533250dc45d1e03d0838fc66223f45c583c4d12f48b4da85",
]


@pytest.mark.parametrize("name", BENCHMARK_PAGES)
def test_real_html_body_matches_gold_text(shared_data: Path, tmp_path: Path, now: datetime, name: str) -> None:
    bench = shared_data / "html" / "article-extraction-benchmark"
    page = bench / "html" / f"{name}.html.gz"
    if not page.is_file():
        pytest.skip(f"{page} is absent from ../shared/data")
    gold = json.loads((bench / "ground-truth.json").read_text(encoding="utf-8"))[name]["articleBody"]
    (tmp_path / f"{name}.html").write_bytes(gzip.decompress(page.read_bytes()))

    result = read_documents(tmp_path, now)
    assert result.skipped == []
    (doc,) = result.documents
    assert doc.title.strip()
    gold_words, body_words = Counter(words(gold)), Counter(words(doc.body))
    shared = sum((gold_words & body_words).values())
    recall = shared / sum(gold_words.values())
    precision = shared / sum(body_words.values())
    assert recall >= 0.85, f"only {recall:.0%} of the gold words were extracted"
    assert precision >= 0.7, f"only {precision:.0%} of the extracted words are in the gold text"


# -- titles of plain texts ----------------------------------------------------------------------

RUN_ON = (
    "Ministers agree rail corridor The finance ministers of five Central Asian states agreed on Tuesday to "
    "build a rail corridor to the Caspian Sea. The project would cut freight times by a week."
)


def test_a_headline_run_into_the_first_paragraph_is_not_the_title(tmp_path: Path, now: datetime) -> None:
    path = tmp_path / "runon.txt"
    path.write_text(RUN_ON + "\nA second paragraph follows here.\n", encoding="utf-8")
    doc = read_document(path, now, "files")
    assert doc.body.startswith("Ministers agree rail corridor The finance ministers")  # the whole text is the body
    assert doc.body.endswith("A second paragraph follows here.")
    assert len(doc.title) <= 101 and doc.title.startswith("Ministers agree rail corridor")


def test_a_first_line_that_looks_like_a_headline_stays_the_title(tmp_path: Path, now: datetime) -> None:
    path = tmp_path / "proper.txt"
    path.write_text("Dr. Mandy Cohen to lead the CDC\n" + RUN_ON + "\n", encoding="utf-8")
    doc = read_document(path, now, "files")
    assert doc.title == "Dr. Mandy Cohen to lead the CDC" and doc.body == RUN_ON


WRAPPED = """G7 leaders agree new measures

At the one-year mark of the invasion, we, the Leaders of the Group of
Seven, met with the President of Ukraine to reaffirm our support for as
long as it takes.  We will continue to impose coordinated sanctions and
other economic measures on Russia and on those who help it evade them,
and we will keep the price cap on seaborne crude oil under review.

-   We commit to further restrict access to our economies for industrial
    goods and technologies that help Russia build its military.
-   We will act against third-country actors materially supporting the
    war, including those who supply it with battlefield items.

The G7 will meet again in Hiroshima in May to take stock of the measures
taken and to agree on further steps where they are needed.
"""


def test_a_hard_wrapped_text_file_is_read_one_paragraph_per_line(tmp_path: Path, now: datetime) -> None:
    """Wire copy, e-mail and Markdown exports wrap lines at a width: the sentences cut by the
    wraps are joined back, so topics and boilerplate lines see whole sentences."""
    path = tmp_path / "g7.txt"
    path.write_text(WRAPPED, encoding="utf-8")
    doc = read_document(path, now, "files")
    assert doc.title == "G7 leaders agree new measures"
    paragraphs = [p for p in doc.body.split("\n") if p.strip()]
    assert len(paragraphs) == 4  # two paragraphs and two list items
    assert "we, the Leaders of the Group of Seven, met" in paragraphs[0]
    assert "coordinated sanctions and other economic measures on Russia" in paragraphs[0]
    assert paragraphs[1].startswith("- We commit") or paragraphs[1].startswith("-   We commit")
    assert paragraphs[2].endswith("battlefield items.")


@pytest.mark.parametrize(
    "text",
    [
        "Tour dates\nJune 9 - West Palm Beach, FL @ Coral Sky Amphitheatre\nJune 11 - Tampa, FL @ MidFlorida"
        " Credit Union Amphitheatre\nJune 12 - Atlanta, GA @ Cellairis Amphitheatre at Lakewood\nJune 14 -"
        " Raleigh, NC\nJune 16 - Charlotte, NC @ PNC Music Pavilion\nJune 18 - Virginia Beach, VA @ Veterans"
        " United Home Loans Amphitheater\nJune 20 - Washington, DC @ Jiffy Lube Live\n",
        "One paragraph per line, as pages are extracted.\nAnother paragraph of the story follows here.\n" * 5,
    ],
)
def test_lists_and_one_paragraph_per_line_texts_are_not_unwrapped(text: str) -> None:
    from newsmon.text import is_hard_wrapped, unwrap_lines

    assert not is_hard_wrapped(text)
    assert unwrap_lines(text) == text


def test_a_short_hard_wrapped_statement_is_unwrapped() -> None:
    """Fewer than six wrapped lines under a headline of their own: unwrapped when every line
    followed by another is wrapped; a headline run straight into a byline or a list is not."""
    from newsmon.text import unwrap_lines

    body = (
        "He looks forward to speaking with Republicans, Democrats, and the\n"
        "country about how we can work together to continue building an economy\n"
        "that works from the bottom up and the middle out, keep boosting our\n"
        "competitiveness in the world, keep the American people safe, and bring\n"
        "the country together.\n"
    )
    headline = "Statement by the Press Secretary on the State of the Union\n\n"
    assert unwrap_lines(headline + body) == headline + " ".join(body.split()) + "\n"
    bylined = (
        "Uzbekistan and Kazakhstan sign a new water-sharing agreement\n"
        "By Jane Doe, Senior Correspondent for Central Asian affairs\n"
        "The two countries signed the deal on Monday in Tashkent.\n"
    )
    assert unwrap_lines(bylined) == bylined
    # no headline apart: nothing says the first line is not one, so it stays; the sentence that
    # goes on over the lines after it, in lower case, is joined
    first, rest = body.split("\n", 1)
    assert unwrap_lines(body) == first + "\n" + " ".join(rest.split()) + "\n"


def test_a_sentence_broken_over_two_lines_of_a_short_note_is_one_sentence(tmp_path: Path) -> None:
    """A short note typed with returns, not wrapped at a width: a line that ends mid-sentence
    followed by one in lower case is one sentence (a topic that needs both halves tags it)."""
    from newsmon.config import default_topics_path
    from newsmon.text import unwrap_lines
    from newsmon.topics import load_topics, tag_documents

    note = (
        "Brussels meeting ends late on Friday\n\n"
        "EU foreign ministers meeting in Brussels on Friday agreed on new sanctions\n"
        "that target the banking sector of Russia and the firms that help it.\n"
    )
    joined = note.replace("sanctions\nthat", "sanctions that")
    assert unwrap_lines(note) == joined
    kept = [
        "Title of the piece\nby Jane Doe\n",  # the headline's next line is never joined to it
        "Lead\n\nThe talks went on until late on Friday night\n- and a list item\n",
        "Lead\n\nThe talks went on until late on Friday night.\nthen nothing\n",  # a sentence ended
        "Lead\n\nShort label\nlower case\n",  # a short line is a label
        "Lead\n\n| a table row of the text here |\nnext line\n",
    ]
    kept += [
        "Lead\n\nThe talks went on until late on Friday night\nphoto: reuters\n",  # a credit line
        "Lead\n\n```\nresult = compute_value(alpha, beta\nreturn result\n```\n",  # code
        "Lead\n\nA short line\nthat ends here\n",  # under 20 characters as written
    ]
    for text in kept:
        assert unwrap_lines(text) == text, text
    chained = "Lead\n\nThe talks went on until late on Friday\nand Saturday too\nand beyond\n"
    # the short line joins the long one; the line after it does not chain on (16 characters as written)
    assert unwrap_lines(chained) == "Lead\n\nThe talks went on until late on Friday and Saturday too\nand beyond\n"
    (tmp_path / "note.txt").write_text(note, encoding="utf-8")
    path_doc = read_document(tmp_path / "note.txt", datetime.now(UTC), "notes")
    assert "sanctions that target" in path_doc.body
    topics = load_topics(default_topics_path())
    assert [t.topic for t in tag_documents([path_doc], topics)] == ["russia-sanctions"]


def test_table_rows_in_a_wrapped_text_stay_rows() -> None:
    from newsmon.text import unwrap_lines

    paragraph = (
        "The council met on Tuesday to discuss the new budget and the measures that\n"
        "it would take in the coming months to support the region's farmers and the\n"
        "small businesses that depend on them, according to the minutes released on\n"
        "Friday by the clerk's office, which also listed the members who attended\n"
    )
    text = paragraph + "| Member | Vote |\n| Smith | yes |\n| Jones | no |\n" + paragraph
    lines = unwrap_lines(text).split("\n")
    assert lines[1:4] == ["| Member | Vote |", "| Smith | yes |", "| Jones | no |"]
    assert lines[0].startswith("The council met") and lines[0].endswith("members who attended")


def test_the_seeds_are_not_hard_wrapped(seeds_dir: Path) -> None:
    from newsmon.text import is_hard_wrapped

    for path in sorted(seeds_dir.iterdir()):
        assert not is_hard_wrapped(path.read_text(encoding="utf-8")), path.name


def test_a_run_in_its_own_folder_never_reads_its_database_or_alerts(tmp_path: Path) -> None:
    """Run in the folder that holds the documents (``--seeds .``), newsmon's database, lock,
    snapshot and alerts folder lie among them: they are never read, or every run would store
    its last digest as news, tag it and alert again."""
    from newsmon.config import Settings, default_topics_path
    from newsmon.pipeline import RunContext, run_once
    from newsmon.topics import load_topics
    from storage.store import Store

    for seed in SEEDS.glob("*.txt"):
        (tmp_path / seed.name).write_bytes(seed.read_bytes())
    settings = Settings(
        db=tmp_path / "newsmon.duckdb", seeds=tmp_path, alerts_dir=tmp_path / "alerts", extract_workers=1
    )
    topics = load_topics(default_topics_path())
    summaries = []
    for n in range(3):
        store = Store.open_writer(settings.db)
        try:
            summaries.append(run_once(RunContext(settings, store, topics, datetime.now(UTC), f"run-{n}")))
        finally:
            store.close()
    assert any((tmp_path / "alerts").iterdir()) and (tmp_path / "newsmon.snapshot.duckdb").exists()
    assert [(s.files_seen, s.documents_new, s.files_other) for s in summaries] == [(2, 2, {})] + [(2, 0, {})] * 2
    assert summaries[0].alerts and not summaries[1].alerts and not summaries[2].alerts
    files = list(documents_module.iter_folder_files(tmp_path, [tmp_path / "alerts", settings.db]))
    assert sorted(p.name for p in files if p.suffix == ".txt") == sorted(p.name for p in SEEDS.glob("*.txt"))
    assert not any("alerts" in p.parts or p.name == "newsmon.duckdb" for p in files)


def test_an_edited_file_is_counted_as_changed_in_the_run_summary(tmp_path: Path) -> None:
    from cli.report import summary_lines
    from newsmon.config import Settings, default_topics_path
    from newsmon.pipeline import RunContext, run_once
    from newsmon.topics import load_topics
    from storage.store import Store

    folder = tmp_path / "notes"
    folder.mkdir()
    for seed in SEEDS.glob("*.txt"):
        (folder / seed.name).write_bytes(seed.read_bytes())
    settings = Settings(db=tmp_path / "n.duckdb", seeds=folder, alerts_dir=tmp_path / "alerts", extract_workers=1)
    topics = load_topics(default_topics_path())

    def run(n: int) -> Any:
        store = Store.open_writer(settings.db)
        try:
            return run_once(RunContext(settings, store, topics, datetime.now(UTC), f"run-{n}"))
        finally:
            store.close()

    assert run(1).documents_changed == 0
    edited = sorted(folder.glob("*.txt"))[0]
    edited.write_text(edited.read_text(encoding="utf-8") + "\nA correction was added.\n", encoding="utf-8")
    second = run(2)
    assert (second.documents_new, second.documents_changed, second.documents_unchanged) == (0, 1, 1)
    text = " ".join("\n".join(summary_lines(second, settings, 1.0, 200)).split())
    assert "(1 stored document changed (updated), 1 document unchanged)" in text


def test_a_linked_file_is_a_file_of_the_folder_under_its_own_name(tmp_path: Path) -> None:
    """A link in the folder is read under its own path: a link to a file of the folder is a
    second document (a copy), not one that vanishes into its target, and a link to a file
    elsewhere does not store that other path."""
    folder = tmp_path / "notes"
    (folder / "sub").mkdir(parents=True)
    target = folder / "sub" / "a.txt"
    target.write_text("Talks in Astana\n\nThe foreign ministers met in Astana on Monday.\n", encoding="utf-8")
    outside = tmp_path / "elsewhere.txt"
    outside.write_text("Elsewhere\n\nA note kept in another folder entirely.\n", encoding="utf-8")
    try:
        (folder / "link.txt").symlink_to(Path("sub") / "a.txt")
        (folder / "out.txt").symlink_to(outside)
    except OSError:
        pytest.skip("symlinks are not supported here")
    found = read_documents(folder, datetime.now(UTC))
    urls = sorted(d.url for d in found.documents)
    root = folder.resolve().as_uri()
    assert urls == [f"{root}/link.txt", f"{root}/out.txt", f"{root}/sub/a.txt"]
    assert len({d.id for d in found.documents}) == 3 and found.files_seen == 3
    texts = {d.url.rsplit("/", 1)[-1]: d.text_hash for d in found.documents}
    assert texts["link.txt"] == texts["a.txt"]


def test_a_file_name_with_control_characters_cannot_break_or_drive_a_warning(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    names = ["empty\nname.txt", "clear\x1b[2Jscreen.txt"]
    for name in names:
        try:
            (tmp_path / name).write_text("", encoding="utf-8")
        except OSError:
            pytest.skip("this file system refuses such names")
    with caplog.at_level("WARNING", logger="newsmon.documents"):
        result = read_documents(tmp_path, datetime.now(UTC))
    assert len(result.skipped) == 2
    lines = [r.getMessage() for r in caplog.records if r.getMessage().startswith("skipped")]
    assert len(lines) == 2 and all("\n" not in line and "\x1b" not in line for line in lines)
    shown = " ".join(lines)
    assert "empty\\nname.txt" in shown and "clear\\x1b[2Jscreen.txt" in shown
