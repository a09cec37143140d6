"""What an analyst uses: ``newsmon sql`` (readable in any terminal, every statement of a script,
the formats), ``newsmon export``, the digest's dates, trend and links, and every query of the
README, on a database made by a real run of the seed documents."""

from __future__ import annotations

import csv
import io
import json
import re
import shlex
import stat
import subprocess
import sys
from dataclasses import replace
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any

import duckdb
import pyarrow.parquet as pq
import pytest
from support import REPO, SEEDS, Newsmon

from newsmon.alerting import store_alerts
from newsmon.alerts import render_topic_html, render_topic_markdown
from newsmon.config import Settings, default_topics_path, load_settings
from newsmon.documents import read_documents
from newsmon.errors import ConfigError
from newsmon.models import StoryLine
from newsmon.pipeline import RunContext, run_once
from newsmon.results import cut, fit_widths, render_table, text_width
from newsmon.steps import Deduped, dedupe_batch, store_batch
from newsmon.topics import load_topics, tag_documents
from newsmon.trends import TrendPoint
from storage.catalog import public_views
from storage.store import Store

pytestmark = pytest.mark.xdist_group("analyst-run")

DASHBOARD = "https://dash.example/newsmon"


@pytest.fixture(scope="module")
def run_db(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A database from a real run of the pipeline over the seed documents (the core the flow
    runs, without Prefect), on today's clock, with a dashboard configured."""
    tmp = tmp_path_factory.mktemp("analyst")
    settings = Settings(
        db=tmp / "news.duckdb", seeds=SEEDS, alerts_dir=tmp / "alerts", extract_workers=1, dashboard_url=DASHBOARD
    )
    store = Store.open_writer(settings.db)
    try:
        summary = run_once(RunContext(settings, store, load_topics(settings.topics_path), datetime.now(UTC), "run-1"))
    finally:
        store.close()
    assert summary.documents_new == 2 and summary.alerts
    return settings.db


def _rows(db: Path, sql: str) -> list[tuple[object, ...]]:
    con = duckdb.connect(str(db), read_only=True)
    try:
        return con.execute(sql).fetchall()
    finally:
        con.close()


def _one_line_error(result: object) -> str:
    assert result.exit_code == 1, result.stdout  # type: ignore[attr-defined]
    lines = [ln for ln in result.stderr.splitlines() if ln.strip()]  # type: ignore[attr-defined]
    assert len(lines) == 1 and lines[0].startswith("newsmon: error: "), lines
    return lines[0]


# --- newsmon sql: readable ----------------------------------------------------------------------


def test_v_documents_fits_a_100_column_terminal(run_db: Path, newsmon: Newsmon) -> None:
    result = newsmon("sql", "select * from v_documents limit 5", "--db", str(run_db), env={"COLUMNS": "100"})
    assert result.exit_code == 0, result.stderr
    lines = result.stdout.splitlines()
    assert len(lines) <= 60, len(lines)
    assert max(text_width(line) for line in lines) <= 100
    ids = [r[0] for r in _rows(run_db, "select id from v_documents")]
    assert all(any(i in line for line in lines) for i in ids)  # every row is there
    body_lines = [line for line in lines if line.startswith("body ")]
    assert len(body_lines) == len(ids) and all(line.endswith("…") for line in body_lines)  # cut, not wrapped
    assert lines[-1] == "(2 rows)"


def test_columns_are_sized_to_their_content(run_db: Path, newsmon: Newsmon) -> None:
    result = newsmon("sql", "select story_id, documents from v_stories", "--db", str(run_db), env={"COLUMNS": "200"})
    header, rule, *rows, count = result.stdout.splitlines()
    assert header == "story_id             │ documents" and len(rule) == len(header)
    assert all(len(row) == len(header) for row in rows) and count == "(2 rows)"


def test_max_width_cuts_every_cell(run_db: Path, newsmon: Newsmon) -> None:
    query = "select title, url, source from v_documents"
    result = newsmon("sql", query, "--db", str(run_db), "--max-width", "12", env={"COLUMNS": "200"})
    titles = {r[0] for r in _rows(run_db, "select title from v_documents")}
    for line in result.stdout.splitlines()[2:-1]:
        cells = [c.strip() for c in line.split("│")]
        assert all(text_width(c) <= 12 for c in cells)
        assert cells[0].endswith("…") and any(t.startswith(cells[0][:-1]) for t in titles)


def test_every_statement_of_a_script_is_answered(run_db: Path, newsmon: Newsmon) -> None:
    script = "select count(*) as n from v_documents;\nset threads = 1;\nselect topic from v_document_topics order by 1;"
    result = newsmon("sql", script, "--db", str(run_db), env={"COLUMNS": "80"})
    assert result.exit_code == 0, result.stderr
    out = result.stdout
    headers = [ln for ln in out.splitlines() if ln.startswith("-- [")]
    assert headers == [
        "-- [1/3] select count(*) as n from v_documents",
        "-- [2/3] set threads = 1",
        "-- [3/3] select topic from v_document_topics order by 1",
    ]
    first, second, third = re.split(r"^-- \[\d/3\].*$", out, flags=re.M)[1:]
    assert "(1 row)" in first and "\n2\n" in first
    assert second.strip() == "ok"
    assert third.count("russia-sanctions") == 2 and "(5 rows)" in third
    as_json = json.loads(newsmon("sql", script, "--db", str(run_db), "-f", "json").stdout)
    assert [a["statement"] for a in as_json][1] == "set threads = 1"
    assert as_json[0]["rows"] == [{"n": 2}] and len(as_json[2]["rows"]) == 5


def test_a_failing_statement_says_which(run_db: Path, newsmon: Newsmon) -> None:
    result = newsmon("sql", "select 1 as a; select * from nowhere", "--db", str(run_db))
    assert "-- [1/2] select 1 as a" in result.stdout  # the answers before it are printed
    assert "statement 2 of 2 failed" in _one_line_error(result)


@pytest.mark.parametrize("query", ["", "   ", "/* only a comment */", ";"])
def test_an_empty_query_is_one_line(run_db: Path, newsmon: Newsmon, query: str) -> None:
    line = _one_line_error(newsmon("sql", query, "--db", str(run_db)))
    assert "empty query" in line or "query failed" in line


def test_no_query_at_all_is_one_line(run_db: Path, newsmon: Newsmon) -> None:
    assert "no query" in _one_line_error(newsmon("sql", "--db", str(run_db)))


def test_query_from_a_file_and_from_stdin(run_db: Path, newsmon: Newsmon, tmp_path: Path) -> None:
    script = tmp_path / "report.sql"
    script.write_text("-- stories\nselect count(*) as stories from v_stories;\n", encoding="utf-8")
    from_file = newsmon("sql", "--file", str(script), "--db", str(run_db), "-f", "csv")
    assert from_file.exit_code == 0 and from_file.stdout == "stories\n2\n"
    from_stdin = newsmon("sql", "-", "--db", str(run_db), "-f", "csv", input="select 7 as seven")
    assert from_stdin.exit_code == 0 and from_stdin.stdout == "seven\n7\n"
    both = newsmon("sql", "select 1", "--file", str(script), "--db", str(run_db))
    assert "not both" in _one_line_error(both)


def test_text_formats(run_db: Path, newsmon: Newsmon) -> None:
    query = "select story_id, canonical_title, documents, spread, source_list from v_stories order by story_id"
    expected = _rows(run_db, query)

    def out(fmt: str) -> str:
        result = newsmon("sql", query, "--db", str(run_db), "-f", fmt)
        assert result.exit_code == 0, result.stderr
        return result.stdout

    rows = list(csv.DictReader(io.StringIO(out("csv"))))
    assert [r["story_id"] for r in rows] == [e[0] for e in expected]
    assert rows[0]["canonical_title"] == expected[0][1] and json.loads(rows[0]["source_list"]) == ["seeds"]
    lines = [json.loads(line) for line in out("jsonl").splitlines()]
    assert [r["canonical_title"] for r in lines] == [e[1] for e in expected] and lines[0]["spread"] == 0.0
    assert json.loads(out("json")) == lines
    markdown = out("markdown").splitlines()
    assert markdown[0] == "| story_id | canonical_title | documents | spread | source_list |"
    assert markdown[1] == "|---|---|---:|---|---|" and len(markdown) == 2 + len(expected)


def test_csv_text_never_starts_a_formula_and_numbers_stay_numbers(run_db: Path, newsmon: Newsmon) -> None:
    query = (
        "select '=HYPERLINK(\"http://x\",\"y\")' as title, '+1 555' as phone, '@SUM(A1)' as at,"
        " '-2 dead' as minus, -2 as n, -2.5 as x, 'Plain' as plain"
    )
    result = newsmon("sql", query, "--db", str(run_db), "-f", "csv")
    assert result.exit_code == 0, result.stderr
    (row,) = list(csv.DictReader(io.StringIO(result.stdout)))
    assert row == {
        "title": "'=HYPERLINK(\"http://x\",\"y\")", "phone": "'+1 555", "at": "'@SUM(A1)", "minus": "'-2 dead",
        "n": "-2", "x": "-2.5", "plain": "Plain",
    }  # fmt: skip
    line = newsmon("sql", query, "--db", str(run_db), "-f", "jsonl").stdout
    assert json.loads(line)["title"].startswith("=HYPERLINK")  # JSON keeps the text as it is


def test_parquet_and_output_files(run_db: Path, newsmon: Newsmon, tmp_path: Path) -> None:
    target = tmp_path / "stories.parquet"
    assert "--output" in _one_line_error(newsmon("sql", "select 1", "--db", str(run_db), "-f", "parquet"))
    result = newsmon("sql", "select * from v_stories", "--db", str(run_db), "-f", "parquet", "-o", str(target))
    assert result.exit_code == 0, result.stderr
    assert re.fullmatch(r"wrote 2 rows to .*stories\.parquet \(\d+(\.\d)? KB\)\n", result.stdout), result.stdout
    table = pq.read_table(target)
    assert table.num_rows == 2 and str(table.schema.field("spread").type) == "double"  # intervals as seconds
    csv_file = tmp_path / "out.csv"
    written = newsmon(
        "sql", "select id from v_documents order by id", "--db", str(run_db), "-f", "csv", "-o", str(csv_file)
    )
    assert written.exit_code == 0 and "wrote 2 rows" in written.stdout
    assert csv_file.read_text(encoding="utf-8").splitlines()[0] == "id"
    for name in ("by-suffix.parquet", "by-suffix.csv"):  # no --format: the suffix says which
        newsmon("sql", "select 7 as seven", "--db", str(run_db), "-o", str(tmp_path / name))
    assert pq.read_table(tmp_path / "by-suffix.parquet").to_pylist() == [{"seven": 7}]
    assert (tmp_path / "by-suffix.csv").read_text(encoding="utf-8").splitlines() == ["seven", "7"]
    two = newsmon("sql", "select 1; select 2", "--db", str(run_db), "-f", "parquet", "-o", str(target))
    assert "one statement" in _one_line_error(two)


def test_the_sandbox_still_holds(run_db: Path, newsmon: Newsmon, tmp_path: Path) -> None:
    target = tmp_path / "leak.csv"
    result = newsmon("sql", f"select 1; copy (select 1) to '{target}'", "--db", str(run_db))
    assert "statement 2 of 2 failed" in _one_line_error(result) and not target.exists()
    assert "query failed" in _one_line_error(newsmon("sql", "delete from documents", "--db", str(run_db)))


def test_views_lists_every_public_view_with_its_columns_and_a_line(run_db: Path, newsmon: Newsmon) -> None:
    result = newsmon("sql", "--views", "--db", str(run_db), env={"COLUMNS": "120"})
    assert result.exit_code == 0, result.stderr
    in_db = {r[0] for r in _rows(run_db, "select view_name from duckdb_views() where not internal")}
    described = {v.name: v.description for v in public_views()}
    assert {v for v in in_db if v.startswith("v_")} == set(described)
    for name, description in described.items():
        assert 10 <= len(description) <= 100 and description.endswith("."), (name, description)
        assert f"{name} — {description}" in result.stdout.replace("\n  ", " ")
    columns_sql = "select column_name from information_schema.columns where table_name = 'v_topic_trend' order by 1"
    columns = [r[0] for r in _rows(run_db, columns_sql.replace("order by 1", "order by ordinal_position"))]
    block = result.stdout.split("v_topic_trend — ", 1)[1].split("\nv_", 1)[0]
    assert ", ".join(columns) in " ".join(block.split())
    assert max(len(line) for line in result.stdout.splitlines()) <= 120


def test_views_without_a_database_shows_the_current_schema(newsmon: Newsmon, tmp_path: Path) -> None:
    result = newsmon("sql", "--views", "--db", str(tmp_path / "none.duckdb"))
    assert result.exit_code == 0 and "v_documents — One row per document" in result.stdout
    assert not (tmp_path / "none.duckdb").exists()


def test_views_in_a_machine_format_keeps_the_columns(run_db: Path, newsmon: Newsmon, tmp_path: Path) -> None:
    listed = json.loads(newsmon("sql", "--views", "-f", "json", "--db", str(run_db)).stdout)
    trend = next(v for v in listed if v["view"] == "v_topic_trend")
    sql = "select column_name from information_schema.columns where table_name = 'v_topic_trend'"
    assert trend["columns"] == [r[0] for r in _rows(run_db, sql + " order by ordinal_position")]
    assert [v["view"] for v in listed] == [v.name for v in public_views()]
    out = tmp_path / "views.csv"
    assert newsmon("sql", "--views", "-o", str(out), "--db", str(run_db)).exit_code == 0
    with out.open(encoding="utf-8", newline="") as handle:
        rows = list(csv.DictReader(handle))
    assert {r["view"]: r["columns"] for r in rows}["v_topic_trend"] == ", ".join(trend["columns"])
    refused = newsmon("sql", "--views", "select 1", "--db", str(run_db))
    assert refused.exit_code != 0 and "not both" in _one_line_error(refused)


# --- the layout, unit by unit ----------------------------------------------------------------------


def test_numbers_are_shown_in_full_in_tables_and_markdown(run_db: Path, newsmon: Newsmon) -> None:
    query = "select 1234567.89::double as x, epoch(timestamptz '2023-05-18 23:00:00+00') as t, 0.1::double as p"
    for fmt in ("table", "markdown"):
        shown = newsmon("sql", query, "-f", fmt, "--db", str(run_db)).stdout
        assert "1234567.89" in shown and "1684450800.0" in shown and "0.1" in shown, shown


def test_fit_widths_narrows_the_widest_first() -> None:
    assert fit_widths([5, 40, 10], 100) == [5, 40, 10]
    assert fit_widths([5, 40, 30], 50) == [5, 23, 22]
    assert sum(fit_widths([5, 40, 30], 50) or []) == 50
    assert fit_widths([20] * 10, 50) is None  # ten columns cannot be readable in 50 cells


def test_cut_counts_wide_characters() -> None:
    assert cut("plain text here", 8) == "plain t…"
    assert text_width(cut("中文标题很长的新闻", 7)) <= 7 and cut("中文标题很长的新闻", 7).endswith("…")
    assert cut("short", 10) == "short"


def test_too_many_columns_become_one_record_per_row() -> None:
    columns = [f"column_{i}" for i in range(12)]
    lines = render_table(columns, [tuple("x" * 30 for _ in columns)], width=60)
    assert lines[0].startswith("-[ row 1 ]") and len(lines) == 13
    assert all(text_width(line) <= 60 for line in lines)


def test_outputs_are_written_through_links_pipes_and_stdout(run_db: Path, newsmon: Newsmon, tmp_path: Path) -> None:
    """--output replaces a file only when complete, but never replaces what is not a file: a link
    keeps pointing at its target (now written), a pipe gets the rows, `-` is stdout."""
    import os
    import threading

    target = tmp_path / "target.csv"
    target.write_text("old\n", encoding="utf-8")
    link = tmp_path / "link.csv"
    link.symlink_to(target)
    for args in (("sql", "select 7 as seven", "-o", str(link)), ("export", "v_runs", "-o", str(link))):
        assert newsmon(*args, "--db", str(run_db)).exit_code == 0
        assert link.is_symlink() and target.read_text(encoding="utf-8").splitlines()[0] != "old"
    fifo = tmp_path / "rows.csv"
    os.mkfifo(fifo)
    got: list[str] = []
    reader = threading.Thread(target=lambda: got.append(fifo.read_text(encoding="utf-8")))
    reader.start()
    result = newsmon("sql", "select 7 as seven", "--db", str(run_db), "-o", str(fifo))
    reader.join(10)
    assert result.exit_code == 0 and got == ["seven\n7\n"]
    assert fifo.is_fifo()  # still a pipe, not a file put in its place
    for args in (
        ["export", "v_stories", "-o", "-", "-f", "csv"],
        ["sql", "select * from v_stories", "-o", "-", "-f", "csv"],
    ):
        run = subprocess.run(
            [sys.executable, "-m", "cli", *args, "--db", str(run_db)], capture_output=True, text=True, cwd=tmp_path,
            timeout=120, check=False,
        )  # fmt: skip
        assert run.returncode == 0, run.stderr
        assert len(list(csv.DictReader(io.StringIO(run.stdout)))) == 2  # the rows, and only the rows
        assert not (tmp_path / "-").exists()
    parquet = subprocess.run(
        [sys.executable, "-m", "cli", "export", "v_stories", "-o", "-", "-f", "parquet", "--db", str(run_db)],
        capture_output=True, timeout=120, check=False,
    )  # fmt: skip
    assert parquet.returncode == 0 and pq.read_table(io.BytesIO(parquet.stdout)).num_rows == 2


def test_an_output_written_reports_the_size_of_its_file(tmp_path: Path) -> None:
    """The size that ``wrote … (size)`` shows is the file's (through a link, its target's); a pipe
    has none."""
    import os
    import threading

    from newsmon.exports import write_output

    def fill(file: Path) -> int:
        file.write_text("seven\n7\n", encoding="utf-8")
        return 1

    target = tmp_path / "target.csv"
    assert write_output(target, fill) == (1, 8) and target.stat().st_size == 8
    link = tmp_path / "link.csv"
    link.symlink_to(target)
    assert write_output(link, fill) == (1, 8) and link.is_symlink()
    fifo = tmp_path / "rows.csv"
    os.mkfifo(fifo)
    got: list[str] = []
    reader = threading.Thread(target=lambda: got.append(fifo.read_text(encoding="utf-8")))
    reader.start()
    assert write_output(fifo, fill) == (1, None)
    reader.join(10)
    assert got == ["seven\n7\n"]


@pytest.mark.parametrize("output", ["-", "/dev/stdout", "/proc/self/fd/1"])
@pytest.mark.parametrize("command", ["export", "sql"])
def test_output_to_stdout_redirected_to_a_file_appends(run_db: Path, tmp_path: Path, output: str, command: str) -> None:
    """stdout redirected to append to a file (>> log): the rows are appended, the file is not
    replaced, whether it is named '-' or by a path that is stdout (/dev/stdout was renamed over)."""
    args = ["v_stories"] if command == "export" else ["select * from v_stories"]
    log = tmp_path / "log.csv"
    log.write_text("earlier line\n", encoding="utf-8")
    with log.open("a", encoding="utf-8") as appended:
        run = subprocess.run(
            [sys.executable, "-m", "cli", command, *args, "-o", output, "-f", "csv", "--db", str(run_db)],
            stdout=appended, stderr=subprocess.PIPE, text=True, timeout=120, check=False,
        )  # fmt: skip
    assert run.returncode == 0, run.stderr
    if command == "export" or output != "-":  # `sql -o -` is the plain terminal output
        assert f"wrote 2 rows{' of v_stories' if command == 'export' else ''} to {output}" in run.stderr
    lines = log.read_text(encoding="utf-8").splitlines()
    assert lines[0] == "earlier line" and len(lines) == 1 + 1 + 2  # the old line, the header, two rows


@pytest.mark.parametrize(
    "args",
    [
        ["sql", "select * from big", "-f", "csv"],
        ["sql", "select * from big", "-f", "jsonl"],
        ["sql", "select * from big", "-f", "table"],
        ["sql", "select * from big", "-f", "json"],
        ["sql", "select * from big", "-f", "markdown"],
        ["export", "big", "-f", "jsonl", "-o", "-"],
        ["sql", "select random() r, random() s from range(50000)", "-f", "parquet", "-o", "-"],  # under 1 MiB
    ],
)
def test_a_reader_that_stops_early_ends_every_command_quietly(tmp_path: Path, args: list[str]) -> None:
    """`newsmon … | head -c 10`: exit 141 (as a shell reports a writer whose pipe closed) and
    nothing on stderr, the same for every format and command (one said 'error', one exit 1)."""
    db = tmp_path / "big.duckdb"
    con = duckdb.connect(str(db))
    con.execute("CREATE TABLE big AS SELECT range AS n, repeat('x', 60) AS s FROM range(300000)")
    con.close()
    proc = subprocess.Popen(
        [sys.executable, "-m", "cli", *args, "--db", str(db), "--live"], stdout=subprocess.PIPE,
        stderr=subprocess.PIPE, cwd=Path(__file__).resolve().parents[1],
    )  # fmt: skip
    assert proc.stdout is not None and proc.stderr is not None
    assert len(proc.stdout.read(10)) == 10
    proc.stdout.close()
    stderr = proc.stderr.read().decode()
    assert proc.wait(timeout=120) == 141 and stderr == ""


@pytest.mark.parametrize("command", [["export", "v_runs"], ["sql", "select * from v_runs"]])
def test_an_output_written_again_keeps_its_permissions(
    run_db: Path, newsmon: Newsmon, tmp_path: Path, command: list[str]
) -> None:
    private = tmp_path / "runs.csv"
    private.write_text("old\n", encoding="utf-8")
    private.chmod(0o600)
    assert newsmon(*command, "-o", str(private), "--db", str(run_db)).exit_code == 0
    assert private.read_text(encoding="utf-8").startswith("run_id,")
    assert stat.S_IMODE(private.stat().st_mode) == 0o600


def test_no_output_is_written_over_the_database(run_db: Path, newsmon: Newsmon, tmp_path: Path) -> None:
    before = run_db.read_bytes()
    link = tmp_path / "latest.csv"
    link.symlink_to(run_db)
    parquet_link = tmp_path / "latest.parquet"
    parquet_link.symlink_to(run_db)
    for args in (
        ("sql", "select 1 a", "-o", str(link)),
        ("sql", "select 1 a", "-f", "csv", "-o", str(run_db)),
        ("sql", "select 1 a", "-o", str(parquet_link)),
        ("export", "v_runs", "-o", str(link)),
    ):
        assert "is the database itself" in _one_line_error(newsmon(*args, "--db", str(run_db)))
    assert run_db.read_bytes() == before


def test_sql_output_says_what_it_cannot_write(run_db: Path, newsmon: Newsmon, tmp_path: Path) -> None:
    sheet = tmp_path / "sheet.xlsx"
    assert "cannot tell the format of sheet.xlsx" in _one_line_error(
        newsmon("sql", "select 1", "--db", str(run_db), "-o", str(sheet))
    )
    assert not sheet.exists()
    two = tmp_path / "two.csv"
    assert "give one statement, not 2" in _one_line_error(
        newsmon("sql", "select 1 a; select 2 b", "--db", str(run_db), "-o", str(two))
    )
    assert not two.exists()
    assert (
        newsmon("sql", "select 1 a; select 2 b", "--db", str(run_db), "-o", str(tmp_path / "two.json")).exit_code == 0
    )
    table = tmp_path / "table.txt"
    assert newsmon("sql", "select 7 as seven", "--db", str(run_db), "-o", str(table)).exit_code == 0
    assert "(1 row)" in table.read_text(encoding="utf-8")


def test_columns_of_one_name_are_all_kept(run_db: Path, newsmon: Newsmon, tmp_path: Path) -> None:
    """A join's two first_seen_at: JSON keys and Parquet columns get the second as ``_1``
    (one was dropped from JSON, and pyarrow could not read such a Parquet file)."""
    query = "select 1 as a, 2 as a, 'x' as b"
    assert json.loads(newsmon("sql", query, "--db", str(run_db), "-f", "json").stdout) == [{"a": 1, "a_1": 2, "b": "x"}]
    line = newsmon("sql", query, "--db", str(run_db), "-f", "jsonl").stdout
    assert json.loads(line) == {"a": 1, "a_1": 2, "b": "x"}
    target = tmp_path / "dup.parquet"
    assert newsmon("sql", query, "--db", str(run_db), "-o", str(target)).exit_code == 0
    assert pq.read_table(target).to_pylist() == [{"a": 1, "a_1": 2, "b": "x"}]


@pytest.mark.parametrize(
    ("query", "expected"),
    [
        ("select 'first' as a, 'second' as a, interval 1 hour as gap", {"a": "first", "a_1": "second", "gap": 3600}),
        ("select interval 1 hour as a, 2 as a", {"a": 3600, "a_1": 2}),
        ("select 2 as a, interval 1 hour as a", {"a": 2, "a_1": 3600}),
    ],
)
def test_intervals_beside_columns_of_one_name_keep_their_values(
    run_db: Path, newsmon: Newsmon, tmp_path: Path, query: str, expected: dict[str, object]
) -> None:
    """Intervals become seconds by position, never by name (the second ``a`` was written with
    the first one's values, or the query failed)."""
    target = tmp_path / "dup.parquet"
    result = newsmon("sql", query, "--db", str(run_db), "-o", str(target))
    assert result.exit_code == 0, result.stderr
    assert pq.read_table(target).to_pylist() == [expected]
    assert json.loads(newsmon("sql", query, "--db", str(run_db), "-f", "json").stdout) == [expected]


def test_run_counts_are_whole_numbers_in_every_format(run_db: Path, newsmon: Newsmon, tmp_path: Path) -> None:
    types = dict(
        _rows(run_db, "select column_name, data_type from information_schema.columns where table_name = 'v_runs'")
    )
    assert types["documents_new"] == "BIGINT" and types["files_seen"] == "BIGINT"
    for suffix in ("csv", "jsonl"):
        target = tmp_path / f"runs.{suffix}"
        assert newsmon("export", "v_runs", "-o", str(target), "--db", str(run_db)).exit_code == 0
        text = target.read_text(encoding="utf-8")
        record = next(csv.DictReader(io.StringIO(text))) if suffix == "csv" else json.loads(text.splitlines()[0])
        assert str(record["documents_new"]) == "2" and str(record["files_seen"]) == "2", record


def test_analyst_mistakes_get_one_clear_line(run_db: Path, newsmon: Newsmon, tmp_path: Path) -> None:
    parquet = tmp_path / "s.parquet"
    assert newsmon("sql", "select 1 a", "--db", str(run_db), "-o", str(parquet)).exit_code == 0
    error = _one_line_error(newsmon("sql", "select 1", "--db", str(parquet)))  # an export given as --db
    assert "not a DuckDB database file" in error and "check the path" in error
    for since, until in (
        ("2023-09-20", "2023-09-15"),
        ("2023-09-18T23:30", "2023-09-18T12:00"),  # the same day, the times swapped
        ("2023-09-18T12:00+02:00", "2023-09-18T09:30Z"),  # 10:00 UTC after 09:30
        ("2023-09-19T00:00", "2023-09-18"),
    ):
        swapped = ("export", "v_stories", "-o", str(tmp_path / "x.csv"), "--since", since, "--until", until)
        assert "is after --until" in _one_line_error(newsmon(*swapped, "--db", str(run_db))), (since, until)
    for since, until in (("2023-09-18T12:00", "2023-09-18"), ("2023-09-18", "2023-09-18T00:00")):
        fine = ("export", "v_stories", "-o", str(tmp_path / "x.csv"), "--since", since, "--until", until)
        assert newsmon(*fine, "--db", str(run_db)).exit_code == 0, (since, until)
    upper = newsmon("export", "V_STORIES", "-o", str(tmp_path / "upper.csv"), "--db", str(run_db))
    assert upper.exit_code == 0 and "of v_stories" in upper.stdout  # names in any case, as in SQL
    nan = newsmon("sql", "select 'nan'::double x, 'inf'::double y, 1.5::double z", "--db", str(run_db), "-f", "json")
    assert json.loads(nan.stdout) == [{"x": None, "y": None, "z": 1.5}]  # valid JSON, not NaN


def test_decimals_keep_their_kind_in_text_formats() -> None:
    from decimal import Decimal

    from newsmon.results import jsonable

    assert jsonable(Decimal("8")) == 8 and isinstance(jsonable(Decimal("8")), int)  # a HUGEINT sum
    assert jsonable(Decimal("1.50")) == 1.5 and jsonable(Decimal("2.00")) == 2.0
    assert isinstance(jsonable(Decimal("2.00")), float)  # DECIMAL(10,2) stays a decimal number


# --- newsmon export ------------------------------------------------------------------------------


def test_export_parquet_writes_every_row(run_db: Path, newsmon: Newsmon, tmp_path: Path) -> None:
    target = tmp_path / "documents.parquet"
    result = newsmon("export", "v_documents", "--format", "parquet", "--output", str(target), "--db", str(run_db))
    assert result.exit_code == 0, result.stderr
    assert re.fullmatch(r"wrote 2 rows of v_documents to .*documents\.parquet \([\d.]+ KB, parquet\) in [\d.]+ s\n",
                        result.stdout), result.stdout  # fmt: skip
    expected = _rows(run_db, "select id, title, body, first_seen_at from v_documents order by id")
    con = duckdb.connect()
    try:
        got = con.execute("select id, title, body, first_seen_at from read_parquet(?) order by id", [str(target)])
        assert got.fetchall() == expected
    finally:
        con.close()
    table = pq.read_table(target)
    assert table.num_rows == len(expected) and table.schema.names[:2] == ["id", "title"]
    assert str(table.schema.field("first_seen_at").type).startswith("timestamp[us, tz=")


@pytest.mark.parametrize("module", ["pandas", "polars"])
def test_export_parquet_reads_in_dataframe_libraries(
    run_db: Path, newsmon: Newsmon, tmp_path: Path, module: str
) -> None:
    library = pytest.importorskip(module, reason=f"{module} is not installed (newsmon does not need it)")
    target = tmp_path / "stories.parquet"
    assert newsmon("export", "v_stories", "-o", str(target), "--db", str(run_db)).exit_code == 0
    frame = library.read_parquet(target)
    assert len(frame) == 2 and "source_list" in frame.columns


def test_export_csv_and_jsonl(run_db: Path, newsmon: Newsmon, tmp_path: Path) -> None:
    csv_file, jsonl_file = tmp_path / "tags.csv", tmp_path / "tags.jsonl"
    assert newsmon("export", "v_document_topics", "-o", str(csv_file), "--db", str(run_db)).exit_code == 0
    rows = list(csv.DictReader(io.StringIO(csv_file.read_text(encoding="utf-8"))))
    assert len(rows) == 5 and {"document_id", "topic", "clause", "evidence"} <= set(rows[0])
    assert newsmon("export", "v_reprints", "-f", "jsonl", "-o", str(jsonl_file), "--db", str(run_db)).exit_code == 0
    records = [json.loads(line) for line in jsonl_file.read_text(encoding="utf-8").splitlines()]
    assert len(records) == 2 and all(r["lag"] == 0.0 and r["differences"] == [] for r in records)


def test_export_filters(run_db: Path, newsmon: Newsmon, tmp_path: Path) -> None:
    target = tmp_path / "out.jsonl"

    def export(*args: str) -> list[dict[str, object]]:
        result = newsmon("export", *args, "-o", str(target), "--db", str(run_db))
        assert result.exit_code == 0, result.stderr
        return [json.loads(line) for line in target.read_text(encoding="utf-8").splitlines()]

    covid = export("v_topic_documents", "--topic", "covid-origins")
    assert len(covid) == 1 and covid[0]["topic"] == "covid-origins"
    today = datetime.now(UTC).date()
    assert len(export("v_documents", "--since", today.isoformat())) == 2
    assert len(export("v_documents", "--until", (today - timedelta(days=1)).isoformat())) == 0
    assert len(export("v_documents", "--until", today.isoformat())) == 2  # a date is the whole day
    assert len(export("v_topic_daily", "--since", today.isoformat(), "--until", today.isoformat())) == 3

    from storage.catalog import ExportFilter, export_statement, exportable, lookup
    from storage.store import open_reader

    con = open_reader(run_db)  # below the command's known-topic check: the filter is bound, never SQL
    try:
        objects = exportable(con)
        for topic, rows in (("x' OR '1'='1", 0), ("covid-origins", 1)):
            sql, params = export_statement(lookup(objects, "v_topic_documents"), ExportFilter(topic), objects)
            assert topic not in sql and len(con.execute(sql, params).fetchall()) == rows
    finally:
        con.close()


def test_export_rows_come_oldest_first_whatever_order_they_were_stored_in(
    run_db: Path, newsmon: Newsmon, tmp_path: Path
) -> None:
    db = tmp_path / "daily.duckdb"
    days = [date(2023, 5, 1) + timedelta(days=n) for n in range(40)]
    stored = [(day, topic, n) for n, day in enumerate(days) for topic in ("b-topic", "a-topic")]
    stored = stored[1::2] + stored[0::2][::-1]  # neither by day nor by topic
    con = duckdb.connect(str(db))
    con.execute("CREATE TABLE counts (day DATE, topic VARCHAR, documents INTEGER)")
    con.executemany("INSERT INTO counts VALUES (?, ?, ?)", stored)
    con.close()
    out = tmp_path / "counts.jsonl"
    assert newsmon("export", "counts", "-o", str(out), "--db", str(db), "--live").exit_code == 0
    rows = [json.loads(line) for line in out.read_text(encoding="utf-8").splitlines()]
    assert [(r["day"], r["topic"]) for r in rows] == sorted((d.isoformat(), t) for d, t, _n in stored)
    con = duckdb.connect(str(run_db), read_only=True)  # every view and table sorts, whatever its types
    try:
        from storage.catalog import ExportFilter, export_statement, exportable

        objects = exportable(con)
        for obj in objects.values():
            con.execute(*export_statement(obj, ExportFilter(), objects)).fetchall()
    finally:
        con.close()


@pytest.mark.parametrize(
    ("args", "expected"),
    [
        (["v_documents", "--topic", "covid-origins"], "v_documents has no topic column"),
        (["v_feed_health", "--since", "2023-05-01"], "v_feed_health has no time column"),
        (["v_nothing"], "no public view or table 'v_nothing'"),
        (["v_documents\"; copy v_documents to '/tmp/x.csv", "--topic", "t"], "no public view or table"),
        (["v_documents", "--since", "last week"], "not an ISO 8601 time"),
        (["v_topic_documents", "--topic", "nope"], "no topic 'nope' in"),
        (["v_topic_documents", "--topic", "x' OR '1'='1"], "no topic \"x' OR '1'='1\" in"),  # a value, never SQL
    ],
)
def test_export_mistakes_are_one_line(
    run_db: Path, newsmon: Newsmon, tmp_path: Path, args: list[str], expected: str
) -> None:
    line = _one_line_error(newsmon("export", *args, "-o", str(tmp_path / "x.csv"), "--db", str(run_db)))
    assert expected in line
    assert not (tmp_path / "x.csv").exists()


def test_export_refuses_to_overwrite_the_database(run_db: Path, newsmon: Newsmon) -> None:
    line = _one_line_error(newsmon("export", "v_stories", "-f", "csv", "-o", str(run_db), "--db", str(run_db)))
    assert "is the database itself" in line


def test_filter_columns_in_the_readme_match_the_catalog(run_db: Path) -> None:
    from storage.catalog import exportable

    con = duckdb.connect(str(run_db), read_only=True)
    try:
        objects = exportable(con)
    finally:
        con.close()
    readme = (REPO / "README.md").read_text(encoding="utf-8")
    table = readme[readme.index("| view | `--since`/`--until` on |") : readme.index("A filter the view cannot take")]
    listed: dict[str, str] = {}
    for line in table.splitlines()[2:]:
        if line.startswith("|"):
            views, column = (cell.strip() for cell in line.strip("|").split("|"))
            for view in re.findall(r"`(v_\w+)`", views):
                listed[view] = column.strip("`")
    views = {n: o for n, o in objects.items() if o.kind == "view"}
    assert set(listed) == set(views)
    assert {n: (o.time_column or "none") for n, o in views.items()} == listed
    with_topic = set(re.findall(r"`(v_\w+)`", readme.split("**Export filters.**", 1)[1].split("`--since`", 1)[0]))
    assert with_topic == {n for n, o in views.items() if o.has_topic}


# --- the digest ----------------------------------------------------------------------------------


def test_the_digest_counts_stories_by_first_sighting_and_shows_publication_dates(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A document published two days before it arrives counts on the day it arrives; one
    published nine days before is backlog: listed, not counted, and said so."""
    monkeypatch.delenv("NEWSMON_NOTIFY", raising=False)
    now = datetime(2023, 3, 1, 12, 0, tzinfo=UTC)
    seeds = read_documents(SEEDS, now).documents
    docs = [
        replace(seeds[0], published_at=now - timedelta(days=2)),
        replace(seeds[1], published_at=now - timedelta(days=9)),
    ]
    topics = load_topics(default_topics_path())
    store = Store.open_writer(tmp_path / "n.duckdb")
    try:
        store.topics.register(topics, "run-1", now)
        store.runs.start("run-1", now, str(SEEDS))
        deduped = dedupe_batch(store, docs, 0.5)
        store_batch(store, "run-1", now, docs, Deduped.of(deduped.fingerprints, deduped.assignments),
                    tag_documents(docs, topics))  # fmt: skip
        records = store_alerts(store, "run-1", now, tmp_path / "alerts", dashboard_url=DASHBOARD)
        store.runs.finish("run-1", "completed", now)
    finally:
        store.close()
    sanctions = next(r for r in records if r.topic == "russia-sanctions")
    assert sanctions.triggers["today"]["stories"] == 1  # not 0: it arrived today
    assert sanctions.triggers["today"]["backlog"] == 1
    assert "Trend: 1 story with a copy first seen on 2023-03-01 (today)" in sanctions.markdown
    assert (
        "Not counted: 1 story first seen today whose copies were all published more than 3 days" in sanctions.markdown
    )
    assert "published 2023-02-27 12:00 UTC" in sanctions.markdown
    assert "published 2023-02-20 12:00 UTC" in sanctions.markdown  # listed with the alert
    story_ids = [r[0] for r in _rows(tmp_path / "n.duckdb", "select story_id from v_stories")]
    for story_id in story_ids:
        assert f"[dashboard]({DASHBOARD}/stories/{story_id})" in sanctions.markdown
        assert f'href="{DASHBOARD}/stories/{story_id}"' in sanctions.html
    daily = _rows(
        tmp_path / "n.duckdb",
        "select day, stories, documents, backlog_stories, backlog_documents from v_topic_daily"
        " where topic = 'russia-sanctions'",
    )
    assert daily == [(now.date(), 1, 1, 1, 1)]
    trend = _rows(
        tmp_path / "n.duckdb", "select stories, backlog_stories from v_topic_trend where topic = 'russia-sanctions'"
    )
    assert trend == [(1, 1)]
    from starlette.testclient import TestClient

    from web.app import create_app

    with TestClient(create_app(tmp_path / "n.duckdb")) as client:  # the dashboard's days table shows it
        page = client.get("/topics/russia-sanctions").text
    row = re.search(r"<td>2023-03-01</td>((?:<td[^>]*>[^<]*</td>){3})", page)
    assert row is not None and re.findall(r">([^<]*)</td>", row.group(1)) == ["1", "1", "1"]


def _point(day: int, stories: int, expected: float | None) -> TrendPoint:
    on = datetime(2023, 3, day, tzinfo=UTC).date()
    if expected is None:
        return TrendPoint(on, stories, stories, 0, None, None, None, None, None, 0.0, False)
    return TrendPoint(on, stories, stories, 3, expected, expected, expected, stories / expected, 0.5, 0.3, False)


def _story() -> StoryLine:
    return StoryLine("s1", "Headline", "https://news.example/a", 1, ("wire",), "Evidence.", 0.5,
                     datetime(2023, 3, 1, tzinfo=UTC))  # fmt: skip


@pytest.mark.parametrize(
    ("trend", "drawn"),
    [
        ([_point(1, 2, None), _point(2, 1, None)], False),
        ([_point(1, 2, None), _point(2, 1, None), _point(3, 4, 1.5)], True),  # a single day with a baseline
        ([_point(1, 2, 1.0), _point(2, 1, 1.2), _point(3, 4, 1.5)], True),
    ],
)
def test_the_chart_draws_the_baseline_its_caption_names(trend: list[TrendPoint], drawn: bool) -> None:
    html = render_topic_html("t", "Topic", {"today": None}, [_story()], trend)
    caption = html.split("<figcaption>", 1)[1].split("</figcaption>", 1)[0]
    assert ('class="baseline"' in html) is drawn
    assert ("dashed: the baseline" in caption) is drawn
    assert ("no baseline yet" in caption) is not drawn
    if drawn:
        path = re.search(r'class="baseline" d="([^"]+)"', html)
        assert path is not None
        levels = sum(1 for p in trend if p.expected is not None)
        assert path.group(1).count("H ") == levels  # one step for each day that has a baseline


def test_without_a_dashboard_there_is_no_dashboard_link() -> None:
    story = _story()
    now = datetime(2023, 3, 1, tzinfo=UTC)
    assert "dashboard" not in render_topic_markdown("t", "Topic", "run", now, {}, [story], [])
    assert "dashboard" not in render_topic_html("t", "Topic", {}, [story], [])
    assert "no publication date" in render_topic_markdown("t", "Topic", "run", now, {}, [story], [])


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("https://dash.example/newsmon/", "https://dash.example/newsmon"),
        ("http://127.0.0.1:8050", "http://127.0.0.1:8050"),
    ],
)
def test_dashboard_url_setting(value: str, expected: str) -> None:
    assert load_settings(None, dashboard_url=value).dashboard_url == expected


@pytest.mark.parametrize(
    "value", ["ftp://dash.example", "javascript:alert(1)", "dash.example", "https://dash.example/?q=1", "https://"]
)
def test_dashboard_url_must_be_http(value: str) -> None:
    with pytest.raises(ConfigError, match="dashboard_url"):
        load_settings(None, dashboard_url=value)


# --- the README's queries ------------------------------------------------------------------------


def readme_commands() -> list[list[str]]:
    """Every ``newsmon …`` command of the README's sh blocks, as arguments (a quoted query may
    run over several lines; comments after ``#`` are left out)."""
    readme = (REPO / "README.md").read_text(encoding="utf-8")
    commands: list[list[str]] = []
    for block in re.findall(r"```sh\n(.*?)```", readme, flags=re.S):
        pending = ""
        for line in block.splitlines():
            pending = f"{pending}\n{line}" if pending else line
            try:
                words = shlex.split(pending, comments=True)
            except ValueError:  # an open quote: the command goes on
                continue
            if words[:1] == ["newsmon"]:
                commands.append(words[1:])
            pending = ""
    return commands


def readme_queries() -> list[str]:
    """Every ```sql block of the README, and the query of every ``newsmon sql "…"`` command."""
    readme = (REPO / "README.md").read_text(encoding="utf-8")
    blocks = re.findall(r"```sql\n(.*?)```", readme, flags=re.S)
    return blocks + [c[1] for c in readme_commands() if c[0] == "sql" and len(c) > 1 and not c[1].startswith("-")]


def readme_exports() -> list[list[str]]:
    """Every ``newsmon export …`` command of the README, as arguments."""
    return [c for c in readme_commands() if c[0] == "export"]


def test_the_readme_has_the_analysts_questions() -> None:
    queries = readme_queries()
    assert len(queries) >= 10
    text = "\n".join(queries)
    for view in ("v_topic_documents", "v_story_timeline", "v_reprints", "v_document_topics", "v_topic_trend",
                 "v_feed_health"):  # fmt: skip
        assert view in text, view
    assert len(readme_exports()) >= 3
    readme = (REPO / "README.md").read_text(encoding="utf-8")
    for needs_more in ("duckdb -readonly", ".df()", "pl.read_database", "import pandas"):
        assert needs_more not in readme, needs_more  # examples run with what the install brings


@pytest.mark.parametrize("query", readme_queries(), ids=lambda q: " ".join(q.split())[:50])
def test_every_readme_query_runs(run_db: Path, newsmon: Newsmon, query: str) -> None:
    result = newsmon("sql", query, "--db", str(run_db), "-f", "json")
    assert result.exit_code == 0, f"{query}\n{result.stderr}"
    json.loads(result.stdout)


def test_readme_question_answers_on_the_seeds(run_db: Path, newsmon: Newsmon) -> None:
    """Today's stories on russia-sanctions are both seed stories; the covid tag says why."""
    queries = readme_queries()
    today = next(q for q in queries if "russia-sanctions" in q and "current_date" in q)
    assert len(json.loads(newsmon("sql", today, "--db", str(run_db), "-f", "json").stdout)) == 2
    why = next(q for q in queries if "t.clause" in q)
    (tag,) = json.loads(newsmon("sql", why, "--db", str(run_db), "-f", "json").stdout)
    assert tag["clause"] and "COVID-19" in tag["evidence"]


@pytest.mark.parametrize("args", readme_exports(), ids=lambda a: " ".join(a)[:50])
def test_every_readme_export_runs(run_db: Path, newsmon: Newsmon, tmp_path: Path, args: list[str]) -> None:
    where = args.index("--output") + 1
    args = [*args[:where], str(tmp_path / Path(args[where]).name), *args[where + 1 :]]
    result = newsmon(*args, "--db", str(run_db))
    assert result.exit_code == 0, result.stderr
    assert (tmp_path / Path(args[where]).name).is_file()


def test_a_topics_alert_settings_reach_the_run(tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    """The shipped topics with ``[topics.russia-sanctions.alerts] min_new_stories = 3``: the
    seeds' two sanctions stories make no sanctions alert (they wait, and the run's log says
    why); the other topics alert."""
    topics_file = tmp_path / "topics.toml"
    topics_file.write_text(
        default_topics_path().read_text(encoding="utf-8") + "\n[topics.russia-sanctions.alerts]\nmin_new_stories = 3\n",
        encoding="utf-8",
    )
    settings = Settings(db=tmp_path / "n.duckdb", seeds=SEEDS, alerts_dir=tmp_path / "alerts", topics=topics_file,
                        extract_workers=1)  # fmt: skip
    store = Store.open_writer(settings.db)
    try:
        topics = load_topics(settings.topics_path)
        with caplog.at_level("INFO"):
            summary = run_once(RunContext(settings, store, topics, datetime.now(UTC), "run-1"))
    finally:
        store.close()
    assert summary.documents_new == 2
    assert set(summary.alerts) == {"central-asia-diplomacy", "covid-origins"}
    pending = _rows(
        settings.db, "select count(*) from document_topics where topic = 'russia-sanctions' and alert_id is null"
    )
    assert pending == [(2,)]
    reason = "alert: russia-sanctions: 2 recent new stories, fewer than its min_new_stories (3): no alert, they wait"
    assert any(reason in m for m in caplog.messages)


def test_stories_waiting_for_min_new_stories_still_wait_after_the_topic_changes(tmp_path: Path) -> None:
    """Stories held back by min_new_stories are news not yet told: a changed definition re-tags
    them, and they still wait, then alert with the next alert of the topic (not marked history)."""
    topics_file = tmp_path / "topics.toml"
    shipped = default_topics_path().read_text(encoding="utf-8")
    topics_file.write_text(shipped + "\n[topics.russia-sanctions.alerts]\nmin_new_stories = 3\n", encoding="utf-8")
    settings = Settings(db=tmp_path / "n.duckdb", seeds=SEEDS, alerts_dir=tmp_path / "alerts", topics=topics_file,
                        extract_workers=1)  # fmt: skip
    now = datetime.now(UTC)

    def run(run_id: str, at: datetime) -> Any:
        store = Store.open_writer(settings.db)
        try:
            return run_once(RunContext(settings, store, load_topics(settings.topics_path), at, run_id))
        finally:
            store.close()

    assert "russia-sanctions" not in run("run-1", now).alerts
    changed = shipped.replace(
        'name = "Russia sanctions"\nlead_sentences = 5\n', 'name = "Russia sanctions"\nlead_sentences = 6\n'
    )
    assert changed != shipped
    topics_file.write_text(changed + "\n[topics.russia-sanctions.alerts]\nmin_new_stories = 2\n", encoding="utf-8")
    second = run("run-2", now + timedelta(hours=1))
    assert second.retagged >= 1 and second.alerts == ["russia-sanctions"]
    alerted = _rows(
        settings.db,
        "select count(*) from document_topics t join topic_versions v on v.topic = t.topic"
        " and v.version = t.topic_version and v.is_current where t.topic = 'russia-sanctions'"
        " and t.alert_id is not null and t.alert_id <> 'backfill'",
    )
    assert alerted == [(2,)]
    # back to the first definition: the stories alerted under the second are not news again
    topics_file.write_text(shipped + "\n[topics.russia-sanctions.alerts]\nmin_new_stories = 1\n", encoding="utf-8")
    third = run("run-3", now + timedelta(hours=2))
    assert third.retagged >= 1 and "russia-sanctions" not in third.alerts
    pending = "select count(*) from document_topics where topic = 'russia-sanctions' and alert_id is null"
    assert _rows(settings.db, pending) == [(0,)]
