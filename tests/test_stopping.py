"""Runs and `newsmon serve` that stop and fail cleanly: signals at start-up, while idle and
during a run; the Prefect API dying under a run; a run waiting for the writer lock.

Every case runs newsmon as users do, in a subprocess, against real Prefect servers and real
DuckDB files; a run is held "in progress" by a feed on loopback that never answers.
"""

from __future__ import annotations

import fcntl
import os
import re
import signal
import socketserver
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import duckdb
import httpx
import pytest
from support import REPO, SEEDS, python_path

from newsmon.processes import descendants
from newsmon.server import LocalPrefectServer

pytestmark = [pytest.mark.slow, pytest.mark.faults, pytest.mark.hostile("faults")]

LostRows = Callable[[int], None]
STOP_WITHIN_S = 12.0  # a run's SIGTERM grace (8 s) is the worst case; stops take 1-3 s here


class HangingFeed:
    """A feed URL on 127.0.0.1 that accepts requests and never answers; ``hit`` is set on the first."""

    def __init__(self) -> None:
        self.hit = threading.Event()
        hit = self.hit

        class Hang(socketserver.BaseRequestHandler):
            def handle(self) -> None:
                self.request.recv(4096)
                hit.set()
                time.sleep(120)

        self.server = socketserver.ThreadingTCPServer(("127.0.0.1", 0), Hang)
        self.server.daemon_threads = True
        threading.Thread(target=self.server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True).start()
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}/feed"

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()


@pytest.fixture
def hanging_feed() -> Iterator[HangingFeed]:
    feed = HangingFeed()
    yield feed
    feed.close()


def _work(tmp: Path, feed: str | None = None) -> Path:
    work = tmp / "work"
    (work / "seeds").mkdir(parents=True)
    for seed in SEEDS.iterdir():
        (work / "seeds" / seed.name).write_bytes(seed.read_bytes())
    if feed:
        (work / "feeds.toml").write_text(f'[[feeds]]\nname = "Hang"\nurl = "{feed}"\ninterval = 60\n')
    return work


def _env(**extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("NEWSMON_", "PREFECT_"))}
    env.update(NEWSMON_HTTP_ALLOW="127.0.0.0/8", NEWSMON_HTTP_TIMEOUT_S="90", NEWSMON_EXTRACT_WORKERS="1")
    env.update(PYTHONPATH=python_path(REPO), **extra)
    return env


def _start(work: Path, env: dict[str, str], *args: str) -> subprocess.Popen[str]:
    return subprocess.Popen(
        [sys.executable, "-m", "cli", *args], cwd=work, env=env,
        stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
    )  # fmt: skip


class Watched:
    """A process, every descendant it has had (sampled), and its output so far."""

    def __init__(self, proc: subprocess.Popen[str]) -> None:
        self.proc = proc
        self.seen: set[int] = set()
        self.lines: list[str] = []
        threading.Thread(target=self._read, daemon=True).start()
        threading.Thread(target=self._sample, daemon=True).start()

    def _read(self) -> None:
        assert self.proc.stdout is not None
        for line in self.proc.stdout:
            self.lines.append(line)

    def _sample(self) -> None:
        while self.proc.poll() is None:
            self.seen.update(descendants(self.proc.pid))
            time.sleep(0.05)

    @property
    def output(self) -> str:
        return "".join(self.lines)

    def wait_for(self, pattern: str, timeout: float) -> re.Match[str]:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            found = re.search(pattern, self.output)
            if found:
                return found
            if self.proc.poll() is not None:
                break
            time.sleep(0.05)
        raise AssertionError(f"no {pattern!r} in the output:\n{self.output[-4000:]}")

    def stop(self, signum: int, timeout: float = 60) -> float:
        """Send ``signum``; seconds until the process exited."""
        t0 = time.monotonic()
        self.proc.send_signal(signum)
        try:
            self.proc.wait(timeout)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()
            raise AssertionError(
                f"still running {timeout:.0f} s after signal {signum}:\n{self.output[-4000:]}"
            ) from None
        time.sleep(0.3)  # the output reader drains
        return time.monotonic() - t0

    def leftovers(self) -> list[int]:
        time.sleep(0.3)
        return [pid for pid in self.seen if _alive(pid)]


def _alive(pid: int) -> bool:
    try:
        with open(f"/proc/{pid}/stat") as stat:
            return stat.read().rsplit(")", 1)[1].split()[0] not in ("Z", "X")
    except FileNotFoundError:
        return False


def _documents(db: Path) -> int:
    con = duckdb.connect(str(db), read_only=True)
    try:
        return int(con.execute("SELECT count(*) FROM documents").fetchall()[0][0])
    finally:
        con.close()


def _statuses(db: Path) -> list[str]:
    con = duckdb.connect(str(db), read_only=True)
    try:
        return [str(r[0]) for r in con.execute("SELECT status FROM runs ORDER BY started_at").fetchall()]
    finally:
        con.close()


def _refused(port: int) -> bool:
    try:
        httpx.get(f"http://127.0.0.1:{port}/api/health", timeout=2, trust_env=False)
    except httpx.ConnectError:
        return True
    return False


@pytest.fixture(scope="module")
def prefect_home(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """One PREFECT_HOME for the module's serve processes (one at a time): its database is set
    up once, as on a machine where serve has run before."""
    return tmp_path_factory.mktemp("prefect-home")


@pytest.mark.parametrize("phase", ["startup", "idle", "run"])
@pytest.mark.parametrize("signum", [signal.SIGTERM, signal.SIGINT], ids=["SIGTERM", "SIGINT"])
def test_serve_stops_promptly_and_cleanly(
    tmp_path: Path, prefect_home: Path, hanging_feed: HangingFeed, phase: str, signum: int, lost_rows: LostRows
) -> None:
    work = _work(tmp_path, hanging_feed.url if phase == "run" else None)
    serve = Watched(_start(work, _env(PREFECT_HOME=str(prefect_home)), "serve", "--interval", "1h"))
    try:
        serve.wait_for(rf"its state goes to {re.escape(str(prefect_home))} \(from PREFECT_HOME\)", 60)
        if phase == "startup":
            time.sleep(1.0)  # the server is starting
        else:
            serve.wait_for(r"serving .*: a run now, then every 1h", 240)
        if phase == "idle":
            serve.wait_for(
                r"run 1 completed in [\d.]+ s: 2 new documents.*; next run at \d{4}-\d\d-\d\d \d\d:\d\d:\d\d UTC", 240
            )
        if phase == "run":
            assert hanging_feed.hit.wait(240), serve.output[-4000:]
    finally:
        took = serve.stop(signum)
    out = serve.output
    assert serve.proc.returncode == 0, out[-4000:]
    assert took < STOP_WITHIN_S, f"{took:.1f} s\n{out[-4000:]}"
    assert out.rstrip().endswith("newsmon: stopped"), out[-4000:]
    assert "never awaited" not in out and "Traceback" not in out, out[-4000:]
    assert serve.leftovers() == [], out[-4000:]
    assert not (work / ".newsmon-prefect").exists()
    ui = re.search(r"Prefect UI at http://127\.0\.0\.1:(\d+)", out)
    if phase != "startup":
        assert ui is not None and _refused(int(ui.group(1)))  # the local server was stopped
    if phase == "idle":
        lost_rows(2 - _documents(work / "newsmon.duckdb"))  # the two seeds, stored by the first run
    if phase == "run":  # stopped while polling, before anything was stored: the database opens, nothing in it
        assert re.search(r"run 1 stopped after [\d.]+ s", out), out[-4000:]
        assert _statuses(work / "newsmon.duckdb") == ["crashed"]
        lost_rows(_documents(work / "newsmon.duckdb"))


@pytest.mark.parametrize("api", ["external", "temporary"])
def test_sigterm_stops_a_run_and_the_next_run_completes(
    tmp_path: Path, prefect_api: str, hanging_feed: HangingFeed, lost_rows: LostRows, api: str
) -> None:
    """With the temporary API, the stop ends that API too: newsmon says it stopped, and no
    more (it went on to report the API as lost, an error that did not happen)."""
    work = _work(tmp_path, hanging_feed.url)
    run = Watched(_start(work, _env(PREFECT_API_URL=prefect_api) if api == "external" else _env(), "run"))
    assert hanging_feed.hit.wait(180), run.output[-4000:]
    took = run.stop(signal.SIGTERM)
    assert run.proc.returncode == 128 + signal.SIGTERM and took < 8, f"{took:.1f} s\n{run.output[-4000:]}"
    assert "newsmon: stopped by SIGTERM" in run.output and "Traceback" not in run.output
    assert "stopped answering" not in run.output and "newsmon: error" not in run.output, run.output[-2000:]
    assert run.leftovers() == []
    (work / "feeds.toml").unlink()
    rerun = subprocess.run(
        [sys.executable, "-m", "cli", "run"], cwd=work, env=_env(PREFECT_API_URL=prefect_api),
        capture_output=True, text=True, timeout=240, check=False,
    )  # fmt: skip
    assert rerun.returncode == 0, rerun.stderr[-4000:]
    assert _statuses(work / "newsmon.duckdb") == ["crashed", "completed"]
    lost_rows(2 - _documents(work / "newsmon.duckdb"))


def _kill_api_mid_run(
    work: Path, env: dict[str, str], feed: HangingFeed, kill: Callable[[int], None]
) -> tuple[Watched, float]:
    """Start a run, kill its API while the run waits on the feed; the run and seconds it took to end."""
    run = Watched(_start(work, env, "run"))
    assert feed.hit.wait(180), run.output[-4000:]
    kill(run.proc.pid)
    t0 = time.monotonic()
    try:
        run.proc.wait(60)
    except subprocess.TimeoutExpired:
        run.proc.kill()
        raise AssertionError(f"the run outlived its API by 60 s:\n{run.output[-4000:]}") from None
    time.sleep(0.3)
    return run, time.monotonic() - t0


def _check_api_death(work: Path, run: Watched, took: float, env: dict[str, str], lost_rows: LostRows) -> None:
    errors = [ln for ln in run.output.splitlines() if ln.startswith("newsmon: error:")]
    assert run.proc.returncode == 1 and len(errors) == 1, run.output[-4000:]
    assert re.match(r"newsmon: error: the Prefect API at http://127\.0\.0\.1:\d+/api stopped answering: ", errors[0])
    assert took < 35, f"{took:.1f} s"  # the API request timeout (30 s) bounds it; refusals end it in seconds
    assert run.leftovers() == [], run.output[-4000:]
    assert _statuses(work / "newsmon.duckdb") == ["running"]  # as a killed run leaves it
    (work / "feeds.toml").unlink()
    rerun = subprocess.run(
        [sys.executable, "-m", "cli", "run"],
        cwd=work,
        env=env,
        capture_output=True,
        text=True,
        timeout=240,
        check=False,
    )
    assert rerun.returncode == 0, rerun.stderr[-4000:]
    assert "an earlier run had not finished (killed?): marked crashed" in rerun.stderr
    assert _statuses(work / "newsmon.duckdb") == ["crashed", "completed"]
    lost_rows(2 - _documents(work / "newsmon.duckdb"))


def test_a_run_whose_ephemeral_api_dies_fails_fast(
    tmp_path: Path, hanging_feed: HangingFeed, lost_rows: LostRows
) -> None:
    work = _work(tmp_path, hanging_feed.url)
    env = _env(PREFECT_HOME=str(tmp_path / "prefect-home"))

    def kill_ephemeral_server(run_pid: int) -> None:
        servers = [
            p for p in descendants(run_pid) if "uvicorn" in Path(f"/proc/{p}/cmdline").read_text(errors="replace")
        ]
        assert len(servers) == 1
        os.kill(servers[0], signal.SIGKILL)

    run, took = _kill_api_mid_run(work, env, hanging_feed, kill_ephemeral_server)
    _check_api_death(work, run, took, env, lost_rows)
    assert "its server process exited (code -9)" in run.output


def test_a_run_whose_prefect_server_dies_fails_fast(
    tmp_path: Path, hanging_feed: HangingFeed, lost_rows: LostRows
) -> None:
    work = _work(tmp_path, hanging_feed.url)
    server = LocalPrefectServer(tmp_path / "prefect-home")
    server.start()
    try:
        env = _env(PREFECT_API_URL=server.api_url)
        run, took = _kill_api_mid_run(work, env, hanging_feed, lambda _pid: server.stop())
        assert "connection refused 3 times in a row" in run.output, run.output[-4000:]
        server.start()  # back, for the next run
        _check_api_death(work, run, took, env, lost_rows)
    finally:
        server.stop()


def test_a_run_waiting_for_the_lock_says_so_once_and_fails_once(tmp_path: Path, prefect_api: str) -> None:
    work = _work(tmp_path)
    lock = os.open(work / "newsmon.duckdb.lock", os.O_RDWR | os.O_CREAT, 0o644)
    try:
        fcntl.flock(lock, fcntl.LOCK_EX)
        os.pwrite(lock, str(os.getpid()).encode(), 0)
        result = subprocess.run(
            [sys.executable, "-m", "cli", "run"], cwd=work, capture_output=True, text=True, timeout=240, check=False,
            env=_env(PREFECT_API_URL=prefect_api, NEWSMON_LOCK_TIMEOUT_S="3"),
        )  # fmt: skip
    finally:
        os.close(lock)
    out = result.stdout + result.stderr
    waits = [ln for ln in out.splitlines() if "waiting for the writer lock" in ln]
    assert len(waits) == 1 and waits[0].startswith("newsmon: waiting for the writer lock on newsmon.duckdb"), out
    assert f"(held by PID {os.getpid()}, running since " in waits[0]
    error = f"another newsmon run (PID {os.getpid()}) is writing newsmon.duckdb: waited 3 s"
    assert out.count(error) == 1, out
    assert result.returncode == 1 and f"newsmon: error: {error}" in result.stderr
    assert "Traceback" not in out
