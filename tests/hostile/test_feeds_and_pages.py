"""Bad feeds and pages: each is survived, and every good item next to it is kept."""

from __future__ import annotations

import gzip
import subprocess
import sys
import time
import tracemalloc
from collections.abc import Iterator
from pathlib import Path

import brotli
import duckdb
import pytest
from support import REPO, Route, ScriptedServer

from newsmon.config import Settings
from newsmon.errors import FetchError
from newsmon.extract import PagePool, extract_page
from newsmon.feeds import parse_feed
from newsmon.http import FetchRequest, HttpConfig, fetch_all

pytestmark = pytest.mark.hostile("bad feeds and pages")
LOOPBACK = HttpConfig(allow=("127.0.0.0/8",), total_timeout_s=3, max_body_bytes=2 * 1024 * 1024)
GOOD = b"<item><title>Good item</title><link>https://ok.example/1</link><guid>good</guid></item>"


def rss(*items: bytes, head: bytes = b"<?xml version='1.0'?>") -> bytes:
    return head + b"<rss version='2.0'><channel><title>t</title>" + b"".join(items) + b"</channel></rss>"


@pytest.fixture
def server() -> Iterator[ScriptedServer]:
    srv = ScriptedServer()
    yield srv
    srv.close()


def _kept(body: bytes, lost_rows: object, expected: int = 1) -> None:
    items = parse_feed(body, {}).items
    good = [i for i in items if i.key == "good"]
    lost_rows(expected - len(good))  # type: ignore[operator]
    assert len(good) == expected


def test_malformed_xml_keeps_what_is_recoverable(lost_rows: object) -> None:
    body = rss(GOOD, b"<item><title>broken &nbsp &bogus; <b>unclosed</title></item>")[:-20]
    parsed = parse_feed(body, {})
    assert parsed.is_feed and parsed.error
    _kept(body, lost_rows)


@pytest.mark.parametrize(
    ("declared", "encoding", "text"),
    [
        ("utf-8", "windows-1251", "Новости дня: правительство обсудило бюджет и налоги"),
        ("iso-8859-1", "utf-8", "Genève accueille la conférence sur le désarmement"),
        (None, "koi8-r", "Привет мир: новости науки и техники за неделю"),
    ],
)
def test_mislabeled_and_undeclared_encodings(declared: str | None, encoding: str, text: str) -> None:
    head = f"<?xml version='1.0' encoding='{declared}'?>".encode() if declared else b""
    item = f"<item><title>{text} {text}</title><guid>good</guid></item>".encode(encoding)
    items = parse_feed(rss(item, head=head), {}).items
    assert items[0].title == f"{text} {text}"


def test_xxe_and_external_dtd_are_never_resolved(server: ScriptedServer, lost_rows: object) -> None:
    server.routes["/evil.dtd"] = Route(b'<!ENTITY leak "LEAKED">', {"Content-Type": "application/xml-dtd"})
    body = (
        b"<?xml version='1.0'?><!DOCTYPE rss [<!ENTITY xxe SYSTEM 'file:///etc/passwd'>"
        b"<!ENTITY % ext SYSTEM '" + server.url("/evil.dtd").encode() + b"'> %ext;]>"
        b"<rss version='2.0'><channel><item><title>&xxe; &leak;</title><guid>x</guid></item>"
        + GOOD
        + b"</channel></rss>"
    )
    parsed = parse_feed(body, {})
    text = " ".join(i.title + i.summary for i in parsed.items)
    assert "root:" not in text and "LEAKED" not in text
    assert server.hits("/evil.dtd") == []  # the DTD URL was never requested
    _kept(body, lost_rows)


@pytest.mark.slow
def test_billion_laughs_is_bounded() -> None:
    lol = b"<!ENTITY lol0 'lol'>" + b"".join(
        f"<!ENTITY lol{i} '{('&lol' + str(i - 1) + ';') * 10}'>".encode() for i in range(1, 10)
    )
    body = b"<?xml version='1.0'?><!DOCTYPE rss [" + lol + b"]>" + rss(b"<item><title>&lol9;</title></item>", head=b"")
    t0 = time.perf_counter()
    items = parse_feed(body, {}).items
    assert time.perf_counter() - t0 < 10  # about 1 s here: entities are never expanded
    assert all(len(i.title) < 1000 for i in items)
    tracemalloc.start()
    parse_feed(body, {})
    peak = tracemalloc.get_traced_memory()[1]
    tracemalloc.stop()
    assert peak < 256 * 1024 * 1024  # ~50 MB measured; an expansion would need gigabytes


@pytest.mark.parametrize("with_length", [True, False])
def test_100_mb_body_stops_at_the_cap(server: ScriptedServer, with_length: bool) -> None:
    import http.server
    import threading

    class Huge(http.server.BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            self.send_response(200)
            self.send_header("Content-Type", "application/rss+xml")
            if with_length:
                self.send_header("Content-Length", str(100 * 1024 * 1024))
            self.end_headers()
            chunk = b"x" * 65536
            try:
                for _ in range(1600):
                    self.wfile.write(chunk)
            except (BrokenPipeError, ConnectionResetError):
                pass

        def log_message(self, *_a: object) -> None:
            pass

    httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Huge)
    threading.Thread(target=httpd.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True).start()
    try:
        t0 = time.perf_counter()
        result = fetch_all([FetchRequest(f"http://127.0.0.1:{httpd.server_address[1]}/")], LOOPBACK)[0]
        assert isinstance(result, FetchError) and result.kind == "too-large"
        assert time.perf_counter() - t0 < 3
    finally:
        httpd.shutdown()
        httpd.server_close()


def test_gzip_bomb_stops_at_the_cap(server: ScriptedServer) -> None:
    bomb = gzip.compress(b"\0" * (60 * 1024 * 1024), compresslevel=9)
    server.routes["/bomb"] = Route(bomb, {"Content-Type": "application/rss+xml", "Content-Encoding": "gzip"})
    tracemalloc.start()
    result = fetch_all([FetchRequest(server.url("/bomb"))], LOOPBACK)[0]
    peak = tracemalloc.get_traced_memory()[1]
    tracemalloc.stop()
    assert isinstance(result, FetchError) and result.kind == "too-large"
    assert peak < 40 * 1024 * 1024


def _brotli_bomb(megabytes: int) -> bytes:
    packer = brotli.Compressor(quality=5)
    zeros = bytes(1024 * 1024)
    return b"".join([*(packer.process(zeros) for _ in range(megabytes)), packer.finish()])


def test_brotli_bomb_stops_at_the_cap(server: ScriptedServer) -> None:
    bomb = _brotli_bomb(100)  # 100 MB of zeros in a few hundred bytes: one read of the socket
    assert len(bomb) < 4096
    server.routes["/bomb"] = Route(bomb, {"Content-Type": "application/rss+xml", "Content-Encoding": "br"})
    tracemalloc.start()
    result = fetch_all([FetchRequest(server.url("/bomb"))], LOOPBACK)[0]
    peak = tracemalloc.get_traced_memory()[1]
    tracemalloc.stop()
    assert isinstance(result, FetchError) and result.kind == "too-large", result
    assert peak < 16 * 1024 * 1024


_RSS_PROBE = """
import sys, threading
import brotli
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from newsmon.http import FetchRequest, HttpConfig, fetch_all
bomb = sys.stdin.buffer.read()


def peak_kb():  # this process image's peak RSS (ru_maxrss would carry the parent's over exec)
    with open("/proc/self/status") as status:
        return next(int(line.split()[1]) for line in status if line.startswith("VmHWM:"))


class Bomb(BaseHTTPRequestHandler):
    def do_GET(self):
        body = bomb if self.path == "/bomb" else brotli.compress(b"<rss/>")
        self.send_response(200)
        self.send_header("Content-Encoding", "br")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args):
        pass

httpd = ThreadingHTTPServer(("127.0.0.1", 0), Bomb)
threading.Thread(target=httpd.serve_forever, daemon=True).start()
config = HttpConfig(allow=("127.0.0.0/8",), total_timeout_s=10, max_body_bytes=2 * 1024 * 1024)
url = "http://127.0.0.1:%d" % httpd.server_address[1]
fetch_all([FetchRequest(url + "/small")], config)  # warm up: imports, event loop, connection pool
before = peak_kb()
result = fetch_all([FetchRequest(url + "/bomb")], config)[0]
after = peak_kb()
print(getattr(result, "kind", "no error"), (after - before) // 1024)
"""


def test_brotli_bomb_keeps_the_process_small() -> None:
    """The decoder's own (C) memory too: the whole process grows by a few MB, not by 100 MB."""
    if not Path("/proc/self/status").is_file():
        pytest.skip("needs /proc/self/status (Linux) to read the peak memory of a process")
    result = subprocess.run(
        [sys.executable, "-c", _RSS_PROBE],
        input=_brotli_bomb(100), cwd=REPO, capture_output=True, timeout=60, check=False,
    )  # fmt: skip
    assert result.returncode == 0, result.stderr.decode()
    kind, grown_mb = result.stdout.decode().split()
    assert kind == "too-large"
    assert int(grown_mb) < 40, f"peak memory grew by {grown_mb} MB"


def _raw_server(handler: object) -> tuple[object, str]:
    import socketserver
    import threading

    class Server(socketserver.ThreadingTCPServer):
        allow_reuse_address = True
        daemon_threads = True

    srv = Server(("127.0.0.1", 0), handler)  # type: ignore[arg-type]
    threading.Thread(target=srv.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True).start()
    return srv, f"http://127.0.0.1:{srv.server_address[1]}/"


@pytest.mark.slow
def test_slow_loris_and_silent_servers_end_at_the_deadline() -> None:
    import socketserver

    class Trickle(socketserver.BaseRequestHandler):
        def handle(self) -> None:
            self.request.recv(1024)
            self.request.sendall(b"HTTP/1.1 200 OK\r\nContent-Type: application/rss+xml\r\n\r\n")
            for _ in range(30):
                try:
                    self.request.sendall(b"<")
                except OSError:
                    return
                time.sleep(1)

    class Silent(socketserver.BaseRequestHandler):
        def handle(self) -> None:
            self.request.recv(1024)
            time.sleep(15)

    for handler in (Trickle, Silent):
        srv, url = _raw_server(handler)
        try:
            t0 = time.perf_counter()
            result = fetch_all([FetchRequest(url)], HttpConfig(allow=("127.0.0.0/8",), total_timeout_s=2))[0]
            assert isinstance(result, FetchError) and result.kind == "timeout"
            assert time.perf_counter() - t0 < 4
        finally:
            srv.shutdown()  # type: ignore[attr-defined]
            srv.server_close()  # type: ignore[attr-defined]


def test_redirect_loop(server: ScriptedServer) -> None:
    server.routes["/a"] = Route(b"", {"Location": "/b"}, status=302)
    server.routes["/b"] = Route(b"", {"Location": "/a"}, status=302)
    result = fetch_all([FetchRequest(server.url("/a"))], LOOPBACK)[0]
    assert isinstance(result, FetchError) and result.kind == "redirects"


@pytest.mark.parametrize(
    ("body", "ctype"),
    [
        (b"<!DOCTYPE html><html><body><h1>Welcome</h1><p>Not a feed.</p></body></html>", "text/html"),
        (b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR" + bytes(512), "image/png"),
        (b"", "application/rss+xml"),
    ],
)
def test_html_png_and_empty_bodies_are_not_feeds(body: bytes, ctype: str) -> None:
    parsed = parse_feed(body, {"content-type": ctype})
    assert not parsed.is_feed and parsed.items == []


def _item(title: str, guid: str, text: str, link: str | None = None) -> bytes:
    link_tag = f"<link>{link}</link>" if link else ""
    return f"<item><title>{title}</title>{link_tag}<guid>{guid}</guid><description>{text}</description></item>".encode()


class FeedRuns:
    """The monitor flow polling one scripted feed into a DuckDB file, poll after poll."""

    def __init__(self, tmp_path: Path, server: ScriptedServer, monkeypatch: pytest.MonkeyPatch) -> None:
        from datetime import UTC, datetime

        self.route = Route(rss())
        server.routes["/feed.xml"] = self.route
        self.url = server.url("/feed.xml")
        feeds = tmp_path / "feeds.toml"
        feeds.write_text(f'[[feeds]]\nname = "Wire"\nurl = "{self.url}"\ninterval = 60\n', encoding="utf-8")
        (tmp_path / "no-seeds").mkdir()
        monkeypatch.setenv("NEWSMON_HTTP_ALLOW", "127.0.0.0/8")
        self.settings = Settings(
            db=tmp_path / "n.duckdb", seeds=tmp_path / "no-seeds", feeds=feeds, alerts_dir=tmp_path / "alerts",
            extract_workers=1, fetch_pages=False,
        )  # fmt: skip
        self.now = datetime.now(UTC)
        self.runs: list[object] = []

    def poll(self, *items: bytes) -> object:
        """Serve ``items`` as the feed and run the monitor once (each run 5 minutes after the last)."""
        from datetime import timedelta

        from flows.monitor import monitor

        self.route.body = rss(*items)
        self.now += timedelta(minutes=5)
        summary = monitor(self.settings, now=self.now)
        self.runs.append(summary)
        return summary

    def rows(self, sql: str) -> list[tuple[object, ...]]:
        con = duckdb.connect(str(self.settings.db), read_only=True)
        try:
            return con.execute(sql).fetchall()
        finally:
            con.close()

    def documents(self) -> dict[str, tuple[object, ...]]:
        """title -> (body, run that stored it, run that last changed it) of every stored document."""
        return {r[0]: r[1:] for r in self.rows("SELECT title, body, run_id, updated_run_id FROM documents")}  # type: ignore[misc]


@pytest.fixture
def feed_runs(tmp_path: Path, server: ScriptedServer, monkeypatch: pytest.MonkeyPatch) -> FeedRuns:
    return FeedRuns(tmp_path, server, monkeypatch)


def test_duplicate_guids_keep_every_item_key(lost_rows: object) -> None:
    body = rss(
        b"<item><title>First</title><guid>same</guid></item>",
        b"<item><title>Second</title><guid>same</guid></item>",
        GOOD,
    )
    items = parse_feed(body, {}).items
    assert [i.title for i in items] == ["First", "Second", "Good item"]
    assert len({i.key for i in items}) == 3
    _kept(body, lost_rows)


DUPLICATES = [
    _item("First of two", "https://news.example/", "Ministers met in Astana.", "https://news.example/a/1"),
    _item("Second of two", "https://news.example/", "Talks went on in Tashkent.", "https://news.example/a/2"),
    _item("First of two", "https://news.example/", "Ministers met in Astana.", "https://news.example/a/1"),  # verbatim
    _item("Third, no link", "1", "A summary-only item."),
    _item("Fourth, no link", "1", "Another summary-only item."),
    GOOD,
]
DUPLICATE_TITLES = {"First of two", "Second of two", "Third, no link", "Fourth, no link", "Good item"}


@pytest.mark.slow
def test_duplicate_guids_are_all_stored_and_a_second_poll_adds_nothing(
    prefect_api: str, feed_runs: FeedRuns, lost_rows: object
) -> None:
    """Items sharing a GUID but not their content are separate documents; a repeat is one."""
    first = feed_runs.poll(*DUPLICATES)
    stored = feed_runs.documents()
    lost_rows(len(DUPLICATE_TITLES - set(stored)))  # type: ignore[operator]
    assert set(stored) == DUPLICATE_TITLES
    assert first.documents_new == 5  # type: ignore[attr-defined]
    assert feed_runs.rows("SELECT count(*) FROM feed_items") == [(5,)]
    again = feed_runs.poll(*reversed(DUPLICATES))  # the same items, listed in another order
    assert again.documents_new == 0 and again.documents_unchanged == 0  # type: ignore[attr-defined]
    assert feed_runs.documents() == stored  # nothing added, nothing rewritten
    assert feed_runs.rows("SELECT count(*) FROM feed_items") == [(5,)]
    health = feed_runs.rows("SELECT status, items_total FROM v_feed_health")
    assert health == [("ok", 5)]


@pytest.mark.slow
def test_changed_item_updates_its_document(prefect_api: str, feed_runs: FeedRuns, lost_rows: object) -> None:
    """Same GUID, new text: the item's one document gets the new text; nothing is duplicated."""
    old = [
        _item("Summit", "g1", "Old text: the summit opens on Monday.", "https://news.example/g1"),
        _item("Shared one", "same", "First wording of a shared-GUID item.", "https://news.example/s1"),
        _item("Shared two", "same", "Another item under the same GUID.", "https://news.example/s2"),
    ]
    feed_runs.poll(*old)
    before = feed_runs.documents()
    new = [
        _item("Summit", "g1", "New text: the summit was moved to Tuesday.", "https://news.example/g1"),
        _item("Shared one", "same", "Second wording of a shared-GUID item.", "https://news.example/s1"),
        old[2],
    ]
    second = feed_runs.poll(*new)
    after = feed_runs.documents()
    lost_rows(len(set(before) - set(after)))  # type: ignore[operator]
    assert set(after) == set(before) == {"Summit", "Shared one", "Shared two"}  # one row each
    assert second.documents_new == 0  # type: ignore[attr-defined]
    first_run, second_run = (r.run_id for r in feed_runs.runs)  # type: ignore[attr-defined]
    assert after["Summit"] == ("New text: the summit was moved to Tuesday.", first_run, second_run)
    assert after["Shared one"] == ("Second wording of a shared-GUID item.", first_run, second_run)
    assert after["Shared two"] == before["Shared two"]  # unchanged, not rewritten
    keys = feed_runs.rows("SELECT item_key FROM feed_items ORDER BY 1")
    assert keys == [("g1",), ("same#https://news.example/s1",), ("same#https://news.example/s2",)]
    third = feed_runs.poll(*new)  # polled again unchanged: nothing moves
    assert third.documents_new == 0 and feed_runs.documents() == after  # type: ignore[attr-defined]


def test_items_without_link_date_or_guid_are_kept() -> None:
    items = parse_feed(rss(b"<item><description>Only a description survives here</description></item>"), {}).items
    assert len(items) == 1 and items[0].link is None and items[0].published_at is None
    assert items[0].key == items[0].content_hash


def test_non_article_pages_are_flagged() -> None:
    wall = b"<html><body><div>We use cookies. Accept all cookies to continue. Cookie settings.</div></body></html>"
    page = extract_page(wall, "https://x.example/a")
    assert page.page_kind in ("cookie-wall", "not-article")


def test_a_page_of_a_million_elements_fails_alone() -> None:
    huge = b"<html><body>" + b"<p>" * 1_000_000 + b"</body></html>"  # 3 MB, a million elements
    paragraphs = b"".join(
        f"<p>Paragraph {i} of a normal article reports on talks number {i * 7} between ministers.</p>".encode()
        for i in range(20)
    )
    ok = b"<html><body><article>" + paragraphs + b"</article></body></html>"
    t0 = time.perf_counter()
    with PagePool(1, deadline_s=10) as pool:
        results = pool.extract([(huge, "https://x.example/huge"), (ok, "https://x.example/ok")])
    assert time.perf_counter() - t0 < 30
    assert results[0].extracted is None and results[1].page_kind == "article"


def test_ten_megabyte_title_and_five_thousand_character_url() -> None:
    long_url = "https://x.example/" + "a" * 5000
    body = rss(
        b"<item><title>"
        + b"T" * (10 * 1024 * 1024)
        + b"</title><link>"
        + long_url.encode()
        + b"</link><guid>big</guid></item>",
        GOOD,
    )
    items = parse_feed(body, {}).items
    big = next(i for i in items if i.key == "big")
    assert len(big.title) <= 1000
    assert big.link is None or len(big.link) <= 4096
    assert any(i.key == "good" for i in items)
