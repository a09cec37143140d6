"""Faults during runs: network drops, a hanging feed, overlapping runs, kills, a torn WAL."""

from __future__ import annotations

import contextlib
import fcntl
import json
import os
import random
import shutil
import signal
import socketserver
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import duckdb
import pytest
from support import REPO, SEEDS, Route, ScriptedServer, python_path

pytestmark = [pytest.mark.hostile("faults"), pytest.mark.faults, pytest.mark.slow]

PAGE = (
    "<html><body><article><h1>{t}</h1>"
    + "".join(f"<p>{{t}} — paragraph {i}: ministers discussed item {i} of the agenda at length.</p>" for i in range(10))
    + "</article></body></html>"
)


def _rss(server: ScriptedServer, feed: int, items: int) -> bytes:
    entries = []
    for n in range(items):
        title = f"Feed {feed} story {n}: Astana hosts Central Asian foreign ministers"
        server.routes[f"/p/{feed}/{n}"] = Route(PAGE.format(t=title).encode(), {"Content-Type": "text/html"})
        entries.append(
            f"<item><title>{title}</title><link>{server.url(f'/p/{feed}/{n}')}</link><guid>f{feed}-{n}</guid>"
            f"<pubDate>Mon, 01 May 2023 1{n % 10}:00:00 GMT</pubDate></item>"
        )
    channel = f"<channel><title>F{feed}</title>{''.join(entries)}</channel>"
    return f"<?xml version='1.0'?><rss version='2.0'>{channel}</rss>".encode()


def _work(tmp: Path, feeds: list[str]) -> Path:
    work = tmp / "work"
    (work / "seeds").mkdir(parents=True)
    for seed in SEEDS.iterdir():
        (work / "seeds" / seed.name).write_bytes(seed.read_bytes())
    (work / "feeds.toml").write_text(
        "".join(f'[[feeds]]\nname = "F{i}"\nurl = "{u}"\ninterval = 60\n\n' for i, u in enumerate(feeds))
    )
    return work


def _env(api: str, **extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("NEWSMON_", "PREFECT_"))}
    env.update(
        PREFECT_API_URL=api, NEWSMON_HTTP_ALLOW="127.0.0.0/8", NEWSMON_BATCH_SIZE="4", NEWSMON_EXTRACT_WORKERS="1"
    )
    env.update(PYTHONPATH=python_path(REPO), **extra)  # python_path keeps the network guard
    return env


def _run(work: Path, env: dict[str, str], timeout: float = 240) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "cli", "run"],
        cwd=work,
        env=env,
        capture_output=True,
        text=True,
        timeout=timeout,
        check=False,
    )


def _state(db: Path, root: Path) -> dict[str, Any]:
    con = duckdb.connect(str(db), read_only=True)
    prefix = root.as_uri()
    try:

        def rows(sql: str) -> list[tuple[Any, ...]]:
            return sorted(tuple(str(v).replace(prefix, "ROOT") for v in r) for r in con.execute(sql).fetchall())

        return {
            "documents": rows("SELECT url, title, extraction FROM documents"),
            "stories": rows(
                "SELECT list_sort(list(d.url)) FROM story_members m"
                " JOIN documents d ON d.id = m.document_id GROUP BY m.story_id"
            ),
            "tags": rows(
                "SELECT d.url, t.topic, t.evidence FROM document_topics t JOIN documents d ON d.id = t.document_id"
            ),
            "alerted": rows("SELECT topic, count(*) FROM document_topics WHERE alert_id IS NOT NULL GROUP BY 1"),
            "feed_items": rows("SELECT feed_url, item_key FROM feed_items"),
            # items_total is counted with the items it counts, so a kill loses no count
            "feeds": rows(
                "SELECT url, etag, last_status, consecutive_failures, validators_trusted, items_total FROM feeds"
            ),
        }
    finally:
        con.close()


def _lost(expected: dict[str, Any], found: dict[str, Any]) -> int:
    return sum(len(set(expected[k]) - set(found[k])) for k in ("documents", "tags", "feed_items"))


def _lost_in(db: Path, root: Path, expected: dict[str, Any], scratch: Path) -> int:
    """Rows of ``expected`` that a copy of ``db`` (and its WAL) no longer gives back; all if it cannot be read."""
    scratch.mkdir(parents=True, exist_ok=True)
    for name in (db.name, db.name + ".wal"):
        if (db.parent / name).exists():
            shutil.copy(db.parent / name, scratch / name)
    try:
        return _lost(expected, _state(scratch / db.name, root))
    except duckdb.Error:
        return sum(len(expected[k]) for k in ("documents", "tags", "feed_items"))


@pytest.fixture
def server() -> Iterator[ScriptedServer]:
    srv = ScriptedServer()
    yield srv
    srv.close()


# A fork server for the kill test: one process imports newsmon, Prefect and DuckDB once, and
# forks a child per run that runs ``newsmon run`` in its work folder. A run then costs its
# own work, not 3 s of imports, and every kill lands in the run itself.
_FORK_SERVER = """
import json, os, sys, threading, traceback
import cli, flows.monitor, storage.store  # the imports every run would repeat
if threading.active_count() != 1:
    raise SystemExit("fork server: threads after the imports; forking is not safe")
for line in sys.stdin:
    request = json.loads(line)
    if "wait" in request:
        _pid, status = os.waitpid(request["wait"], 0)
        print(json.dumps({"status": os.waitstatus_to_exitcode(status)}), flush=True)
        continue
    pid = os.fork()
    if pid:
        print(json.dumps({"pid": pid}), flush=True)
        continue
    code = 1
    try:
        os.setsid()  # its own process group: a kill takes its extraction workers too
        os.chdir(request["cwd"])
        log = os.open(request["log"], os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o644)
        os.dup2(log, 1)
        os.dup2(log, 2)
        sys.argv = ["newsmon", "run"]
        cli.main()
        code = 0
    except SystemExit as end:
        code = end.code if isinstance(end.code, int) else 1
    except BaseException:
        traceback.print_exc()
    finally:
        sys.stdout.flush()
        sys.stderr.flush()
        os._exit(code)
"""


class ForkServer:
    """Starts ``newsmon run`` in a work folder as a forked child; waits for it or kills it."""

    def __init__(self, env: dict[str, str]) -> None:
        self.proc = subprocess.Popen(
            [sys.executable, "-c", _FORK_SERVER], cwd=REPO, env=env,
            stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True, bufsize=1,
        )  # fmt: skip

    def _ask(self, request: dict[str, Any]) -> dict[str, Any]:
        assert self.proc.stdin is not None and self.proc.stdout is not None
        self.proc.stdin.write(json.dumps(request) + "\n")
        self.proc.stdin.flush()
        reply = self.proc.stdout.readline()
        assert reply, f"the fork server stopped (exit {self.proc.poll()})"
        return dict(json.loads(reply))

    def start(self, work: Path) -> int:
        """Start a run in ``work``; its output goes to ``work/run.log``. Returns its pid."""
        return int(self._ask({"cwd": str(work), "log": str(work / "run.log")})["pid"])

    def wait(self, pid: int) -> int:
        """The run's exit code (negative: killed by that signal)."""
        return int(self._ask({"wait": pid})["status"])

    def close(self) -> None:
        assert self.proc.stdin is not None
        self.proc.stdin.close()
        self.proc.wait(timeout=30)


def _lock_taken(work: Path, pid: int, deadline_s: float = 120) -> float:
    """Wait until run ``pid`` holds the writer lock (the lock file names its owner); the time then."""
    lock = work / "newsmon.duckdb.lock"
    end = time.monotonic() + deadline_s
    while time.monotonic() < end:
        try:
            if lock.read_text().strip() == str(pid):
                return time.monotonic()
        except FileNotFoundError:
            pass
        if _exited(pid):
            raise AssertionError(f"run {pid} ended before taking the lock: {(work / 'run.log').read_text()[-2000:]}")
        time.sleep(0.005)
    raise AssertionError(f"run {pid} never took the writer lock")


def _lock_released(work: Path, pid: int, deadline_s: float = 120) -> float:
    """Wait until run ``pid`` no longer holds the writer lock (released, or the run gone); the time then."""
    fd = os.open(work / "newsmon.duckdb.lock", os.O_RDWR)
    end = time.monotonic() + deadline_s
    try:
        while time.monotonic() < end:
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except BlockingIOError:
                time.sleep(0.005)
                continue
            fcntl.flock(fd, fcntl.LOCK_UN)
            return time.monotonic()
    finally:
        os.close(fd)
    raise AssertionError(f"run {pid} held the writer lock for more than {deadline_s:.0f} s")


def _exited(pid: int) -> bool:
    """True once the child is a zombie or gone (the fork server reaps it on ``wait``)."""
    try:
        with open(f"/proc/{pid}/stat") as stat:
            return stat.read().rsplit(")", 1)[1].split()[0] in ("Z", "X")
    except FileNotFoundError:
        return True


def _runs_at_kill(work: Path, scratch: Path) -> dict[str, str] | None:
    """Run statuses as a killed run left them (read from a copy, so the real files stay as they are);
    None when no copy opens (a file cut mid-creation: the rerun must cope with it)."""
    db = work / "newsmon.duckdb"
    if not db.exists():
        return {}
    shutil.rmtree(scratch, ignore_errors=True)
    scratch.mkdir(parents=True)
    for name in ("newsmon.duckdb", "newsmon.duckdb.wal"):
        if (work / name).exists():
            shutil.copy(work / name, scratch / name)
    try:
        con = duckdb.connect(str(scratch / "newsmon.duckdb"))
        try:
            return {str(k): str(v) for k, v in con.execute("SELECT id, status FROM runs").fetchall()}
        finally:
            con.close()
    except duckdb.CatalogException:
        return {}  # killed while migrating: no run recorded yet
    except duckdb.Error:
        return None


def _run_statuses(db: Path) -> dict[str, str]:
    con = duckdb.connect(str(db), read_only=True)
    try:
        return {str(k): str(v) for k, v in con.execute("SELECT id, status FROM runs").fetchall()}
    finally:
        con.close()


def test_sigkill_at_twenty_random_points(
    tmp_path: Path, prefect_api: str, server: ScriptedServer, lost_rows: Any
) -> None:
    """20 SIGKILLs at random moments of a run, each followed by a rerun that must end with the
    database an uninterrupted run makes, and the killed run marked crashed.

    The moments are uniform over the time an uninterrupted run holds the database (from
    taking the writer lock to releasing it: the longest of the reference run and the reruns so
    far), so kills land in every stage: migration, ingest, polling, page extraction, each
    batch's transaction, feed states, alerts, the snapshot. A run that ends before its moment
    is not a kill, and another moment is drawn.
    """
    for f in range(2):
        server.routes[f"/f{f}"] = Route(_rss(server, f, 4), etag=f'"e{f}"')
    feeds = [server.url(f"/f{f}") for f in range(2)]
    runner = ForkServer(_env(prefect_api, NEWSMON_BATCH_SIZE="3"))
    try:
        reference = _work(tmp_path / "ref", feeds)
        pid = runner.start(reference)
        locked = _lock_taken(reference, pid)
        windows = [_lock_released(reference, pid) - locked]  # how long uninterrupted runs hold the database
        assert runner.wait(pid) == 0, (reference / "run.log").read_text()[-3000:]
        expected = _state(reference / "newsmon.duckdb", reference)
        assert len(expected["documents"]) == 10 and expected["alerted"]

        rng = random.Random(20231)
        kills: list[str] = []
        crashed = 0  # kills that left a run marked running, for the next run to mark crashed
        for attempt in range(60):
            if len(kills) == 20:
                break
            work = _work(tmp_path / f"t{attempt}", feeds)
            window = max(windows)
            delay = rng.uniform(0, window)
            pid = runner.start(work)
            time.sleep(max(0.0, _lock_taken(work, pid) + delay - time.monotonic()))
            with contextlib.suppress(ProcessLookupError):
                os.killpg(pid, signal.SIGKILL)
            status = runner.wait(pid)
            if status == 0:
                continue  # it finished before the moment came: not a kill, draw again
            assert status == -signal.SIGKILL, (work / "run.log").read_text()[-3000:]
            lines = (work / "run.log").read_text(errors="replace").splitlines()
            last = lines[-1][-160:] if lines else "-"
            where = f"kill {len(kills) + 1} at {delay:.2f} s of {window:.2f} s, after: {last}"
            at_kill = _runs_at_kill(work, tmp_path / "peek")
            kills.append(where)

            rerun = runner.start(work)
            locked = _lock_taken(work, rerun)
            windows.append(_lock_released(work, rerun) - locked)
            assert runner.wait(rerun) == 0, f"{where}\n" + (work / "run.log").read_text()[-3000:]
            found = _state(work / "newsmon.duckdb", work)
            lost_rows(_lost(expected, found))
            assert found == expected, where
            statuses = _run_statuses(work / "newsmon.duckdb")
            reruns = [k for k in statuses if at_kill is None or k not in at_kill]
            assert len(reruns) == 1 and statuses[reruns[0]] == "completed", (where, at_kill, statuses)
            if at_kill is not None:  # a run the kill left 'running' is now 'crashed'; one already done stays
                assert {k: statuses[k] for k in at_kill} == {
                    k: "crashed" if v == "running" else v for k, v in at_kill.items()
                }, (where, at_kill, statuses)
                crashed += "running" in at_kill.values()
        assert len(kills) == 20, f"only {len(kills)} kills landed inside a run: {kills}"
        assert crashed >= 10, f"only {crashed} of the killed runs were running (most should be): {kills}"
    finally:
        runner.close()


def test_network_drop_mid_run_loses_nothing(
    tmp_path: Path, prefect_api: str, server: ScriptedServer, lost_rows: Any
) -> None:
    class Drop(socketserver.BaseRequestHandler):
        def handle(self) -> None:
            self.request.recv(4096)
            self.request.sendall(
                b"HTTP/1.1 200 OK\r\nContent-Type: application/rss+xml\r\nContent-Length: 5000\r\n\r\n<rss"
            )
            self.request.close()  # the connection drops mid-body

    drop = socketserver.ThreadingTCPServer(("127.0.0.1", 0), Drop)
    threading.Thread(target=drop.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True).start()
    try:
        server.routes["/ok"] = Route(_rss(server, 0, 5), etag='"ok"')
        work = _work(tmp_path, [server.url("/ok"), f"http://127.0.0.1:{drop.server_address[1]}/feed"])
        result = _run(work, _env(prefect_api))
        assert result.returncode == 0, result.stderr
        con = duckdb.connect(str(work / "newsmon.duckdb"), read_only=True)
        stored = con.execute("SELECT count(*) FROM feed_items").fetchall()[0][0]
        health = con.execute("SELECT name, status, consecutive_failures FROM v_feed_health ORDER BY name").fetchall()
        con.close()
        lost_rows(5 - stored)
        assert stored == 5
        assert health == [("F0", "ok", 0), ("F1", "failing", 1)]
    finally:
        drop.shutdown()
        drop.server_close()


def test_one_hanging_feed_of_two_hundred(
    tmp_path: Path, prefect_api: str, server: ScriptedServer, lost_rows: Any
) -> None:
    """The other 199 are stored, and the run takes one HTTP deadline longer than without the hang.

    A baseline run (200 answering feeds) measures the fixed cost; the hanging run may add about
    one deadline to it (the bound allows 2.5, for a loaded machine), never one per slot or feed.
    """

    class Hang(socketserver.BaseRequestHandler):
        def handle(self) -> None:
            self.request.recv(4096)
            time.sleep(30)

    hang = socketserver.ThreadingTCPServer(("127.0.0.1", 0), Hang)
    hang.daemon_threads = True
    threading.Thread(target=hang.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True).start()
    deadline = 5.0
    env = _env(prefect_api, NEWSMON_HTTP_TIMEOUT_S=str(deadline), NEWSMON_FETCH_PAGES="false")
    try:
        feeds = []
        for f in range(200):
            item = f"<item><title>Feed {f} only item about Tashkent talks</title><guid>g{f}</guid></item>"
            server.routes[f"/s{f}"] = Route(f"<rss version='2.0'><channel>{item}</channel></rss>".encode())
            feeds.append(server.url(f"/s{f}"))

        def timed(work: Path) -> tuple[float, float]:
            t0 = time.perf_counter()
            result = _run(work, env)
            elapsed = time.perf_counter() - t0
            assert result.returncode == 0, result.stderr
            con = duckdb.connect(str(work / "newsmon.duckdb"), read_only=True)
            stage = con.execute("SELECT seconds FROM run_stages WHERE stage = 'feeds'").fetchall()[0][0]
            con.close()
            return elapsed, float(stage)

        base_run, base_feeds = timed(_work(tmp_path / "base", feeds))  # all 200 answer
        work = _work(tmp_path / "hang", [*feeds[:199], f"http://127.0.0.1:{hang.server_address[1]}/feed"])
        elapsed, feeds_stage = timed(work)
        con = duckdb.connect(str(work / "newsmon.duckdb"), read_only=True)
        stored = con.execute("SELECT count(*) FROM feed_items").fetchall()[0][0]
        kinds = con.execute(
            "SELECT last_error_kind, count(*) FROM feeds WHERE consecutive_failures > 0 GROUP BY 1"
        ).fetchall()
        con.close()
        lost_rows(199 - stored)
        assert stored == 199 and kinds == [("timeout", 1)]
        timing = f"run {elapsed:.1f} s, feeds {feeds_stage:.1f} s; baseline {base_run:.1f} s, {base_feeds:.1f} s"
        assert feeds_stage >= deadline, timing  # it did wait for the hanging feed, to its deadline
        assert feeds_stage < base_feeds + 1.5 * deadline, timing  # ... once, not once per feed or slot
        assert elapsed < base_run + 2.5 * deadline, timing  # the whole run: about one deadline more
    finally:
        hang.shutdown()
        hang.server_close()


def test_overlapping_runs_take_turns(tmp_path: Path, prefect_api: str, server: ScriptedServer, lost_rows: Any) -> None:
    server.routes["/f"] = Route(_rss(server, 0, 4), etag='"f"')
    work = _work(tmp_path, [server.url("/f")])
    env = _env(prefect_api, NEWSMON_LOCK_TIMEOUT_S="120")
    procs = [
        subprocess.Popen(
            [sys.executable, "-m", "cli", "run"],
            cwd=work,
            env=env,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        for _ in range(2)
    ]
    outs = [p.communicate(timeout=240) for p in procs]
    assert [p.returncode for p in procs] == [0, 0], outs
    con = duckdb.connect(str(work / "newsmon.duckdb"), read_only=True)
    docs = con.execute("SELECT count(*) FROM documents").fetchall()[0][0]
    runs = con.execute("SELECT status FROM runs").fetchall()
    con.close()
    lost_rows(6 - docs)
    assert docs == 6 and runs == [("completed",), ("completed",)]


def test_torn_wal_is_recovered_or_reported(
    tmp_path: Path, prefect_api: str, server: ScriptedServer, lost_rows: Any
) -> None:
    server.routes["/f"] = Route(_rss(server, 0, 8), etag='"f"')
    reference = _work(tmp_path / "ref", [server.url("/f")])
    assert _run(reference, _env(prefect_api)).returncode == 0
    expected = _state(reference / "newsmon.duckdb", reference)
    work = _work(tmp_path / "torn", [server.url("/f")])
    killed = _run(work, _env(prefect_api, NEWSMON_FAULT="before-alert"))
    assert killed.returncode == -signal.SIGKILL
    wal = work / "newsmon.duckdb.wal"
    assert wal.exists() and wal.stat().st_size > 0
    with open(wal, "r+b") as handle:
        handle.truncate(wal.stat().st_size // 2)
    rerun = _run(work, _env(prefect_api))
    if rerun.returncode == 0:
        found = _state(work / "newsmon.duckdb", work)
        lost_rows(_lost(expected, found))
        assert found == expected
    else:  # reported: what the file still holds is counted, all of it as lost if it cannot be read
        lost_rows(_lost_in(work / "newsmon.duckdb", work, expected, tmp_path / "copy"))
        lines = [ln for ln in rerun.stderr.splitlines() if ln.startswith("newsmon: error:")]
        assert rerun.returncode == 1 and lines and "Traceback" not in rerun.stderr, rerun.stderr
