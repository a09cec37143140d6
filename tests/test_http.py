"""The guarded HTTP client (newsmon.http), against scripted servers on 127.0.0.0/8 only.

No test sends traffic outside the loopback range: blocked addresses are refused before any
connection, and host names other than localhost are answered by a patched resolver.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import email.utils
import gzip
import ipaddress
import logging
import pickle
import socket
import ssl
import sys
import threading
import time
import tracemalloc
import zlib
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import brotli
import httpx
import pytest

import newsmon.http as nh
from newsmon.config import load_settings
from newsmon.errors import ConfigError, FetchError
from newsmon.http import (
    FetchRequest,
    FetchResult,
    HttpConfig,
    check_url,
    fetch_all,
    fetch_many,
    fetch_one,
    is_public_address,
    parse_retry_after,
)

LOCAL = HttpConfig(allow=("127.0.0.0/8",), total_timeout_s=5.0)
MB = 1024 * 1024

Route = Callable[["_Handler"], None]


# --------------------------------------------------------------------------- scripted servers


@dataclass
class Seen:
    """One request a scripted server received."""

    path: str
    headers: dict[str, str]


class _QuietServer(ThreadingHTTPServer):
    """Clients that hang up early (the guardrails do, on purpose) are not an error to print."""

    def handle_error(self, request: object, client_address: object) -> None:
        if not isinstance(sys.exc_info()[1], ConnectionError):
            super().handle_error(request, client_address)  # type: ignore[arg-type]


@dataclass
class ScriptedServer:
    """A threaded HTTP server on a loopback address whose routes are plain functions."""

    host: str = "127.0.0.1"
    port: int = 0
    tls: ssl.SSLContext | None = None
    routes: dict[str, Route] = field(default_factory=dict)
    seen: list[Seen] = field(default_factory=list)
    stop: threading.Event = field(default_factory=threading.Event)
    in_flight: int = 0
    max_in_flight: int = 0
    lock: threading.Lock = field(default_factory=threading.Lock)

    def start(self) -> ScriptedServer:
        handler = type("BoundHandler", (_Handler,), {"server_state": self})
        self.httpd = _QuietServer((self.host, self.port), handler)
        self.httpd.daemon_threads = True
        self.httpd.block_on_close = False
        if self.tls is not None:
            self.httpd.socket = self.tls.wrap_socket(self.httpd.socket, server_side=True)
        self.port = self.httpd.server_address[1]
        self.thread = threading.Thread(target=self.httpd.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)
        self.thread.start()
        return self

    def close(self) -> None:
        self.stop.set()
        self.httpd.shutdown()
        self.httpd.server_close()
        self.thread.join(5)

    def url(self, path: str = "/", host: str | None = None, scheme: str = "http") -> str:
        return f"{scheme}://{host or self.host}:{self.port}{path}"

    def paths(self) -> list[str]:
        return [s.path for s in self.seen]


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server_state: ScriptedServer

    def log_message(self, format: str, *args: Any) -> None:
        pass

    def do_GET(self) -> None:
        state = self.server_state
        with state.lock:
            state.seen.append(Seen(self.path, {k.lower(): v for k, v in self.headers.items()}))
            state.in_flight += 1
            state.max_in_flight = max(state.max_in_flight, state.in_flight)
        try:
            route = state.routes.get(self.path.split("?", 1)[0])
            if route is None:
                reply(404, b"not found")(self)
            else:
                route(self)
        except (BrokenPipeError, ConnectionResetError, ssl.SSLError):
            self.close_connection = True
        finally:
            with state.lock:
                state.in_flight -= 1


def reply(status: int, body: bytes = b"", headers: dict[str, str] | None = None, delay_s: float = 0.0) -> Route:
    """A route answering ``status`` with ``body`` (Content-Length set unless given)."""

    def route(h: _Handler) -> None:
        if delay_s:
            h.server_state.stop.wait(delay_s)
        h.send_response(status)
        extra = dict(headers or {})
        extra.setdefault("Content-Length", str(len(body)))
        for name, value in extra.items():
            h.send_header(name, value)
        h.end_headers()
        h.wfile.write(body)

    return route


def redirect(location: str, status: int = 302) -> Route:
    return reply(status, b"", {"Location": location})


def chunked(total: int, piece: int = 64 * 1024) -> Route:
    def route(h: _Handler) -> None:
        h.send_response(200)
        h.send_header("Transfer-Encoding", "chunked")
        h.end_headers()
        sent = 0
        while sent < total and not h.server_state.stop.is_set():
            n = min(piece, total - sent)
            h.wfile.write(b"%x\r\n" % n + b"x" * n + b"\r\n")
            sent += n
        h.wfile.write(b"0\r\n\r\n")

    return route


def close_delimited(total: int, piece: int = 64 * 1024) -> Route:
    def route(h: _Handler) -> None:
        h.close_connection = True
        h.send_response(200)
        h.send_header("Connection", "close")
        h.end_headers()
        sent = 0
        while sent < total and not h.server_state.stop.is_set():
            n = min(piece, total - sent)
            h.wfile.write(b"x" * n)
            sent += n

    return route


def trickle(h: _Handler) -> None:
    """Headers, then one body byte per second."""
    h.send_response(200)
    h.send_header("Content-Length", "100")
    h.end_headers()
    for _ in range(100):
        h.wfile.write(b"x")
        h.wfile.flush()
        if h.server_state.stop.wait(1.0):
            return


def silent(h: _Handler) -> None:
    """Reads the request and never answers."""
    h.close_connection = True
    h.server_state.stop.wait(30)


@pytest.fixture
def make_server() -> Iterator[Callable[..., ScriptedServer]]:
    servers: list[ScriptedServer] = []

    def make(host: str = "127.0.0.1", port: int = 0, tls: ssl.SSLContext | None = None) -> ScriptedServer:
        server = ScriptedServer(host, port, tls).start()
        servers.append(server)
        return server

    yield make
    for server in servers:
        server.close()


@pytest.fixture
def server(make_server: Callable[..., ScriptedServer]) -> ScriptedServer:
    return make_server()


def fail(request: FetchRequest | str, config: HttpConfig = LOCAL) -> FetchError:
    req = FetchRequest(request) if isinstance(request, str) else request
    with pytest.raises(FetchError) as info:
        fetch_one(req, config)
    return info.value


def patch_getaddrinfo(monkeypatch: pytest.MonkeyPatch, answers: Callable[[str], list[str] | None]) -> list[str]:
    """Answer chosen names from ``answers`` (None: the real resolver); returns the names asked."""
    real = socket.getaddrinfo
    asked: list[str] = []

    def fake(host: Any, port: Any, *args: Any, **kwargs: Any) -> Any:
        name = host.decode() if isinstance(host, bytes) else str(host)
        ips = answers(name)
        if ips is None:
            return real(host, port, *args, **kwargs)
        asked.append(name)
        return [(socket.AF_INET, socket.SOCK_STREAM, 6, "", (ip, int(port or 0))) for ip in ips]

    monkeypatch.setattr(socket, "getaddrinfo", fake)
    return asked


# --------------------------------------------------------------------------- plain success


def test_plain_200_returns_body_headers_and_sends_honest_headers(server: ScriptedServer) -> None:
    server.routes["/feed"] = reply(200, b"<rss/>", {"Content-Type": "application/rss+xml", "X-Thing": "1"})
    result = fetch_one(FetchRequest(server.url("/feed"), accept="application/rss+xml"), LOCAL)
    assert (result.status, result.body, result.not_modified, result.redirects) == (200, b"<rss/>", False, 0)
    assert result.url == result.final_url == server.url("/feed")
    assert result.headers["content-type"] == "application/rss+xml"
    assert result.headers["x-thing"] == "1"
    assert 0 <= result.elapsed_s < 5
    sent = server.seen[0].headers
    assert sent["user-agent"].startswith("newsmon/")
    assert sent["accept-encoding"] == "gzip, deflate, br"  # brotli 1.2 decodes in bounded steps
    assert sent["accept"] == "application/rss+xml"
    assert sent["host"] == f"127.0.0.1:{server.port}"
    assert "if-none-match" not in sent


@pytest.mark.parametrize(
    ("ctype", "body"),
    [("text/html; charset=utf-8", b"<html><body>not a feed</body></html>"), ("image/png", b"\x89PNG\r\n\x1a\n\0\0")],
)
def test_non_feed_content_is_returned_as_is(server: ScriptedServer, ctype: str, body: bytes) -> None:
    server.routes["/feed.xml"] = reply(200, body, {"Content-Type": ctype})
    result = fetch_one(FetchRequest(server.url("/feed.xml"), accept="application/rss+xml"), LOCAL)
    assert (result.status, result.body, result.headers["content-type"]) == (200, body, ctype)


def test_fetch_many_keeps_order_and_returns_failures(server: ScriptedServer) -> None:
    server.routes["/a"] = reply(200, b"A")
    server.routes["/b"] = reply(200, b"B")
    requests = [
        FetchRequest(server.url("/a")),
        FetchRequest("ftp://example.org/x"),
        FetchRequest(server.url("/missing")),
        FetchRequest(server.url("/b")),
    ]
    results = fetch_all(requests, LOCAL)
    assert isinstance(results[0], FetchResult) and results[0].body == b"A"
    assert isinstance(results[1], FetchError) and results[1].kind == "scheme"
    assert isinstance(results[2], FetchError) and (results[2].kind, results[2].status) == ("http-4xx", 404)
    assert isinstance(results[3], FetchResult) and results[3].body == b"B"
    assert fetch_all([], LOCAL) == []


def test_fetch_all_works_inside_a_running_event_loop(server: ScriptedServer) -> None:
    server.routes["/x"] = reply(200, b"ok")

    async def caller() -> list[FetchResult | FetchError]:
        return fetch_all([FetchRequest(server.url("/x"))], LOCAL)

    [result] = asyncio.run(caller())
    assert isinstance(result, FetchResult) and result.body == b"ok"


# --------------------------------------------------------------------------- content-encoding and caps


def _raw_deflate(data: bytes) -> bytes:
    c = zlib.compressobj(wbits=-zlib.MAX_WBITS)
    return c.compress(data) + c.flush()


@pytest.mark.parametrize(
    ("coding", "encode"),
    [
        ("gzip", gzip.compress),
        ("x-gzip", gzip.compress),
        ("deflate", zlib.compress),
        ("deflate", _raw_deflate),
        ("gzip", lambda d: gzip.compress(d[:1000]) + gzip.compress(d[1000:])),  # two gzip members
        ("identity", lambda d: d),
        ("br", brotli.compress),
        ("BR", lambda d: brotli.compress(d, quality=1, lgwin=10)),
    ],
)
def test_content_encodings_are_decoded(server: ScriptedServer, coding: str, encode: Callable[[bytes], bytes]) -> None:
    text = b"<rss>" + b"news item " * 5000 + b"</rss>"
    server.routes["/z"] = reply(200, encode(text), {"Content-Encoding": coding})
    assert fetch_one(FetchRequest(server.url("/z")), LOCAL).body == text


@pytest.mark.parametrize("coding", ["zstd", "compress", "gzip, br", "br, br", "weird"])
def test_unsupported_encoding_is_refused(server: ScriptedServer, coding: str) -> None:
    server.routes["/z"] = reply(200, b"\x00\x01garbage", {"Content-Encoding": coding})
    assert fail(server.url("/z")).kind == "encoding"


def test_corrupt_gzip_is_an_encoding_error(server: ScriptedServer) -> None:
    server.routes["/z"] = reply(200, b"\x1f\x8bnot really gzip at all", {"Content-Encoding": "gzip"})
    assert fail(server.url("/z")).kind == "encoding"


_BROTLI_TEXT = b"<rss>" + b"brotli news item " * 4000 + b"</rss>"


@pytest.mark.parametrize(
    "body",
    [
        b"\x00\x01garbage",  # not brotli at all
        brotli.compress(_BROTLI_TEXT)[:-3],  # cut off before the end of the stream
        brotli.compress(_BROTLI_TEXT) + b"trailing junk",  # data after the end of the stream
    ],
    ids=["garbage", "cut-off", "trailing"],
)
def test_corrupt_brotli_is_an_encoding_error(server: ScriptedServer, body: bytes) -> None:
    server.routes["/z"] = reply(200, body, {"Content-Encoding": "br"})
    err = fail(server.url("/z"))
    assert err.kind == "encoding" and "corrupt br body" in str(err)


def test_empty_brotli_body_is_empty(server: ScriptedServer) -> None:
    server.routes["/z"] = reply(200, b"", {"Content-Encoding": "br"})
    assert fetch_one(FetchRequest(server.url("/z")), LOCAL).body == b""


def test_brotli_is_advertised_only_when_it_decodes_in_bounded_steps(monkeypatch: pytest.MonkeyPatch) -> None:
    assert nh._brotli_is_bounded() and "br" in nh.ACCEPT_ENCODING
    monkeypatch.setattr(nh, "brotli", None)  # as on an install without the brotli package
    assert not nh._brotli_is_bounded()


@pytest.mark.parametrize(("size", "ok"), [(1000, True), (1001, False)])
def test_cap_is_exact(server: ScriptedServer, size: int, ok: bool) -> None:
    server.routes["/b"] = reply(200, b"y" * size)
    config = HttpConfig(allow=LOCAL.allow, max_body_bytes=1000)
    if ok:
        assert len(fetch_one(FetchRequest(server.url("/b")), config).body) == size
    else:
        assert fail(server.url("/b"), config).kind == "too-large"


def test_too_large_content_length_is_refused_early(server: ScriptedServer) -> None:
    server.routes["/big"] = reply(200, b"x" * (2 * MB))
    err = fail(server.url("/big"), HttpConfig(allow=LOCAL.allow, max_body_bytes=MB))
    assert err.kind == "too-large" and "content-length" in str(err)


@pytest.mark.parametrize("route", [chunked(3 * MB), close_delimited(3 * MB)], ids=["chunked", "close-delimited"])
def test_too_large_without_content_length(server: ScriptedServer, route: Route) -> None:
    server.routes["/big"] = route
    assert fail(server.url("/big"), HttpConfig(allow=LOCAL.allow, max_body_bytes=MB)).kind == "too-large"


def test_small_chunked_body_is_read(server: ScriptedServer) -> None:
    server.routes["/c"] = chunked(200_000, piece=7000)
    assert fetch_one(FetchRequest(server.url("/c")), LOCAL).body == b"x" * 200_000


@pytest.fixture(scope="module")
def gzip_bomb() -> bytes:
    """About 50 MB of zeros, gzip-compressed (about 50 KB)."""
    packer = zlib.compressobj(9, zlib.DEFLATED, zlib.MAX_WBITS | 16)
    zeros = bytes(MB)
    parts = [packer.compress(zeros) for _ in range(50)]
    return b"".join([*parts, packer.flush()])


def test_gzip_bomb_stops_at_cap_with_bounded_memory(server: ScriptedServer, gzip_bomb: bytes) -> None:
    assert len(gzip_bomb) < MB
    server.routes["/bomb"] = reply(200, gzip_bomb, {"Content-Encoding": "gzip", "Content-Type": "application/xml"})
    config = HttpConfig(allow=LOCAL.allow, max_body_bytes=MB)
    tracemalloc.start()
    try:
        started = time.monotonic()
        err = fail(server.url("/bomb"), config)
        elapsed = time.monotonic() - started
        _current, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert err.kind == "too-large"
    assert elapsed < 5
    assert peak < 20 * MB


@pytest.fixture(scope="module")
def brotli_bomb() -> bytes:
    """100 MB of zeros, brotli-compressed (a few hundred bytes)."""
    packer = brotli.Compressor(quality=5)
    zeros = bytes(MB)
    return b"".join([*(packer.process(zeros) for _ in range(100)), packer.finish()])


@pytest.mark.parametrize("piece", [None, 1], ids=["one-chunk", "byte-by-byte"])
def test_brotli_bomb_stops_at_cap_with_bounded_memory(
    make_server: Callable[..., ScriptedServer], brotli_bomb: bytes, piece: int | None
) -> None:
    """The whole bomb fits in one read of the socket; it must still decode in bounded steps."""
    assert len(brotli_bomb) < 4096
    server = make_server()

    def bomb(h: _Handler) -> None:
        h.send_response(200)
        h.send_header("Content-Encoding", "br")
        h.send_header("Content-Length", str(len(brotli_bomb)))
        h.end_headers()
        step = piece or len(brotli_bomb)
        for i in range(0, len(brotli_bomb), step):
            h.wfile.write(brotli_bomb[i : i + step])
            h.wfile.flush()

    server.routes["/bomb"] = bomb
    config = HttpConfig(allow=LOCAL.allow, max_body_bytes=MB)
    tracemalloc.start()
    try:
        started = time.monotonic()
        err = fail(server.url("/bomb"), config)
        elapsed = time.monotonic() - started
        _current, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert err.kind == "too-large" and "decoded body" in str(err)
    assert elapsed < 5
    assert peak < 4 * MB  # the 1 MB cap and one decoding step, not the 100 MB


def test_brotli_body_up_to_the_cap_decodes(server: ScriptedServer) -> None:
    text = bytes(range(256)) * 4096  # exactly 1 MB
    server.routes["/z"] = reply(200, brotli.compress(text), {"Content-Encoding": "br"})
    assert fetch_one(FetchRequest(server.url("/z")), HttpConfig(allow=LOCAL.allow, max_body_bytes=MB)).body == text
    config = HttpConfig(allow=LOCAL.allow, max_body_bytes=MB - 1)
    assert fail(server.url("/z"), config).kind == "too-large"


# --------------------------------------------------------------------------- deadlines and connection failures


def test_total_deadline_cuts_a_trickling_body(server: ScriptedServer) -> None:
    server.routes["/slow"] = trickle
    started = time.monotonic()
    err = fail(server.url("/slow"), HttpConfig(allow=LOCAL.allow, total_timeout_s=2.0))
    assert err.kind == "timeout"
    assert time.monotonic() - started < 3.5


def test_server_that_never_answers_times_out(server: ScriptedServer) -> None:
    server.routes["/silent"] = silent
    started = time.monotonic()
    assert fail(server.url("/silent"), HttpConfig(allow=LOCAL.allow, total_timeout_s=1.0)).kind == "timeout"
    assert time.monotonic() - started < 2.5


def test_connection_refused_is_refused() -> None:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    assert fail(f"http://127.0.0.1:{port}/").kind == "refused"


def test_dns_failure_is_dns(monkeypatch: pytest.MonkeyPatch) -> None:
    async def no_such_host(host: str, port: int) -> list[Any]:
        raise socket.gaierror(socket.EAI_NONAME, "Name or service not known")

    monkeypatch.setattr(nh, "resolve_host", no_such_host)
    assert fail("http://no-such-host.invalid/feed").kind == "dns"


def test_next_checked_address_is_tried_when_one_refuses(
    server: ScriptedServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    server.routes["/x"] = reply(200, b"second address")
    patch_getaddrinfo(monkeypatch, lambda name: ["127.0.0.3", "127.0.0.1"] if name == "multi.test" else None)
    result = fetch_one(FetchRequest(f"http://multi.test:{server.port}/x"), LOCAL)
    assert result.body == b"second address"
    assert server.seen[0].headers["host"] == f"multi.test:{server.port}"


# --------------------------------------------------------------------------- redirects


def test_relative_redirect_is_resolved_against_current_url(server: ScriptedServer) -> None:
    server.routes["/dir/old"] = redirect("new?x=1", 301)
    server.routes["/dir/new"] = reply(200, b"moved")
    result = fetch_one(FetchRequest(server.url("/dir/old")), LOCAL)
    assert (result.body, result.redirects, result.final_url) == (b"moved", 1, server.url("/dir/new?x=1"))
    assert result.url == server.url("/dir/old")


@pytest.mark.parametrize(("hops", "ok"), [(5, True), (6, False)])
def test_redirect_chain_limit(server: ScriptedServer, hops: int, ok: bool) -> None:
    for i in range(hops, 0, -1):
        server.routes[f"/c{i}"] = redirect(f"/c{i - 1}", 307)
    server.routes["/c0"] = reply(200, b"end")
    config = HttpConfig(allow=LOCAL.allow, max_redirects=5)
    if ok:
        assert fetch_one(FetchRequest(server.url(f"/c{hops}")), config).redirects == hops
    else:
        assert fail(server.url(f"/c{hops}"), config).kind == "redirects"
        assert "/c0" not in server.paths()


def test_redirect_loop_is_detected(server: ScriptedServer) -> None:
    server.routes["/a"] = redirect("/b")
    server.routes["/b"] = redirect(server.url("/a"))
    err = fail(server.url("/a"), HttpConfig(allow=LOCAL.allow, max_redirects=20))
    assert err.kind == "redirects" and "loop" in str(err)
    assert server.paths() == ["/a", "/b"]


@pytest.mark.parametrize("target", ["http://127.0.0.2:{port}/secret", "http://169.254.169.254/latest/meta-data/"])
def test_redirect_from_allowed_host_to_blocked_address(make_server: Callable[..., ScriptedServer], target: str) -> None:
    front = make_server("127.0.0.1")
    hidden = make_server("127.0.0.2", front.port)
    front.routes["/go"] = redirect(target.format(port=front.port))
    hidden.routes["/secret"] = reply(200, b"secret")
    err = fail(front.url("/go", host="localhost"), HttpConfig(allow=("localhost",), total_timeout_s=5))
    assert err.kind == "blocked-address"
    assert front.paths() == ["/go"]
    assert hidden.seen == []


def test_redirect_to_another_scheme_is_refused(server: ScriptedServer) -> None:
    server.routes["/go"] = redirect("file:///etc/passwd")
    assert fail(server.url("/go")).kind == "scheme"


# --------------------------------------------------------------------------- status codes


def test_429_with_retry_after_seconds(server: ScriptedServer) -> None:
    server.routes["/busy"] = reply(429, b"slow down", {"Retry-After": "7"})
    err = fail(server.url("/busy"))
    assert (err.kind, err.status, err.retry_after_s) == ("http-4xx", 429, 7.0)


def test_503_with_retry_after_http_date(server: ScriptedServer) -> None:
    when = dt.datetime.now(dt.UTC) + dt.timedelta(seconds=120)
    server.routes["/down"] = reply(503, b"", {"Retry-After": email.utils.format_datetime(when, usegmt=True)})
    err = fail(server.url("/down"))
    assert (err.kind, err.status) == ("http-5xx", 503)
    assert err.retry_after_s is not None and 100 <= err.retry_after_s <= 121


def test_retry_after_is_honoured_up_to_a_day(server: ScriptedServer) -> None:
    server.routes["/busy"] = reply(429, b"", {"Retry-After": "999999"})
    server.routes["/later"] = reply(503, b"", {"Retry-After": "7200"})
    assert fail(server.url("/busy"), HttpConfig(allow=LOCAL.allow, max_retry_after_s=600)).retry_after_s == 600
    assert fail(server.url("/busy")).retry_after_s == 86400
    assert fail(server.url("/later")).retry_after_s == 7200  # two hours: not cut to one


def test_parse_retry_after_forms() -> None:
    now = dt.datetime(2024, 1, 1, 12, 0, tzinfo=dt.UTC)
    assert parse_retry_after("7", 3600, now) == 7
    assert parse_retry_after("Mon, 01 Jan 2024 12:01:00 GMT", 3600, now) == 60
    assert parse_retry_after("Mon, 01 Jan 2024 11:00:00 GMT", 3600, now) == 0
    assert parse_retry_after("soon", 3600, now) is None
    assert parse_retry_after(None, 3600, now) is None


@pytest.mark.parametrize(
    ("status", "kind"), [(404, "http-4xx"), (410, "http-4xx"), (500, "http-5xx"), (502, "http-5xx")]
)
def test_error_statuses(server: ScriptedServer, status: int, kind: str) -> None:
    server.routes["/e"] = reply(status, b"nope")
    err = fail(server.url("/e"))
    assert (err.kind, err.status, err.retry_after_s) == (kind, status, None)


def test_conditional_get_304(server: ScriptedServer) -> None:
    def route(h: _Handler) -> None:
        if h.headers.get("If-None-Match") == '"v1"':
            reply(304, b"", {"ETag": '"v1"'})(h)
        else:
            reply(200, b"<rss/>", {"ETag": '"v1"', "Last-Modified": "Mon, 01 Jan 2024 00:00:00 GMT"})(h)

    server.routes["/feed"] = route
    first = fetch_one(FetchRequest(server.url("/feed")), LOCAL)
    assert (first.status, first.etag, first.last_modified) == (200, '"v1"', "Mon, 01 Jan 2024 00:00:00 GMT")
    again = FetchRequest(server.url("/feed"), etag=first.etag, last_modified=first.last_modified)
    second = fetch_one(again, LOCAL)
    assert (second.status, second.not_modified, second.body, second.etag) == (304, True, b"", '"v1"')
    assert server.seen[1].headers["if-none-match"] == '"v1"'
    assert server.seen[1].headers["if-modified-since"] == "Mon, 01 Jan 2024 00:00:00 GMT"


# --------------------------------------------------------------------------- address policy


@pytest.mark.parametrize(
    "host",
    ["127.0.0.1", "localhost", "2130706433", "0177.0.0.1", "0x7f.1", "127.1", "[::1]", "[::ffff:127.0.0.1]"],
)
def test_non_public_addresses_are_refused_by_default(server: ScriptedServer, host: str) -> None:
    server.routes["/"] = reply(200, b"should not be reached")
    err = fail(f"http://{host}:{server.port}/", HttpConfig(total_timeout_s=5))
    assert err.kind == "blocked-address"
    assert server.seen == []


@pytest.mark.parametrize(
    ("address", "public"),
    [
        ("10.0.0.1", False),
        ("172.16.0.1", False),
        ("192.168.1.1", False),
        ("100.64.0.1", False),
        ("169.254.169.254", False),
        ("127.0.0.1", False),
        ("0.0.0.0", False),
        ("224.0.0.1", False),
        ("240.0.0.1", False),
        ("255.255.255.255", False),
        ("::1", False),
        ("::", False),
        ("fd00::1", False),
        ("fe80::1", False),
        ("ff02::1", False),
        ("64:ff9b::a9fe:a9fe", False),
        ("::ffff:10.0.0.1", False),
        ("::ffff:127.0.0.1", False),
        ("2002:0a00:0001::1", False),
        ("2001:0:4136:e378:8000:63bf:3fff:fdd2", False),  # Teredo
        ("192.0.0.192", False),  # a cloud metadata address some Python releases count as global
        ("192.0.0.9", False),
        ("192.88.99.1", False),
        ("198.18.0.1", False),
        ("3fff::1", False),
        ("5f00::1", False),
        ("64:ff9b:1::808:808", False),
        ("2001:db8::1", False),
        ("::ffff:192.0.0.192", False),
        ("8.8.8.8", True),
        ("2606:4700:4700::1111", True),
        ("::ffff:8.8.8.8", True),
        ("64:ff9b::808:808", True),
        ("2002:0808:0808::1", True),
    ],
)
def test_is_public_address(address: str, public: bool) -> None:
    assert is_public_address(ipaddress.ip_address(address)) is public


@pytest.mark.parametrize(
    "url",
    [
        "file:///etc/passwd",
        "ftp://example.org/feed.xml",
        "data:text/xml,<rss/>",
        "javascript:alert(1)",
        "gopher://example.org/",
        "//example.org/feed",
        "http:///no-host",
        "http://[::1/",
        "example.org/feed",
    ],
)
def test_only_http_and_https_urls(url: str) -> None:
    with pytest.raises(FetchError) as info:
        check_url(url, HttpConfig())
    assert info.value.kind == "scheme"
    [result] = fetch_all([FetchRequest(url)], HttpConfig())
    assert isinstance(result, FetchError) and result.kind == "scheme"


def test_check_url_literals_and_allow_list() -> None:
    check_url("https://example.org/feed", HttpConfig())  # names are not resolved here
    for url in ("http://10.1.2.3/", "http://[fd00::1]/", "http://0x7f.1/", "http://169.254.169.254/latest"):
        with pytest.raises(FetchError) as info:
            check_url(url, HttpConfig())
        assert info.value.kind == "blocked-address"
    check_url("http://10.1.2.3/", HttpConfig(allow=("10.0.0.0/8",)))
    check_url("http://[::ffff:10.1.2.3]/", HttpConfig(allow=("10.0.0.0/8",)))
    check_url("http://[fd00::1]:8080/", HttpConfig(allow=("fd00::/8",)))


def test_every_resolved_address_is_checked(server: ScriptedServer, monkeypatch: pytest.MonkeyPatch) -> None:
    async def mixed(host: str, port: int) -> list[Any]:
        return [ipaddress.ip_address("8.8.8.8"), ipaddress.ip_address("127.0.0.1")]

    monkeypatch.setattr(nh, "resolve_host", mixed)
    assert fail(f"http://mixed.test:{server.port}/", HttpConfig(total_timeout_s=2)).kind == "blocked-address"
    assert server.seen == []


def test_dns_rebinding_connects_to_the_checked_address(
    make_server: Callable[..., ScriptedServer], monkeypatch: pytest.MonkeyPatch
) -> None:
    checked = make_server("127.0.0.1")
    rebound = make_server("127.0.0.2", checked.port)
    checked.routes["/feed"] = reply(200, b"from the checked address")
    rebound.routes["/feed"] = reply(200, b"from the rebound address")
    answers = iter([["127.0.0.1"]])  # first answer allowed; every later one points elsewhere
    asked = patch_getaddrinfo(monkeypatch, lambda name: next(answers, ["127.0.0.2"]) if name == "rebind.test" else None)
    config = HttpConfig(allow=("127.0.0.1/32",), total_timeout_s=5)
    result = fetch_one(FetchRequest(f"http://rebind.test:{checked.port}/feed"), config)
    assert result.body == b"from the checked address"
    assert asked == ["rebind.test"]
    assert checked.seen[0].headers["host"] == f"rebind.test:{checked.port}"
    assert rebound.seen == []


# --------------------------------------------------------------------------- concurrency


def test_per_host_concurrency_limit(server: ScriptedServer) -> None:
    server.routes["/slow"] = reply(200, b"ok", delay_s=0.2)
    config = HttpConfig(allow=LOCAL.allow, per_host_concurrency=2, concurrency=16)
    results = fetch_all([FetchRequest(server.url(f"/slow?i={i}")) for i in range(6)], config)
    assert all(isinstance(r, FetchResult) for r in results)
    assert server.max_in_flight == 2


def test_overall_concurrency_limit(server: ScriptedServer) -> None:
    server.routes["/slow"] = reply(200, b"ok", delay_s=0.15)
    config = HttpConfig(allow=("127.0.0.0/8", "localhost"), per_host_concurrency=2, concurrency=1)
    urls = [server.url("/slow", host=h) for h in ("127.0.0.1", "localhost", "127.0.0.1", "localhost")]
    results = asyncio.run(fetch_many([FetchRequest(u) for u in urls], config))
    assert all(isinstance(r, FetchResult) for r in results)
    assert server.max_in_flight == 1


# --------------------------------------------------------------------------- TLS


def _tls_material(tmp_path: Path, names: list[str]) -> tuple[ssl.SSLContext, ssl.SSLContext]:
    """A server context with a certificate for ``names`` and a client context trusting its CA."""
    pytest.importorskip("cryptography")
    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.x509.oid import NameOID

    now = dt.datetime.now(dt.UTC)
    ca_key = ec.generate_private_key(ec.SECP256R1())
    ca_name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "newsmon test CA")])
    ca = (
        x509.CertificateBuilder()
        .subject_name(ca_name)
        .issuer_name(ca_name)
        .public_key(ca_key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - dt.timedelta(days=1))
        .not_valid_after(now + dt.timedelta(days=1))
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
        .add_extension(x509.KeyUsage(False, False, False, False, False, True, True, False, False), critical=True)
        .add_extension(x509.SubjectKeyIdentifier.from_public_key(ca_key.public_key()), critical=False)
        .sign(ca_key, hashes.SHA256())
    )
    key = ec.generate_private_key(ec.SECP256R1())
    leaf = (
        x509.CertificateBuilder()
        .subject_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, names[0])]))
        .issuer_name(ca_name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - dt.timedelta(days=1))
        .not_valid_after(now + dt.timedelta(days=1))
        .add_extension(x509.SubjectAlternativeName([x509.DNSName(n) for n in names]), critical=False)
        .add_extension(x509.ExtendedKeyUsage([x509.oid.ExtendedKeyUsageOID.SERVER_AUTH]), critical=False)
        .add_extension(x509.AuthorityKeyIdentifier.from_issuer_public_key(ca_key.public_key()), critical=False)
        .sign(ca_key, hashes.SHA256())
    )
    cert_file, key_file = tmp_path / "leaf.pem", tmp_path / "leaf.key"
    cert_file.write_bytes(leaf.public_bytes(serialization.Encoding.PEM))
    key_file.write_bytes(
        key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption())
    )
    server_ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    server_ctx.load_cert_chain(cert_file, key_file)
    client_ctx = ssl.create_default_context(cadata=ca.public_bytes(serialization.Encoding.PEM).decode())
    return server_ctx, client_ctx


def test_https_uses_the_host_name_for_sni_and_verification(
    make_server: Callable[..., ScriptedServer], monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    server_ctx, client_ctx = _tls_material(tmp_path, ["news.test"])
    sni: list[str | None] = []
    server_ctx.sni_callback = lambda _sock, name, _ctx: sni.append(name)
    server = make_server(tls=server_ctx)
    server.routes["/feed"] = reply(200, b"secure")
    monkeypatch.setattr(nh, "make_ssl_context", lambda config: client_ctx)
    patch_getaddrinfo(monkeypatch, lambda name: ["127.0.0.1"] if name.endswith(".test") else None)
    config = HttpConfig(allow=LOCAL.allow, total_timeout_s=5, concurrency=1)
    good, other = fetch_all(
        [
            FetchRequest(server.url("/feed", host="news.test", scheme="https")),
            FetchRequest(server.url("/feed", host="other.test", scheme="https")),  # same IP, no certificate
        ],
        config,
    )
    assert isinstance(good, FetchResult) and good.body == b"secure"
    assert sni[0] == "news.test"
    assert server.seen[0].headers["host"] == f"news.test:{server.port}"
    # a connection verified for news.test is never reused for another host at the same address
    assert isinstance(other, FetchError) and other.kind == "tls" and "TLS" in str(other)
    assert len(server.seen) == 1


def test_connections_are_pooled_per_server() -> None:
    def key(url: str, sni: str | None = None) -> tuple[str, str, int | None, str]:
        extensions = {"sni_hostname": sni} if sni else {}
        return nh._PerServerTransport.pool_key(httpx.Request("GET", url, extensions=extensions))

    assert key("http://127.0.0.1:8080/a") == key("http://127.0.0.1:8080/b?x=1")
    assert key("http://127.0.0.1:8080/") != key("http://127.0.0.2:8080/")  # another address
    assert key("http://127.0.0.1:8080/") != key("http://127.0.0.1:8081/")  # another port
    assert key("https://192.0.2.7:443/", "a.test") == key("https://192.0.2.7/", "a.test")  # default port
    assert key("https://192.0.2.7/", "a.test") != key("https://192.0.2.7/", "b.test")  # another TLS name
    assert key("http://192.0.2.7:443/") != key("https://192.0.2.7:443/")


def test_fetch_result_repr_leaves_the_body_out() -> None:
    result = FetchResult("http://a.test/", "http://a.test/", 200, {}, b"<html>" * 10_000, None, None, False, 0.1, 0)
    assert "html" not in repr(result) and "status=200" in repr(result)


# --------------------------------------------------------------------------- configuration


def test_config_from_env(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("NEWSMON_HTTP_ALLOW", " 127.0.0.0/8, localhost ,,10.0.0.5")
    config = HttpConfig.from_env(total_timeout_s=3)
    assert config.allow == ("127.0.0.0/8", "localhost", "10.0.0.5")
    assert config.total_timeout_s == 3
    assert config.user_agent.startswith("newsmon/")
    # the configured list and the environment's add up, duplicates dropped
    merged = HttpConfig.from_env(allow=["::1", "localhost"])
    assert merged.allow == ("::1", "localhost", "127.0.0.0/8", "10.0.0.5")
    assert pickle.loads(pickle.dumps(config)) == config
    with pytest.raises(ConfigError, match="list of hosts"):
        HttpConfig.from_env(allow="10.0.0.0/8")  # a bare string would be split into characters
    with pytest.raises(ConfigError):
        HttpConfig.from_env(allow=["10.0.0.0/33"])
    monkeypatch.setenv("NEWSMON_HTTP_ALLOW", "10.0.0.0/33")
    with pytest.raises(ConfigError):
        HttpConfig.from_env()
    monkeypatch.delenv("NEWSMON_HTTP_ALLOW")
    assert HttpConfig.from_env(allow=["::1"]).allow == ("::1",)
    assert HttpConfig.from_env().allow == ()
    with pytest.raises(ConfigError):
        HttpConfig.from_env(no_such_option=1)
    with pytest.raises(ConfigError):
        HttpConfig(total_timeout_s=0)


def test_allow_list_from_the_config_file_opens_a_host(
    server: ScriptedServer, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """``http_allow`` in newsmon.toml opens an address, merged with NEWSMON_HTTP_ALLOW (never replaced)."""
    server.routes["/feed"] = reply(200, b"<rss/>")
    config_file = tmp_path / "newsmon.toml"
    config_file.write_text('http_allow = ["127.0.0.1/32", "intranet.example"]\n', encoding="utf-8")
    monkeypatch.delenv("NEWSMON_HTTP_ALLOW", raising=False)
    assert fail(server.url("/feed"), HttpConfig.from_env(total_timeout_s=5)).kind == "blocked-address"
    settings = load_settings(config_file)
    assert settings.http_allow == ["127.0.0.1/32", "intranet.example"]
    http = HttpConfig.from_env(allow=settings.http_allow, total_timeout_s=5)
    assert fetch_one(FetchRequest(server.url("/feed")), http).body == b"<rss/>"

    # the environment variable stays a comma-separated list: it neither breaks the settings
    # (it is not JSON) nor replaces the file's entries
    monkeypatch.setenv("NEWSMON_HTTP_ALLOW", "10.0.0.0/8,localhost")
    settings = load_settings(config_file)
    assert settings.http_allow == ["127.0.0.1/32", "intranet.example"]
    merged = HttpConfig.from_env(allow=settings.http_allow)
    assert merged.allow == ("127.0.0.1/32", "intranet.example", "10.0.0.0/8", "localhost")
    assert load_settings(None).http_allow == []  # no file, default: the environment's list only
    assert HttpConfig.from_env(allow=load_settings(None).http_allow).allow == ("10.0.0.0/8", "localhost")


@pytest.mark.parametrize(
    ("toml", "message"),
    [
        ('http_allow = "127.0.0.1"\n', "http_allow"),  # a string, not a list
        ("http_allow = [1]\n", "http_allow"),
        ('http_alow = ["127.0.0.1"]\n', "http_alow"),  # a typo is still an unknown setting
    ],
)
def test_bad_allow_list_in_the_config_file_is_a_clear_error(tmp_path: Path, toml: str, message: str) -> None:
    config_file = tmp_path / "newsmon.toml"
    config_file.write_text(toml, encoding="utf-8")
    with pytest.raises(ConfigError, match=message):
        load_settings(config_file)


def test_malformed_allow_entry_in_the_config_file_is_refused_by_the_client(tmp_path: Path) -> None:
    config_file = tmp_path / "newsmon.toml"
    config_file.write_text('http_allow = ["10.0.0.0/33"]\n', encoding="utf-8")
    with pytest.raises(ConfigError, match="neither a host name nor a CIDR range"):
        HttpConfig.from_env(allow=load_settings(config_file).http_allow)


def test_fetch_error_survives_pickling() -> None:
    import pickle

    from newsmon.errors import FetchError

    err = pickle.loads(pickle.dumps(FetchError("http-4xx", "https://a.example/", "429", 429, 7.0)))
    assert (err.kind, err.url, err.status, err.retry_after_s, str(err)) == (
        "http-4xx",
        "https://a.example/",
        429,
        7.0,
        "http-4xx: https://a.example/: 429",
    )


class _Stop(BaseException):
    """Stands for a signal-borne exception such as Prefect's TerminationSignal."""


def test_a_signal_turned_into_an_error_by_a_library_stops_the_batch(monkeypatch: pytest.MonkeyPatch) -> None:
    """SIGTERM landing inside anyio's cancel scopes surfaced as their RuntimeError; counted as a
    'protocol' failure, it let a stopped run finish as if nothing happened. It now propagates."""

    async def interrupted(*args: object, **kwargs: object) -> object:
        try:
            raise _Stop("SIGTERM")
        except _Stop:
            raise RuntimeError("Attempted to exit a cancel scope that isn't the current tasks's current cancel scope")  # noqa: B904 - the implicit context is what anyio leaves

    monkeypatch.setattr(nh, "_fetch", interrupted)

    async def one() -> object:
        async with httpx.AsyncClient() as client:
            return await nh._guarded(client, FetchRequest("http://127.0.0.1:9/feed"), LOCAL, asyncio.Semaphore(1), {})

    with pytest.raises(_Stop):
        asyncio.run(one())


def test_an_ordinary_unexpected_error_is_still_one_failed_request(monkeypatch: pytest.MonkeyPatch) -> None:
    async def broken(*args: object, **kwargs: object) -> object:
        raise RuntimeError("something odd")

    monkeypatch.setattr(nh, "_fetch", broken)

    async def one() -> object:
        async with httpx.AsyncClient() as client:
            return await nh._guarded(client, FetchRequest("http://127.0.0.1:9/feed"), LOCAL, asyncio.Semaphore(1), {})

    result = asyncio.run(one())
    assert isinstance(result, FetchError) and result.kind == "protocol" and "something odd" in str(result)


class _Stop(BaseException):
    """Stands for a termination signal raised by a signal handler (as Prefect's is)."""


def test_a_signal_the_event_loop_swallowed_still_stops_the_fetch(caplog: pytest.LogCaptureFixture) -> None:
    """A signal raised while a socket transport writes is caught by asyncio as a "fatal write
    error" and only logged; the fetch must re-raise it when it ends, not let the run go on."""
    from newsmon.http import signals_kept

    async def fetch_while_a_signal_lands() -> str:
        loop = asyncio.get_running_loop()
        with signals_kept(loop):
            loop.call_exception_handler({"message": "Fatal write error on socket transport", "exception": _Stop()})
            loop.call_exception_handler({"message": "an ordinary error", "exception": ValueError("logged")})
            return "finished"

    with caplog.at_level(logging.ERROR, logger="asyncio"), pytest.raises(_Stop):
        asyncio.run(fetch_while_a_signal_lands())
    assert "an ordinary error" in caplog.text  # other errors are handled as before
    assert "Fatal write error" not in caplog.text
