"""Scheduled operation beside ad hoc SQL: readers vs the writer, crashes, disk full, serve.

These tests run newsmon as users do, in subprocesses, against a real Prefect API (the test
harness's server, shared by all runs here) and real DuckDB files.
"""

from __future__ import annotations

import contextlib
import itertools
import os
import re
import resource
import shutil
import signal
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import duckdb
import pytest
from support import REPO, SEEDS, Route, ScriptedServer, python_path

pytestmark = [pytest.mark.slow, pytest.mark.faults, pytest.mark.hostile("faults")]

ARTICLE = (
    "<html><head><title>{title}</title></head><body><nav>Home | World | Sport</nav><article><h1>{title}</h1>"
    + "".join(
        f"<p>{{title}}: paragraph {i} with enough words to count as an article body for extraction.</p>"
        for i in range(12)
    )
    + "</article><footer>Share this: Facebook Twitter</footer></body></html>"
)


@pytest.fixture(scope="module")
def feed_server() -> Iterator[ScriptedServer]:
    """The wire's feed and article pages (never changed: the module's runs share it)."""
    server = ScriptedServer()
    items = []
    for n in range(6):
        title = f"Kazakhstan and Uzbekistan foreign ministers meet on trade corridor, part {n}"
        server.routes[f"/news/{n}"] = Route(ARTICLE.format(title=title).encode(), {"Content-Type": "text/html"})
        items.append(
            f"<item><title>{title}</title><link>{server.url(f'/news/{n}')}</link><guid>n{n}</guid>"
            f"<description>Summary {n}</description><pubDate>Mon, 0{n + 1} May 2023 10:00:00 GMT</pubDate></item>"
        )
    rss = f"<?xml version='1.0'?><rss version='2.0'><channel><title>Wire</title>{''.join(items)}</channel></rss>"
    server.routes["/rss"] = Route(rss.encode(), etag='"r1"')
    yield server
    server.close()


def _workdir(tmp_path: Path, server: ScriptedServer) -> Path:
    work = tmp_path / "work"
    (work / "seeds").mkdir(parents=True)
    for seed in SEEDS.iterdir():
        shutil.copy(seed, work / "seeds" / seed.name)
    (work / "feeds.toml").write_text(f'[[feeds]]\nname = "Wire"\nurl = "{server.url("/rss")}"\ninterval = 60\n')
    return work


def _env(api: str, **extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("NEWSMON_", "PREFECT_"))}
    env.update(
        PREFECT_API_URL=api,
        NEWSMON_HTTP_ALLOW="127.0.0.0/8",
        NEWSMON_BATCH_SIZE="3",
        NEWSMON_EXTRACT_WORKERS="1",
        PYTHONPATH=python_path(REPO),  # the network guard stays on in the subprocess
    )
    env.update(extra)
    return env


def _newsmon(
    work: Path,
    env: dict[str, str],
    *args: str,
    timeout: float = 180,
    preexec_fn: Callable[[], None] | None = None,
) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "cli", *args],
        cwd=work,
        env=env,
        capture_output=True,
        text=True,
        timeout=timeout,
        check=False,
        preexec_fn=preexec_fn,
    )


def _state(db: Path, root: Path | None = None) -> dict[str, Any]:
    """What a database holds, independent of run ids, times and where the work folder is."""
    con = duckdb.connect(str(db), read_only=True)
    prefix = (root or db.parent).as_uri()

    def portable(value: Any) -> Any:
        if isinstance(value, str):
            return value.replace(prefix, "ROOT")
        if isinstance(value, list):
            return [portable(v) for v in value]
        return value

    try:

        def rows(sql: str) -> list[tuple[Any, ...]]:
            return sorted(tuple(portable(v) for v in row) for row in con.execute(sql).fetchall())

        return {
            "documents": rows("SELECT url, title, extraction, page_kind, md5(body) FROM documents"),
            "stories": rows(
                "SELECT list_sort(list(d.url)) FROM story_members m JOIN documents d ON d.id = m.document_id"
                " GROUP BY m.story_id"
            ),
            "tags": rows(
                "SELECT d.url, t.topic, t.topic_version, t.evidence FROM document_topics t"
                " JOIN documents d ON d.id = t.document_id"
            ),
            "alerted": rows("SELECT topic, count(*) FROM document_topics WHERE alert_id IS NOT NULL GROUP BY 1"),
            "alerts": rows("SELECT topic, document_count, story_count FROM alerts"),
            "feed_items": rows("SELECT feed_url, item_key FROM feed_items"),
            "feeds": rows("SELECT url, etag, consecutive_failures FROM feeds"),
            "bands": rows("SELECT count(*) FROM lsh_bands"),
            "index": rows("SELECT count(*), count(DISTINCT story_id) FROM story_index"),
        }
    finally:
        con.close()


def _lost(expected: dict[str, Any], found: dict[str, Any]) -> int:
    """Rows of an uninterrupted run's documents, tags and feed items missing from ``found``."""
    return sum(len(set(expected[k]) - set(found[k])) for k in ("documents", "tags", "feed_items"))


def _alert_files(work: Path) -> tuple[list[str], int]:
    """The topics of the Markdown alert files and the number of HTML digests (run ids differ)."""
    folder = work / "alerts"
    return sorted(p.name.split("_", 2)[2] for p in folder.glob("*.md")), len(list(folder.glob("*_digest.html")))


def test_readers_never_block_the_writer_nor_see_errors(
    tmp_path: Path, prefect_api: str, feed_server: ScriptedServer, lost_rows: Callable[[int], None]
) -> None:
    work = _workdir(tmp_path, feed_server)
    env = _env(prefect_api)
    first = _newsmon(work, env, "run")
    assert first.returncode == 0, first.stderr
    for n in range(40):  # more work for the second run
        (work / "seeds" / f"extra-{n}.txt").write_text(
            f"Extra report {n}\n\n" + " ".join(f"word{n}x{i}" for i in range(400)), encoding="utf-8"
        )
    held = duckdb.connect(str(work / "newsmon.snapshot.duckdb"), read_only=True)  # a BI tool left open
    writer = subprocess.Popen(
        [sys.executable, "-m", "cli", "run"],
        cwd=work,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    reads = failures = 0
    while writer.poll() is None:
        result = _newsmon(work, env, "sql", "select count(*) from v_documents", "-f", "csv", timeout=60)
        reads += 1
        failures += result.returncode != 0
        assert result.returncode == 0, result.stderr
        assert held.execute("select count(*) from v_documents").fetchall()[0][0] >= 8
    out, err = writer.communicate()
    held.close()
    assert writer.returncode == 0, out + err
    assert reads >= 2 and failures == 0
    after = _newsmon(work, env, "sql", "select count(*) from v_documents", "-f", "csv")
    stored = int(after.stdout.splitlines()[1])
    lost_rows(max(0, 2 + 6 + 40 - stored))
    assert stored == 2 + 6 + 40  # the new snapshot shows the run


def test_live_reader_makes_the_writer_wait_then_fail_clearly(
    tmp_path: Path, prefect_api: str, feed_server: ScriptedServer, lost_rows: Callable[[int], None]
) -> None:
    work = _workdir(tmp_path, feed_server)
    env = _env(prefect_api, NEWSMON_LOCK_TIMEOUT_S="2")
    assert _newsmon(work, env, "run").returncode == 0
    before = _state(work / "newsmon.duckdb")
    live = duckdb.connect(str(work / "newsmon.duckdb"), read_only=True)  # someone opened the live file
    try:
        blocked = _newsmon(work, env, "run")
    finally:
        live.close()
    assert blocked.returncode == 1
    assert "newsmon: error: database" in blocked.stderr and "in use by process" in blocked.stderr
    assert "Traceback" not in blocked.stderr
    lost_rows(_lost(before, _state(work / "newsmon.duckdb")))


@pytest.fixture(scope="module")
def uninterrupted(
    prefect_api: str, feed_server: ScriptedServer, tmp_path_factory: pytest.TempPathFactory
) -> tuple[dict[str, Any], tuple[list[str], int]]:
    """What one uninterrupted first run stores, and its alert files: the reference of the crash tests."""
    reference = _workdir(tmp_path_factory.mktemp("uninterrupted"), feed_server)
    result = _newsmon(reference, _env(prefect_api), "run")
    assert result.returncode == 0, result.stderr
    return _state(reference / "newsmon.duckdb"), _alert_files(reference)


@pytest.mark.xdist_group("operations-uninterrupted")  # one worker makes the reference and runs all six
@pytest.mark.parametrize(
    "point",
    ["after-fetch", "mid-store", "before-feed-states", "before-alert", "after-alert-store", "before-notify"],
)
def test_sigkill_at_any_point_loses_and_duplicates_nothing(
    tmp_path: Path,
    prefect_api: str,
    feed_server: ScriptedServer,
    uninterrupted: tuple[dict[str, Any], tuple[list[str], int]],
    point: str,
    lost_rows: Callable[[int], None],
) -> None:
    expected, alert_files = uninterrupted
    env = _env(prefect_api)
    work = _workdir(tmp_path / "crash", feed_server)
    killed = _newsmon(work, _env(prefect_api, NEWSMON_FAULT=point), "run")
    assert killed.returncode == -signal.SIGKILL, killed.stdout + killed.stderr
    rerun = _newsmon(work, env, "run")
    assert rerun.returncode == 0, rerun.stderr
    found = _state(work / "newsmon.duckdb")
    lost_rows(_lost(expected, found))
    assert found == expected
    assert _alert_files(work) == alert_files  # every stored alert has its files, once
    statuses = _newsmon(work, env, "sql", "select status from v_runs order by started_at", "-f", "csv")
    assert statuses.stdout.split() == ["status", "crashed", "completed"]


@pytest.mark.xdist_group("operations-uninterrupted")
def test_a_signal_that_stops_a_database_query_stops_the_run_as_a_signal_does(
    tmp_path: Path,
    prefect_api: str,
    feed_server: ScriptedServer,
    uninterrupted: tuple[dict[str, Any], tuple[list[str], int]],
    lost_rows: Callable[[int], None],
) -> None:
    """DuckDB reports a SIGTERM that lands in a query as its own error ("Query interrupted"):
    the run still ends as stopped (exit 143, one line, recorded crashed, not failed), and the
    next run completes it."""
    expected, _files = uninterrupted
    env = _env(prefect_api)
    work = _workdir(tmp_path / "stopped", feed_server)
    stopped = _newsmon(work, _env(prefect_api, NEWSMON_FAULT="mid-store:interrupt"), "run")
    output = stopped.stdout + stopped.stderr
    assert stopped.returncode == 128 + signal.SIGTERM, output[-4000:]
    assert "newsmon: stopped by SIGTERM" in stopped.stderr and "Traceback" not in output, output[-4000:]
    status = _newsmon(work, env, "sql", "select status, error from v_runs", "-f", "csv")
    assert "crashed,stopped by a signal during a database query before finishing" in status.stdout, status.stdout
    assert _newsmon(work, env, "run").returncode == 0
    found = _state(work / "newsmon.duckdb")
    lost_rows(_lost(expected, found))
    assert found == expected


TOPICS = """[topics.corridor]
name = "Trade corridor"
description = "Trade corridors between Central Asian states."
query = 'corridor*'
"""
CHANGED_TOPICS = TOPICS.replace("query = 'corridor*'", "query = 'corridor* OR blinken OR tashkent'")


def _changed_topic(root: Path, server: ScriptedServer, env: dict[str, str]) -> Path:
    """A work folder after a first run with TOPICS, whose topics file now holds CHANGED_TOPICS."""
    work = _workdir(root, server)
    (work / "topics.toml").write_text(TOPICS, encoding="utf-8")
    assert _newsmon(work, env, "run", "--topics", "topics.toml").returncode == 0
    (work / "topics.toml").write_text(CHANGED_TOPICS, encoding="utf-8")
    return work


@pytest.fixture(scope="module")
def retagged(prefect_api: str, feed_server: ScriptedServer, tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    """What an uninterrupted run with a changed topic stores: the reference of the retag crash tests."""
    env = _env(prefect_api)
    reference = _changed_topic(tmp_path_factory.mktemp("retagged"), feed_server, env)
    result = _newsmon(reference, env, "run", "--topics", "topics.toml")
    assert result.returncode == 0, result.stderr
    return _state(reference / "newsmon.duckdb")


@pytest.mark.xdist_group("operations-retagged")  # one worker makes the reference and runs all three
@pytest.mark.parametrize("point", ["mid-retag@1", "mid-retag@2", "before-register"])
def test_sigkill_during_a_retag_completes_it_on_the_next_run(
    tmp_path: Path,
    prefect_api: str,
    feed_server: ScriptedServer,
    retagged: dict[str, Any],
    point: str,
    lost_rows: Callable[[int], None],
) -> None:
    """A changed topic re-tags every stored document; killed before that is done (after some
    batches, or after all but before the version is made current), the next run completes it."""
    env = _env(prefect_api)
    expected = retagged
    work = _changed_topic(tmp_path / "crash", feed_server, env)
    killed = _newsmon(work, _env(prefect_api, NEWSMON_FAULT=point), "run", "--topics", "topics.toml")
    assert killed.returncode == -signal.SIGKILL, killed.stdout + killed.stderr
    rerun = _newsmon(work, env, "run", "--topics", "topics.toml")
    assert rerun.returncode == 0, rerun.stderr
    found = _state(work / "newsmon.duckdb")
    lost_rows(_lost(expected, found))
    assert found == expected
    query = (
        "select (select count(*) from documents), count(distinct t.document_id), count(distinct t.topic_version),"
        " bool_and(v.is_current) from document_topics t join topic_versions v"
        " on v.topic = t.topic and v.version = t.topic_version where v.is_current"
    )
    documents, tagged, versions, current = (
        _newsmon(work, env, "sql", query, "-f", "csv", "--live").stdout.split()[-1].split(",")
    )
    assert (documents, versions, current) == ("8", "1", "True")
    assert int(tagged) == 8  # 6 feed items on the corridor, both seeds on Blinken in Tashkent
    statuses = _newsmon(work, env, "sql", "select status from v_runs order by started_at", "-f", "csv")
    assert statuses.stdout.split() == ["status", "completed", "crashed", "completed"]


def _stale_body(db: Path) -> None:
    """Make one seed's stored text what an earlier extractor left (boilerplate lines in it)."""
    con = duckdb.connect(str(db))
    try:
        con.execute(
            "UPDATE documents SET body = body || '\nSpread the love\nLeave a Reply', text_hash = 'stale'"
            " WHERE url LIKE '%/000_d16311e57be8b6ce.txt'"
        )
    finally:
        con.close()


def test_backfill_shows_progress_and_a_killed_one_is_finished_by_a_rerun(
    tmp_path: Path, prefect_api: str, feed_server: ScriptedServer, lost_rows: Callable[[int], None]
) -> None:
    env = _env(prefect_api)
    reference = _workdir(tmp_path / "ref", feed_server)
    assert _newsmon(reference, env, "run").returncode == 0
    untouched = _state(reference / "newsmon.duckdb")
    _stale_body(reference / "newsmon.duckdb")
    backfill = _newsmon(reference, env, "run", "--since", "2023-05-01")
    assert backfill.returncode == 0, backfill.stderr
    assert _state(reference / "newsmon.duckdb") == untouched  # the seed read again, the same as first stored
    assert re.search(
        r"backfill \[[#-]+\] 3/8 documents \(38%\), \d+ documents/s, about \d+ s left", backfill.stderr
    ) or (re.search(r"backfill \[#+\] 8/8 documents \(100%\), \d+ documents/s", backfill.stderr)), backfill.stderr
    assert "backfill: 8 documents since 2023-05-01" in backfill.stderr
    assert "newsmon: backfill since 2023-05-01 00:00 UTC: 8 documents re-processed" in backfill.stdout
    assert "1 documents changed" in backfill.stdout

    work = _workdir(tmp_path / "crash", feed_server)
    assert _newsmon(work, env, "run").returncode == 0
    _stale_body(work / "newsmon.duckdb")
    killed = _newsmon(work, _env(prefect_api, NEWSMON_FAULT="mid-backfill@1"), "run", "--since", "2023-05-01")
    assert killed.returncode == -signal.SIGKILL, killed.stdout + killed.stderr
    rerun = _newsmon(work, env, "run", "--since", "2023-05-01")
    assert rerun.returncode == 0, rerun.stderr
    found = _state(work / "newsmon.duckdb")
    lost_rows(_lost(untouched, found))
    assert found == untouched
    statuses = _newsmon(work, env, "sql", "select status from v_runs order by started_at", "-f", "csv")
    assert statuses.stdout.split() == ["status", "completed", "crashed", "completed"]


def _mount_tmpfs(folder: Path, size: str) -> str | None:
    """Mount a small tmpfs on ``folder``; None when done, else why it could not be."""
    mounted = subprocess.run(
        ["mount", "-t", "tmpfs", "-o", f"size={size}", "tmpfs", str(folder)], capture_output=True, check=False
    )
    return None if mounted.returncode == 0 else (mounted.stderr.decode().strip() or f"exit {mounted.returncode}")


def _file_size_limit(max_bytes: int) -> Callable[[], None]:
    """For a child process: no file may grow past ``max_bytes`` (RLIMIT_FSIZE, as ``ulimit -f``),
    with SIGXFSZ ignored so that such a write fails with EFBIG (File too large) instead of killing."""

    def limit() -> None:
        signal.signal(signal.SIGXFSZ, signal.SIG_IGN)
        resource.setrlimit(resource.RLIMIT_FSIZE, (max_bytes, max_bytes))

    return limit


@pytest.mark.parametrize("limit", ["tmpfs", "file-size"])
def test_disk_full_is_a_clear_error_and_loses_nothing(
    tmp_path: Path, prefect_api: str, feed_server: ScriptedServer, limit: str, lost_rows: Callable[[int], None]
) -> None:
    """A full disk (a 24 MB tmpfs), or where one cannot be mounted (not root), a file size limit
    on the writer: one clear line, exit 1, and everything committed before intact."""
    small = tmp_path / "small"
    small.mkdir()
    why_not = _mount_tmpfs(small, "24m") if limit == "tmpfs" else "the file size limit was asked for"
    mounted = why_not is None
    try:
        work = _workdir(small, feed_server)
        seeds = tmp_path / "seeds"  # the input stays on the big disk; the database lives on the small one
        shutil.move(str(work / "seeds"), seeds)
        env = _env(prefect_api, NEWSMON_SEEDS=str(seeds))
        first = _newsmon(work, env, "run")
        assert first.returncode == 0, first.stderr
        before = _state(work / "newsmon.duckdb", tmp_path)
        for n in range(60):  # ~14 MB of new text: more than the small disk has left
            (seeds / f"big-{n}.txt").write_text(
                f"Big report {n}\n\n" + " ".join(f"token{n}_{i}" for i in range(20000)), encoding="utf-8"
            )
        if mounted:
            full, cause = _newsmon(work, env, "run"), "the disk is full: free disk space"
        else:  # no tmpfs (e.g. not root): the writer may not grow any file past 2 MB more than now
            largest = max(f.stat().st_size for f in work.iterdir() if f.is_file())
            full = _newsmon(work, env, "run", preexec_fn=_file_size_limit(largest + 2 * 1024 * 1024))
            cause = "a file size limit (ulimit -f) stopped the write"
        assert full.returncode == 1, f"{why_not}\n{full.stdout}{full.stderr}"
        lines = [ln for ln in full.stderr.splitlines() if ln.startswith("newsmon: error:")]
        assert len(lines) == 1, full.stderr
        assert cause in lines[0] and "committed data is intact" in lines[0], lines[0]
        assert "Traceback" not in full.stderr
        copy = tmp_path / "copy.duckdb"
        shutil.copy(work / "newsmon.duckdb", copy)
        wal = work / "newsmon.duckdb.wal"
        if wal.exists():
            shutil.copy(wal, tmp_path / "copy.duckdb.wal")
        after = _state(copy, tmp_path)
        lost_rows(_lost(before, after))
        for key in ("documents", "tags", "feed_items"):  # everything committed before is intact
            assert set(before[key]) <= set(after[key]), key
    finally:
        if mounted:
            subprocess.run(["umount", "-l", str(small)], check=False)


def test_serve_runs_on_schedule_without_overlap_and_stops_cleanly(
    tmp_path: Path, prefect_api: str, feed_server: ScriptedServer, lost_rows: Callable[[int], None]
) -> None:
    work = _workdir(tmp_path, feed_server)
    env = _env(prefect_api)
    serve_env = {k: v for k, v in env.items() if k != "PREFECT_API_URL"}  # serve starts its own server,
    serve_env["PREFECT_HOME"] = str(tmp_path / "prefect-home")  # as for a user with none configured
    serve = subprocess.Popen(
        [sys.executable, "-m", "cli", "serve", "--interval", "5s"],
        cwd=work, env=serve_env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
    )  # fmt: skip
    try:
        deadline = time.monotonic() + 240
        completed: list[tuple[str, str]] = []
        while time.monotonic() < deadline and len(completed) < 2:
            time.sleep(3)
            result = _newsmon(
                work,
                env,
                "sql",
                "select started_at, finished_at from v_runs where status = 'completed' order by 1",
                "-f",
                "csv",
            )
            if result.returncode == 0:
                completed = [tuple(line.split(",")) for line in result.stdout.splitlines()[1:]]  # type: ignore[misc]
        assert len(completed) >= 2, "fewer than two scheduled runs completed"
        for (_s1, f1), (s2, _f2) in itertools.pairwise(completed):
            assert s2 >= f1  # no overlap
    finally:
        serve.send_signal(signal.SIGINT)
        try:
            out, _ = serve.communicate(timeout=60)
        except subprocess.TimeoutExpired:
            serve.kill()
            out, _ = serve.communicate()
    assert serve.returncode == 0, out
    assert "newsmon: stopped" in out
    stored = _state(work / "newsmon.duckdb")
    lost_rows(max(0, 2 + 6 - len(stored["documents"])))  # the seeds and the six feed items
    assert len(stored["documents"]) == 8


def _marked(marker: str) -> list[int]:
    """Processes whose environment holds ``marker`` (a run's and everything it started)."""
    found = []
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                if marker.encode() in (entry / "environ").read_bytes():
                    found.append(int(entry.name))
            except OSError:
                continue
    return found


def _start_run(work: Path, marker: str) -> subprocess.Popen[str]:
    """``newsmon run`` as from a terminal (a session and process group of its own), on the
    temporary Prefect API it starts itself; returns once the documents have been read."""
    env = _env("", RUN_MARKER=marker, NEWSMON_BATCH_SIZE="40", PREFECT_HOME=str(work / "prefect"))
    del env["PREFECT_API_URL"]
    run = subprocess.Popen(
        [sys.executable, "-m", "cli", "run", "--seeds", "seeds", "--db", "news.duckdb"],
        cwd=work, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, start_new_session=True,
    )  # fmt: skip
    assert run.stdout is not None
    for line in run.stdout:
        if "ingest:" in line:  # the documents are read: dedupe, tagging and storing follow
            return run
    raise AssertionError(f"the run ended before its ingest line (exit {run.wait()})")


def test_ctrl_c_and_a_kill_of_a_run_on_its_own_api_end_it_cleanly(tmp_path: Path, lost_rows: Any) -> None:
    """Ctrl-C in a terminal reaches the whole process group: the run says it was interrupted
    (not that its API died) and exits 130; a SIGKILL of the run leaves none of its processes
    (the temporary API server, the worker pool) behind; the next run stores everything."""
    work = tmp_path / "work"
    (work / "seeds").mkdir(parents=True)
    words = [
        "minister",
        "sanctions",
        "corridor",
        "trade",
        "summit",
        "pipeline",
        "grain",
        "oil",
        "bank",
        "export",
        "visit",
        "talks",
    ]
    for n in range(1500):
        body = " ".join(words[(n * 7 + i * 3) % len(words)] + str(i % 17) for i in range(160))
        (work / "seeds" / f"{n:04d}.txt").write_text(f"Report {n} on the region\n\n{body}.\n", encoding="utf-8")

    marker = f"newsmon-test-{os.getpid()}-{time.monotonic_ns()}"
    run = _start_run(work, marker)
    os.killpg(run.pid, signal.SIGINT)
    rest, _ = run.communicate(timeout=120)
    said = [line for line in rest.splitlines() if "newsmon" in line or "Error" in line or "Traceback" in line]
    assert run.returncode == 130, said[-20:]
    assert "newsmon: interrupted" in rest and "stopped answering" not in rest and "leaked" not in rest

    run = _start_run(work, marker)
    os.kill(run.pid, signal.SIGKILL)
    run.wait(timeout=30)
    deadline = time.monotonic() + 20
    while _marked(marker) and time.monotonic() < deadline:
        time.sleep(0.5)
    left = _marked(marker)
    for pid in left:  # do not leave them to the next test either
        with contextlib.suppress(ProcessLookupError):
            os.kill(pid, signal.SIGKILL)
    assert left == [], "processes outlived the killed run"

    env = _env("", NEWSMON_BATCH_SIZE="40", PREFECT_HOME=str(work / "prefect"))
    del env["PREFECT_API_URL"]
    done = _newsmon(work, env, "run", "--seeds", "seeds", "--db", "news.duckdb")
    assert done.returncode == 0, done.stderr[-2000:]
    with duckdb.connect(str(work / "news.duckdb"), read_only=True) as con:
        stored = con.execute("SELECT count(*) FROM documents").fetchall()[0][0]
    lost_rows(1500 - stored)
    assert stored == 1500
