"""Faults during runs: network drops, a hanging feed, overlapping runs, kills, a torn WAL."""

from __future__ import annotations

import os
import random
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
from prefect.testing.utilities import prefect_test_harness
from support import REPO, SEEDS, Route, ScriptedServer, python_path

pytestmark = [pytest.mark.hostile("faults"), pytest.mark.slow]

PAGE = (
    "<html><body><article><h1>{t}</h1>"
    + "".join(f"<p>{{t}} — paragraph {i}: ministers discussed item {i} of the agenda at length.</p>" for i in range(10))
    + "</article></body></html>"
)


@pytest.fixture(scope="module")
def prefect_api() -> Iterator[str]:
    with prefect_test_harness(server_startup_timeout=120):
        from prefect.settings import PREFECT_API_URL

        yield str(PREFECT_API_URL.value())


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
        [sys.executable, "-m", "newsmon.cli", "run"],
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
        }
    finally:
        con.close()


def _lost(expected: dict[str, Any], found: dict[str, Any]) -> int:
    return sum(len(set(expected[k]) - set(found[k])) for k in ("documents", "tags", "feed_items"))


@pytest.fixture
def server() -> Iterator[ScriptedServer]:
    srv = ScriptedServer()
    yield srv
    srv.close()


def test_sigkill_at_twenty_random_points(
    tmp_path: Path, prefect_api: str, server: ScriptedServer, lost_rows: Any
) -> None:
    for f in range(3):
        server.routes[f"/f{f}"] = Route(_rss(server, f, 6), etag=f'"e{f}"')
    feeds = [server.url(f"/f{f}") for f in range(3)]
    reference = _work(tmp_path / "ref", feeds)
    assert _run(reference, _env(prefect_api)).returncode == 0
    expected = _state(reference / "newsmon.duckdb", reference)

    work = _work(tmp_path / "crash", feeds)
    rng = random.Random(20231)
    points = [
        "after-fetch",
        "mid-store@1",
        "mid-store@2",
        "mid-store@3",
        "mid-store@5",
        "before-feed-states",
        "before-alert",
    ]
    kills = 0
    for _ in range(20):
        result = _run(work, _env(prefect_api, NEWSMON_FAULT=rng.choice(points)))
        assert result.returncode in (0, -signal.SIGKILL), result.stderr
        kills += result.returncode == -signal.SIGKILL
        if result.returncode == 0:  # the point was not reached: the work is done; start over
            found = _state(work / "newsmon.duckdb", work)
            lost_rows(_lost(expected, found))
            assert found == expected
            for f in (work / "newsmon.duckdb", work / "newsmon.snapshot.duckdb"):
                f.unlink()
    final = _run(work, _env(prefect_api))
    assert final.returncode == 0, final.stderr
    found = _state(work / "newsmon.duckdb", work)
    lost_rows(_lost(expected, found))
    assert found == expected
    assert kills >= 10


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
    threading.Thread(target=drop.serve_forever, daemon=True).start()
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
    class Hang(socketserver.BaseRequestHandler):
        def handle(self) -> None:
            self.request.recv(4096)
            time.sleep(30)

    hang = socketserver.ThreadingTCPServer(("127.0.0.1", 0), Hang)
    hang.daemon_threads = True
    threading.Thread(target=hang.serve_forever, daemon=True).start()
    try:
        feeds = []
        for f in range(199):
            item = f"<item><title>Feed {f} only item about Tashkent talks</title><guid>g{f}</guid></item>"
            server.routes[f"/s{f}"] = Route(f"<rss version='2.0'><channel>{item}</channel></rss>".encode())
            feeds.append(server.url(f"/s{f}"))
        feeds.append(f"http://127.0.0.1:{hang.server_address[1]}/feed")
        work = _work(tmp_path, feeds)
        t0 = time.perf_counter()
        result = _run(work, _env(prefect_api, NEWSMON_HTTP_TIMEOUT_S="5", NEWSMON_FETCH_PAGES="false"))
        elapsed = time.perf_counter() - t0
        assert result.returncode == 0, result.stderr
        con = duckdb.connect(str(work / "newsmon.duckdb"), read_only=True)
        stored = con.execute("SELECT count(*) FROM feed_items").fetchall()[0][0]
        kinds = con.execute(
            "SELECT last_error_kind, count(*) FROM feeds WHERE consecutive_failures > 0 GROUP BY 1"
        ).fetchall()
        con.close()
        lost_rows(199 - stored)
        assert stored == 199 and kinds == [("timeout", 1)]
        assert elapsed < 5 + 45  # about one deadline on top of an ordinary run
    finally:
        hang.shutdown()
        hang.server_close()


def test_overlapping_runs_take_turns(tmp_path: Path, prefect_api: str, server: ScriptedServer, lost_rows: Any) -> None:
    server.routes["/f"] = Route(_rss(server, 0, 4), etag='"f"')
    work = _work(tmp_path, [server.url("/f")])
    env = _env(prefect_api, NEWSMON_LOCK_TIMEOUT_S="120")
    procs = [
        subprocess.Popen(
            [sys.executable, "-m", "newsmon.cli", "run"],
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
    else:
        lines = [ln for ln in rerun.stderr.splitlines() if ln.startswith("newsmon: error:")]
        assert rerun.returncode == 1 and lines and "Traceback" not in rerun.stderr, rerun.stderr
