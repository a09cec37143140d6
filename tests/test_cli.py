"""The command line: each command run in process as a user runs it (real files, the exit
code, stdout and stderr), and once as a real process (the entry point, its start-up imports,
and a first run on a fresh machine)."""

from __future__ import annotations

import csv
import io
import json
import os
import re
import subprocess
import sys
import tomllib
from importlib.metadata import EntryPoint
from pathlib import Path

import duckdb
import pytest
from support import REPO, SEEDS, Newsmon, make_database, python_path
from typer.testing import Result


def _one_line_error(result: Result) -> str:
    assert result.exit_code == 1, result.stderr
    lines = [ln for ln in result.stderr.splitlines() if ln.strip()]
    assert len(lines) == 1, result.stderr
    assert lines[0].startswith("newsmon: error: ")
    assert "Traceback" not in result.stderr
    return lines[0]


def test_entry_point_and_help_in_a_real_process() -> None:
    """The installed script is ``cli:main``; ``python -m cli --help`` works and, like ``newsmon
    sql``, starts without importing Prefect or DuckDB."""
    scripts = tomllib.loads((REPO / "pyproject.toml").read_text(encoding="utf-8"))["project"]["scripts"]
    from cli import main

    assert EntryPoint("newsmon", scripts["newsmon"], "console_scripts").load() is main
    result = subprocess.run(
        [sys.executable, "-X", "importtime", "-m", "cli", "sql", "--help"],
        capture_output=True, text=True, timeout=60, cwd=REPO, check=False,
    )  # fmt: skip
    assert result.returncode == 0, result.stderr
    assert "Usage:" in result.stdout and "v_documents" in result.stdout
    imported = {line.rsplit("|", 1)[-1].strip() for line in result.stderr.splitlines() if line.startswith("import")}
    assert not {m for m in imported if m.split(".")[0] in ("prefect", "duckdb", "flows")}


def test_interrupt_is_one_line_and_exit_code_130(newsmon: Newsmon, monkeypatch: pytest.MonkeyPatch) -> None:
    def interrupted(*_args: object, **_kwargs: object) -> None:
        raise KeyboardInterrupt

    monkeypatch.setattr("cli.query.load_settings", interrupted)
    result = newsmon("sql", "select 1")
    assert result.exit_code == 130 and result.stderr == "newsmon: interrupted\n"


def test_ctrl_c_that_surfaces_as_a_query_error_is_still_an_interrupt(
    newsmon: Newsmon, monkeypatch: pytest.MonkeyPatch
) -> None:
    def interrupted_query(*_args: object, **_kwargs: object) -> None:
        raise RuntimeError("Query interrupted")  # what DuckDB raises when Ctrl-C comes mid-query

    monkeypatch.setattr("cli.query.load_settings", interrupted_query)
    module = sys.modules["cli.app"]  # (`cli.app` is also the name of the typer app)
    monkeypatch.setattr(module, "_interrupted", True)  # the entry point's SIGINT handler saw the key
    result = newsmon("sql", "select 1")
    assert result.exit_code == 130 and result.stderr == "newsmon: interrupted\n"
    monkeypatch.setattr(module, "_interrupted", False)
    with pytest.raises(RuntimeError, match="Query interrupted"):  # without Ctrl-C it is a bug, shown as one
        newsmon("sql", "select 1")


def test_version(newsmon: Newsmon) -> None:
    result = newsmon("--version")
    assert result.exit_code == 0 and result.stdout == "newsmon 0.1.0\n"


def test_help_has_an_example_for_every_command(newsmon: Newsmon) -> None:
    top = newsmon("--help")
    assert top.exit_code == 0
    for command in ("run", "sql", "alerts", "topics"):
        assert command in top.stdout
    for command in (
        ["run"],
        ["sql"],
        ["alerts"],
        ["runs"],
        ["export"],
        ["topics", "list"],
        ["topics", "test"],
        ["topics", "retag"],
    ):
        result = newsmon(*command, "--help")
        assert result.exit_code == 0
        assert "Example" in result.stdout and "newsmon " + command[0] in result.stdout


def test_every_help_example_is_printed_on_one_line_whatever_the_width(newsmon: Newsmon) -> None:
    """Each example of every command's help, as written, is one line of its help at 80 columns
    (a command wrapped over two lines runs without the rest when pasted)."""
    from typer.main import get_command

    from cli import app

    def walk(command: object, path: list[str]) -> list[list[str]]:
        subs = getattr(command, "commands", {})
        return [path] + [p for name, sub in subs.items() for p in walk(sub, [*path, name])]

    paths = walk(get_command(app), [])
    assert len(paths) > 20
    checked = 0
    for path in paths:
        shown = newsmon(*path, "--help", env={"COLUMNS": "80"}).stdout
        if "Examples:" not in shown:
            continue
        for paragraph in shown.split("Examples:", 1)[1].split("\n\n"):
            lines = [line.strip() for line in paragraph.strip().splitlines()]
            if lines and lines[0].startswith(("newsmon ", "echo ", "PREFECT_HOME=")):
                assert len(lines) == 1, f"newsmon {' '.join(path)} --help: an example wraps: {lines}"
                checked += 1
    assert checked > 40


def test_sql_formats(tmp_path: Path, newsmon: Newsmon) -> None:
    db = make_database(tmp_path / "n.duckdb")
    query = "select d.url, t.topic from v_document_topics t join v_documents d on d.id = t.document_id order by 1, 2"
    result = newsmon("sql", query, "--db", str(db), "--format", "csv")
    assert result.exit_code == 0, result.stderr
    rows = list(csv.reader(io.StringIO(result.stdout)))
    assert rows[0] == ["url", "topic"]
    pairs = [(Path(url).name, topic) for url, topic in rows[1:]]
    assert pairs == [
        ("000_d16311e57be8b6ce.txt", "central-asia-diplomacy"),
        ("000_d16311e57be8b6ce.txt", "covid-origins"),
        ("000_d16311e57be8b6ce.txt", "russia-sanctions"),
        ("002_7a780bc5721e2cfc.txt", "central-asia-diplomacy"),
        ("002_7a780bc5721e2cfc.txt", "russia-sanctions"),
    ]
    as_json = json.loads(newsmon("sql", "select * from v_stories", "--db", str(db), "-f", "json").stdout)
    assert len(as_json) == 2 and {"story_id", "canonical_title", "documents"} <= set(as_json[0])
    assert all(row["spread"] == 0.0 and row["source_list"] for row in as_json)  # intervals as seconds
    table = newsmon("sql", "select count(*) as n from v_documents", "--db", str(db))
    assert table.exit_code == 0 and "2" in table.stdout and "1 row" in table.stdout


def test_db_from_environment(tmp_path: Path, newsmon: Newsmon) -> None:
    db = make_database(tmp_path / "env.duckdb")
    result = newsmon("sql", "select count(*) from v_documents", "-f", "csv", env={"NEWSMON_DB": str(db)})
    assert result.exit_code == 0 and result.stdout.splitlines()[1] == "2"


def test_commands_to_paste_name_the_database_unless_it_is_the_default() -> None:
    from cli.app import db_flag
    from newsmon.config import Settings

    assert db_flag(Settings(db=Path("newsmon.duckdb"))) == ""
    assert db_flag(Settings(db=Path("my news.duckdb"))) == " --db 'my news.duckdb'"


@pytest.mark.parametrize(
    ("args", "expected"),
    [
        (["sql", "select 1", "--db", "{tmp}/missing.duckdb"], "no database at"),
        (["sql", "selec nonsense", "--db", "{db}"], "query failed"),
        (["sql", "delete from documents", "--db", "{db}"], "query failed"),
        (["run", "--seeds", "{tmp}/nowhere", "--db", "{tmp}/x.duckdb"], "does not exist"),
        (["run", "--topics", "{tmp}/bad.toml", "--db", "{tmp}/x.duckdb"], "not valid TOML"),
        (["run", "--config", "{tmp}/absent.toml"], "config file"),
        (["run", "--db", "{tmp}/bad.toml/x.duckdb"], "cannot be created: {tmp}/bad.toml is not a folder"),
        (["run", "--db", "{tmp}"], "is a folder: pass --db"),
        (["run", "--db", ""], "'.' names no file: give the DuckDB file's path"),
        (["runs", "--db", ""], "'.' names no file"),  # read commands too (a traceback)
        (["sql", "select 1", "--db", ""], "'.' names no file"),
        (["runs", "--db", "{long}.duckdb"], "(File name too long): check the path"),
        (["topics", "list", "--topics", "{long}.toml"], "(File name too long): check the path"),
        (["run", "--db", "{tmp}/x.duckdb", "--alerts-dir", "{long}"], "(File name too long): check the path"),
        (["run", "--db", "{tmp}/x.duckdb", "--alerts-dir", "{tmp}/bad.toml"], "alerts folder {tmp}/bad.toml is a file"),
    ],
)
def test_user_mistakes_are_one_clear_line(tmp_path: Path, args: list[str], expected: str, newsmon: Newsmon) -> None:
    db = make_database(tmp_path / "n.duckdb")
    (tmp_path / "bad.toml").write_text("[topics.x\n", encoding="utf-8")
    real = [a.format(tmp=tmp_path, db=db, long="b" * 300) for a in args]
    line = _one_line_error(newsmon(*real))
    assert expected.format(tmp=tmp_path) in line


def test_settings_and_snapshot_mistakes_name_their_source(tmp_path: Path, newsmon: Newsmon) -> None:
    db = make_database(tmp_path / "n.duckdb")
    seeds = ["run", "--seeds", str(SEEDS), "--db", str(tmp_path / "x.duckdb")]
    bad_env = _one_line_error(newsmon(*seeds, env={"NEWSMON_BATCH_SIZE": "many"}))
    assert "invalid setting 'batch_size'" in bad_env and "in the environment (NEWSMON_BATCH_SIZE)" in bad_env
    lower = _one_line_error(newsmon(*seeds, env={"newsmon_batch_size": "many"}))  # read in any case
    assert "in the environment (newsmon_batch_size)" in lower
    misspelt = _one_line_error(newsmon(*seeds, env={"NEWSMON_BATCHSIZE": "5"}))  # not ignored in silence
    assert (
        "environment variable NEWSMON_BATCHSIZE is not a newsmon setting: did you mean NEWSMON_BATCH_SIZE?" in misspelt
    )
    assert newsmon("sql", "select 1", "--db", str(db), env={"NEWSMON_HOME": str(tmp_path)}).exit_code == 0
    assert newsmon("sql", "select 1", "--db", str(db), env={"NEWSMON_BATCHSIZE": ""}).exit_code == 0  # empty: unset
    bad_allow = _one_line_error(newsmon(*seeds, env={"NEWSMON_HTTP_ALLOW": "intranet/99"}))
    assert "HTTP allow entry 'intranet/99' is neither" in bad_allow and "NEWSMON_HTTP_ALLOW" in bad_allow
    assert not (tmp_path / "x.duckdb").exists()  # refused before any work
    endless = _one_line_error(newsmon(*seeds, env={"NEWSMON_HTTP_TIMEOUT_S": "inf"}))  # no deadline at all
    assert "invalid setting 'http_timeout_s' (Input should be a finite number)" in endless
    config = tmp_path / "endless.toml"
    config.write_text("lock_timeout_s = inf\n", encoding="utf-8")
    assert "finite number) in " + str(config) in _one_line_error(newsmon(*seeds, "--config", str(config)))
    empty = newsmon("runs", env={"NEWSMON_DB": "", "NEWSMON_TOPICS": ""})  # as unset (a .env file's NEWSMON_DB=)
    assert empty.exit_code == 0 or "no database at newsmon.duckdb" in _one_line_error(empty)
    no_file = newsmon("feeds", "list", "--feeds", str(tmp_path / "feeds.toml"), "--db", str(db))
    assert no_file.exit_code == 0 and "no feeds file at" in no_file.stdout and "feeds add URL" in no_file.stdout
    (tmp_path / "n.snapshot.duckdb").write_bytes(b"not a database")
    damaged = _one_line_error(newsmon("sql", "select 1", "--db", str(db)))
    assert "n.snapshot.duckdb" in damaged and "publishes this snapshot again" in damaged and "--live" in damaged
    assert newsmon("sql", "select 1", "--db", str(db), "--live").exit_code == 0


def test_alerts_command_prints_latest_per_topic(tmp_path: Path, newsmon: Newsmon) -> None:
    db = make_database(tmp_path / "n.duckdb")
    none_yet = newsmon("alerts", "--db", str(db))
    assert none_yet.exit_code == 0 and "no alerts" in none_yet.stdout


@pytest.mark.slow
def test_readme_run_command_on_a_fresh_machine(tmp_path: Path, newsmon: Newsmon) -> None:
    """A new PREFECT_HOME, the embedded API, the seeds: 2 documents in 2 stories; a rerun adds nothing.
    The runs are real processes: Prefect's settings and its embedded API are per process."""
    work = tmp_path / "work"
    work.mkdir()
    env = {"PREFECT_HOME": str(tmp_path / "prefect-home"), "NEWSMON_DB": "", "PREFECT_API_URL": ""}
    env = {k: v for k, v in env.items() if v}
    clean_env = {k: v for k, v in os.environ.items() if not k.startswith(("PREFECT_", "NEWSMON_"))}
    clean_env.update(env)
    args = ["run", "--seeds", str(SEEDS)]
    first = subprocess.run(
        [sys.executable, "-m", "cli", *args],
        capture_output=True,
        text=True,
        timeout=300,
        cwd=work,
        env=clean_env,
        check=False,
    )
    assert first.returncode == 0, first.stdout + first.stderr
    assert "2 new documents, 2 new stories" in first.stdout
    db = work / "newsmon.duckdb"
    assert db.exists()
    second = subprocess.run(
        [sys.executable, "-m", "cli", *args],
        capture_output=True,
        text=True,
        timeout=300,
        cwd=work,
        env=clean_env,
        check=False,
    )
    assert second.returncode == 0, second.stdout + second.stderr
    assert "0 new documents, 0 new stories" in second.stdout
    counts = newsmon(
        "sql",
        "select (select count(*) from v_documents), (select count(*) from v_stories),"
        " (select count(*) from v_document_topics), (select count(*) from v_runs)",
        "--db",
        str(db),
        "-f",
        "csv",
    )
    assert counts.stdout.splitlines()[1] == "2,2,5,2"
    alerts = newsmon("alerts", "--db", str(db), "--topic", "covid-origins")
    assert alerts.exit_code == 0 and "COVID-19 origins" in alerts.stdout and "Traceability" in alerts.stdout


def test_feeds_add_import_and_list(tmp_path: Path, newsmon: Newsmon) -> None:
    feeds = tmp_path / "feeds.toml"
    added = newsmon(
        "feeds", "add", "https://news.example/rss", "--name", "Example", "--interval", "15m", "--feeds", str(feeds),
        "--no-check",
    )  # fmt: skip
    assert added.exit_code == 0 and "added Example" in added.stdout
    again = newsmon("feeds", "add", "https://news.example/rss", "--feeds", str(feeds))
    assert again.exit_code == 0 and "already" in again.stdout
    _one_line_error(newsmon("feeds", "add", "file:///etc/passwd", "--feeds", str(feeds)))
    opml = tmp_path / "subs.opml"
    opml.write_text(
        '<?xml version="1.0"?><opml version="2.0"><body><outline text="World">'
        '<outline text="Wire" xmlUrl="https://wire.example/feed"/></outline></body></opml>',
        encoding="utf-8",
    )
    imported = newsmon("feeds", "import", str(opml), "--feeds", str(feeds))
    assert imported.exit_code == 0 and "imported 1 new feeds" in imported.stdout
    _one_line_error(newsmon("feeds", "list", "--feeds", str(feeds), "--db", str(tmp_path / "none.duckdb")))
    listed = newsmon("feeds", "list", "--feeds", str(feeds), env={"NEWSMON_DB": str(tmp_path / "none.duckdb")})
    assert listed.exit_code == 0
    assert "Example" in listed.stdout and "Wire" in listed.stdout and "not polled yet" in listed.stdout
    assert "2 feeds" in listed.stdout


def _runs_database(path: Path) -> Path:
    """A database with a completed, a failed and a crashed run, and one per-stage record each."""
    from datetime import UTC, datetime, timedelta

    from storage.store import Store

    t0 = datetime(2023, 5, 1, 8, 0, tzinfo=UTC)
    store = Store.open_writer(path)
    try:
        store.runs.start("run-ok", t0, "seeds")
        store.runs.record_stage("run-ok", "ingest", 6, 4, 2, 0.5)
        store.runs.record_stage("run-ok", "dedupe", 4, 3, 0, 0.25)
        store.runs.record_stage("run-ok", "alert", 0, 2, 0, 0.125)
        store.runs.finish("run-ok", "completed", t0 + timedelta(seconds=9))
        store.runs.start("run-bad", t0 + timedelta(hours=1), "seeds")
        store.runs.record_stage("run-bad", "ingest", 6, 0, 0, 0.5)
        error = "StorageError: database write failed (IO Error: No space left on device)"
        store.runs.finish("run-bad", "failed", t0 + timedelta(hours=1, seconds=3), error)
        store.runs.start("run-killed", t0 + timedelta(hours=2), "seeds")  # never finished: killed
        store.runs.record_stage("run-killed", "ingest", 3, 3, 0, 2.5)
        store.runs.start("run-after", t0 + timedelta(hours=3), "seeds")  # marks it crashed
        store.runs.record_stage("run-after", "backfill", 8, 1, 0, 1.5)
        store.runs.finish("run-after", "completed", t0 + timedelta(hours=3, seconds=12))
    finally:
        store.close()
    return path


def test_runs_lists_status_stages_durations_and_errors(tmp_path: Path, newsmon: Newsmon) -> None:
    db = _runs_database(tmp_path / "runs.duckdb")
    result = newsmon("runs", "--db", str(db))
    assert result.exit_code == 0, result.stderr
    lines = {name: next(ln for ln in result.stdout.splitlines() if name in ln) for name in (
        "run-ok", "run-bad", "run-killed", "run-after"
    )}  # fmt: skip
    assert "completed" in lines["run-ok"] and "9.0" in lines["run-ok"]
    assert "ingest 6→4 -2 0.5s" in lines["run-ok"] and "dedupe 4→3 0.2s" in lines["run-ok"]
    assert "alert 0→2 0.1s" in lines["run-ok"]
    assert lines["run-ok"].index("ingest") < lines["run-ok"].index("dedupe") < lines["run-ok"].index("alert")
    assert "failed" in lines["run-bad"] and "No space left on device" in lines["run-bad"]
    assert "crashed" in lines["run-killed"] and "killed or crashed" in lines["run-killed"]
    con = duckdb.connect(str(db), read_only=True)
    try:  # found an hour later by the next run: its duration is what it is known to have run
        (seconds, error) = con.execute("SELECT seconds, error FROM v_runs WHERE run_id = 'run-killed'").fetchone() or ()
    finally:
        con.close()
    assert seconds == 2.5 and "found at 2023-" in error and "by the next run" in error
    wide = newsmon("runs", "--db", str(db), env={"COLUMNS": "400"})
    killed = next(ln for ln in wide.stdout.splitlines() if "run-killed" in ln)
    assert (error if len(error) <= 160 else error[:100]) in killed  # not cut off in mid-word at 120
    assert len(error) <= 160 or "…" in killed
    assert "backfill 8→1 1.5s" in lines["run-after"]
    order = [ln for ln in result.stdout.splitlines() if "run-" in ln]
    assert [next(n for n in lines if n in ln) for ln in order] == ["run-after", "run-killed", "run-bad", "run-ok"]
    latest = newsmon("runs", "-n", "1", "--db", str(db))
    assert "run-after" in latest.stdout and "run-ok" not in latest.stdout


def test_a_configured_prefect_api_that_is_down_is_one_line(tmp_path: Path) -> None:
    """PREFECT_API_URL naming a server that is not running: one line before the run (it was a
    138-line traceback from Prefect's client)."""
    import socket

    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]  # closed once the block ends: nothing listens there
    env = {k: v for k, v in os.environ.items() if not k.startswith(("PREFECT_", "NEWSMON_"))}
    env.update(PREFECT_API_URL=f"http://127.0.0.1:{port}/api", PREFECT_HOME=str(tmp_path / "prefect"))
    done = subprocess.run(
        [sys.executable, "-m", "cli", "run", "--seeds", str(SEEDS), "--db", str(tmp_path / "n.duckdb")],
        capture_output=True, text=True, env=env, cwd=Path(__file__).resolve().parents[1], timeout=120, check=False,
    )  # fmt: skip
    assert done.returncode == 1 and done.stderr.count("\n") == 1, done.stderr[-3000:]
    assert f"the Prefect API at http://127.0.0.1:{port}/api does not answer (connection refused)" in done.stderr
    assert not (tmp_path / "n.duckdb").exists()  # refused before any work


def test_runs_replayed_at_one_time_are_listed_latest_recorded_first(tmp_path: Path, newsmon: Newsmon) -> None:
    """`newsmon run --now T` again and again: the runs share their start time; the one recorded
    last comes first (-n 1 showed an earlier, crashed one)."""
    from datetime import UTC, datetime

    from storage.store import Store

    replayed = datetime(2023, 5, 12, 23, 0, tzinfo=UTC)
    store = Store.open_writer(tmp_path / "runs.duckdb")
    try:
        for n in range(1, 7):
            store.runs.start(f"replay-{n}", replayed, "seeds")  # each marks the one before it crashed
        store.runs.finish("replay-6", "completed", replayed)
    finally:
        store.close()
    listed = newsmon("runs", "--db", str(tmp_path / "runs.duckdb"), "--live").stdout
    order = [m.group(0) for m in re.finditer(r"replay-\d", listed)]
    assert order == [f"replay-{n}" for n in range(6, 0, -1)], listed


def test_alerts_for_an_unknown_topic_is_an_error_naming_the_known_ones(tmp_path: Path, newsmon: Newsmon) -> None:
    db = make_database(tmp_path / "n.duckdb")
    line = _one_line_error(newsmon("alerts", "--topic", "nope", "--db", str(db)))
    assert "'nope'" in line and "central-asia-diplomacy" in line and "covid-origins" in line
    known = newsmon("alerts", "--topic", "covid-origins", "--db", str(db))  # known, no alert yet
    assert known.exit_code == 0 and "no alerts for topic 'covid-origins'" in known.stdout


def test_sql_help_lists_every_public_view(tmp_path: Path, newsmon: Newsmon) -> None:
    import duckdb

    db = make_database(tmp_path / "n.duckdb")
    con = duckdb.connect(str(db), read_only=True)
    try:
        views = {r[0] for r in con.execute("SELECT view_name FROM duckdb_views() WHERE NOT internal").fetchall()}
    finally:
        con.close()
    public = {v for v in views if v.startswith("v_")}
    assert len(public) >= 14
    listed = set(re.findall(r"\bv_\w+", newsmon("sql", "--help").stdout))
    assert public <= listed, public - listed


def test_readme_commands_table_lists_every_command() -> None:
    readme = (REPO / "README.md").read_text(encoding="utf-8")
    table = readme[readme.index("## Commands") : readme.index("## What a run does")]
    commands = ("run", "feeds add", "feeds remove", "feeds check", "feeds reset", "feeds import", "feeds export")
    for command in (*commands, "feeds list", "sql", "export", "runs", "serve", "alerts", "dashboard"):
        assert f"`newsmon {command}" in table, command
    for command in ("topics list", "topics test", "topics retag", "topics review", "topics judge", "topics score"):
        assert f"`newsmon {command}" in table, command
    assert "--since" in table


@pytest.mark.parametrize(
    ("since", "expected"),
    [("last tuesday", "--since 'last tuesday' is not an ISO 8601 time"), ("2999-01-01", "later than the run's clock")],
)
def test_run_since_mistakes_are_one_clear_line(tmp_path: Path, since: str, expected: str, newsmon: Newsmon) -> None:
    line = _one_line_error(newsmon("run", "--since", since, "--db", str(tmp_path / "x.duckdb"), "--seeds", str(SEEDS)))
    assert expected in line


def test_relative_paths_in_a_config_file_are_read_from_its_folder(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A run started by cron in another folder with ``--config /srv/newsmon/newsmon.toml`` uses
    the database, seeds and notify file beside that config, not new ones in the folder it runs
    in; the environment and flags stay relative to that folder."""
    from newsmon.config import load_settings

    home = tmp_path / "srv"
    home.mkdir()
    (home / "newsmon.toml").write_text(
        'db = "data/news.duckdb"\nseeds = "seeds"\nnotify = "notify.toml"\nalerts_dir = "/var/alerts"\n',
        encoding="utf-8",
    )
    monkeypatch.chdir(tmp_path)
    settings = load_settings(Path("srv/newsmon.toml"))
    assert (settings.db, settings.seeds, settings.notify) == (
        Path("srv/data/news.duckdb"),
        Path("srv/seeds"),
        Path("srv/notify.toml"),
    )
    assert settings.alerts_dir == Path("/var/alerts") and settings.feeds is None
    monkeypatch.setenv("NEWSMON_DB", "here.duckdb")
    assert load_settings(Path("srv/newsmon.toml"), seeds=Path("mine")).db == Path("here.duckdb")
    assert load_settings(Path("srv/newsmon.toml"), seeds=Path("mine")).seeds == Path("mine")
    monkeypatch.delenv("NEWSMON_DB")
    monkeypatch.chdir(home)
    assert load_settings().db == Path("data/news.duckdb")  # ./newsmon.toml: as before


@pytest.mark.parametrize(
    ("flag", "env", "expected"),
    [("--no-fetch-pages", None, False), ("--fetch-pages", "false", True), (None, "false", False), (None, None, True)],
)
def test_run_fetch_pages_flag_overrides_the_setting(
    tmp_path: Path, newsmon: Newsmon, monkeypatch: pytest.MonkeyPatch, flag: str | None, env: str | None,
    expected: bool,
) -> None:  # fmt: skip
    import flows.monitor
    from newsmon.config import Settings
    from newsmon.errors import NewsmonError

    seen: list[bool] = []

    def monitor(settings: Settings, **_kw: object) -> None:
        seen.append(settings.fetch_pages)
        raise NewsmonError("stopped by the test")

    monkeypatch.setattr(flows.monitor, "monitor", monitor)
    args = ["run", "--seeds", str(SEEDS), "--db", str(tmp_path / "x.duckdb"), *([flag] if flag else [])]
    result = newsmon(*args, env={"NEWSMON_FETCH_PAGES": env} if env else {})
    assert result.exit_code == 1 and "newsmon: error: stopped by the test" in result.stderr
    assert seen == [expected]


def test_a_config_folder_and_a_read_only_file_system_are_named_as_such(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import os

    from newsmon.config import check_output_path, load_settings
    from newsmon.errors import ConfigError

    with pytest.raises(ConfigError, match=r"config file .* is a folder, not a file: pass an existing file"):
        load_settings(tmp_path)
    with pytest.raises(ConfigError, match=r"config file .* does not exist"):
        load_settings(tmp_path / "missing.toml")
    real_statvfs = os.statvfs

    class ReadOnly:
        def __init__(self, real: os.statvfs_result) -> None:
            self.f_flag = real.f_flag | os.ST_RDONLY

    monkeypatch.setattr(os, "access", lambda *_args, **_kwargs: False)  # as a read-only mount answers
    monkeypatch.setattr(os, "statvfs", lambda path: ReadOnly(real_statvfs(path)))
    with pytest.raises(ConfigError) as info:
        check_output_path(tmp_path / "n.duckdb", "database", "--db", is_file=True)
    assert f"cannot be written here ({tmp_path} is on a read-only file system); pass --db" in str(info.value)
    monkeypatch.setattr(os, "statvfs", real_statvfs)
    with pytest.raises(ConfigError, match="no permission in"):
        check_output_path(tmp_path / "n.duckdb", "database", "--db", is_file=True)


def test_every_writer_says_it_waits_for_the_lock_as_a_run_does(tmp_path: Path) -> None:
    """A re-tag (or a feeds or review command) waiting for the writer lock says so as a run
    does, on one line of its own, not as a log record ("WARNING storage.lock: ...")."""
    import fcntl

    db = make_database(tmp_path / "n.duckdb")
    lock = os.open(tmp_path / "n.duckdb.lock", os.O_RDWR | os.O_CREAT, 0o644)
    try:
        fcntl.flock(lock, fcntl.LOCK_EX)
        os.pwrite(lock, str(os.getpid()).encode(), 0)
        env = {**_clean_env(), "NEWSMON_LOCK_TIMEOUT_S": "2", "PYTHONPATH": python_path(REPO)}
        result = subprocess.run(
            [sys.executable, "-m", "cli", "topics", "retag", "--db", str(db)], cwd=tmp_path, capture_output=True,
            text=True, timeout=120, check=False, env=env,
        )  # fmt: skip
    finally:
        os.close(lock)
    waits = [ln for ln in result.stderr.splitlines() if "waiting for the writer lock" in ln]
    assert len(waits) == 1 and waits[0].startswith("newsmon: waiting for the writer lock on"), result.stderr
    assert "WARNING" not in result.stderr and result.returncode == 1


def _clean_env() -> dict[str, str]:
    """The environment without newsmon's and Prefect's settings."""
    return {k: v for k, v in os.environ.items() if not k.startswith(("PREFECT_", "NEWSMON_"))}
