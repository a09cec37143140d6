"""Security: feed text is data — never an address we may not reach, never SQL, never a path."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap
import time
from collections.abc import Callable, Iterator
from datetime import UTC, datetime
from pathlib import Path

import duckdb
import pytest
from support import REPO, Newsmon, Route, ScriptedServer, make_database, python_path

from newsmon.errors import FetchError, TopicDefinitionError
from newsmon.http import FetchRequest, HttpConfig, fetch_all
from newsmon.models import Document
from newsmon.steps import Deduped, store_batch
from newsmon.text import sha256_hex, text_hash
from newsmon.topics import compile_topic
from storage.store import Store

pytestmark = pytest.mark.hostile("security")

NON_PUBLIC = [
    "http://127.0.0.1/",
    "http://[::1]/",
    "http://0.0.0.0/",
    "http://2130706433/",
    "http://0177.0.0.1/",
    "http://[::ffff:127.0.0.1]/",
    "http://10.1.2.3/",
    "http://172.16.0.1/",
    "http://172.31.255.254/",
    "http://192.168.1.1/",
    "http://100.64.0.1/",
    "http://169.254.169.254/latest/meta-data/",
    "http://[fd00::1]/",
    "http://[64:ff9b::a9fe:a9fe]/",
]


@pytest.fixture
def server() -> Iterator[ScriptedServer]:
    srv = ScriptedServer()
    yield srv
    srv.close()


@pytest.mark.parametrize("url", NON_PUBLIC)
def test_non_public_addresses_are_refused_before_connecting(url: str) -> None:
    result = fetch_all([FetchRequest(url)], HttpConfig(total_timeout_s=2))[0]
    assert isinstance(result, FetchError) and result.kind == "blocked-address", result


@pytest.mark.parametrize(
    "url", ["file:///etc/passwd", "ftp://ftp.example/x", "data:text/plain,hi", "javascript:alert(1)"]
)
def test_other_schemes_are_refused(url: str) -> None:
    result = fetch_all([FetchRequest(url)], HttpConfig(total_timeout_s=2))[0]
    assert isinstance(result, FetchError) and result.kind == "scheme"


# Every non-public form, as a redirect target; {port} is the loopback server's, so a target
# that slipped through on loopback would reach it (and any other would trip the network guard).
REDIRECT_TARGETS = [
    "http://127.0.0.1:{port}/secret",
    "http://[::1]:{port}/secret",
    "http://0.0.0.0:{port}/secret",  # reaches this machine on Linux
    "http://2130706433:{port}/secret",  # 127.0.0.1 as one number
    "http://0177.0.0.1:{port}/secret",  # octal
    "http://[::ffff:127.0.0.1]:{port}/secret",  # IPv4-mapped IPv6
    "http://localhost:{port}/secret",  # a name: refused on the address it resolves to
    "http://10.1.2.3/",  # 10/8
    "http://172.16.0.1/",  # 172.16/12, both ends
    "http://172.31.255.254/",
    "http://192.168.1.1/",  # 192.168/16
    "http://100.64.0.1/",  # 100.64/10 (shared, carrier-grade NAT)
    "http://169.254.169.254/latest/meta-data/",  # link-local: cloud metadata
    "http://[fd00::1]/",  # fd00::/8 (unique local)
    "http://[64:ff9b::a9fe:a9fe]/",  # NAT64 of 169.254.169.254
]


@pytest.mark.parametrize("target", REDIRECT_TARGETS)
def test_redirects_to_non_public_addresses_are_refused(target: str) -> None:
    """The first hop is allowed (only its exact address); the redirect target is not, whatever its form.

    The server sits on 127.0.0.2 and only 127.0.0.2/32 is allowed, so loopback as such is
    not: each target is judged on its own (resolved or decoded) address.
    """
    front = ScriptedServer("127.0.0.2")
    try:
        location = target.format(port=front.port)
        front.routes["/hop"] = Route(b"", {"Location": location}, status=302)
        front.routes["/secret"] = Route(b"secret", {"Content-Type": "text/plain"})
        config = HttpConfig(allow=("127.0.0.2/32",), total_timeout_s=3)
        assert fetch_all([FetchRequest(front.url("/secret"))], config)[0].body == b"secret"  # type: ignore[union-attr]
        result = fetch_all([FetchRequest(front.url("/hop"))], config)[0]
        assert isinstance(result, FetchError) and result.kind == "blocked-address", result
        assert "not public" in result.message or "resolves to non-public address" in result.message
        assert location in result.message or "localhost resolves" in result.message  # the hop that was refused
        assert [path for path, _ in front.requests] == ["/secret", "/hop"]  # the target was never requested
    finally:
        front.close()


def test_dns_rebinding_connects_to_the_checked_address(server: ScriptedServer, monkeypatch: pytest.MonkeyPatch) -> None:
    import ipaddress

    import newsmon.http as http

    answers = iter([["127.0.0.1"], ["10.0.0.7"], ["10.0.0.7"]])

    async def rebinding(host: str, port: int) -> list[ipaddress.IPv4Address | ipaddress.IPv6Address]:
        return [ipaddress.ip_address(a) for a in next(answers)]

    monkeypatch.setattr(http, "resolve_host", rebinding)
    server.routes["/x"] = Route(b"ok", {"Content-Type": "text/plain"})
    port = server.url("/x").rsplit(":", 1)[1].split("/")[0]
    result = fetch_all(
        [FetchRequest(f"http://rebind.test:{port}/x")], HttpConfig(allow=("127.0.0.0/8",), total_timeout_s=3)
    )[0]
    assert not isinstance(result, FetchError) and result.body == b"ok"  # went to the address it checked
    assert server.hits("/x")[0]["host"] == f"rebind.test:{port}"


# -- the tests' network guard reaches subprocesses -------------------------------------------

_TRY_TEST_NET = textwrap.dedent(
    """
    import json, socket, time
    out = []
    tcp, udp = socket.SOCK_STREAM, socket.SOCK_DGRAM
    for kind, call in ((tcp, "connect"), (udp, "connect"), (tcp, "connect_ex")):
        s = socket.socket(socket.AF_INET, kind)
        s.setblocking(False)  # a real connect would return at once, its SYN sent and a local port bound
        t0 = time.monotonic()
        try:
            getattr(s, call)(("192.0.2.1", 9))  # TEST-NET-1: documentation only, never routed
            result = "connected"
        except ConnectionRefusedError as err:
            result = str(err)
        except OSError as err:
            result = "kernel: " + str(err)
        out.append([call, kind == socket.SOCK_STREAM, result, list(s.getsockname()), time.monotonic() - t0])
        s.close()
    print(json.dumps({"guarded": getattr(socket.socket, "_newsmon_guard", False), "tries": out}))
    """
)


def _run_python(code: str, env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-c", code], env=env, cwd=REPO, capture_output=True, text=True, timeout=60, check=False
    )


def test_a_subprocess_cannot_reach_outside_loopback(tmp_path: Path) -> None:
    """A subprocess is guarded as the test process is: refused before the kernel sees a connect."""
    log = tmp_path / "refusals.log"
    result = _run_python(_TRY_TEST_NET, {**os.environ, "TEST_NETWORK_GUARD_LOG": str(log)})
    assert result.returncode == 0, result.stderr
    report = json.loads(result.stdout)
    assert report["guarded"] is True
    for call, _stream, outcome, local, seconds in report["tries"]:
        assert outcome.startswith("test network guard:"), (call, outcome)
        assert local == ["0.0.0.0", 0], "the socket was bound: connect() reached the kernel"
        assert seconds < 0.5
    assert result.stderr.count("test network guard: refused connection to ('192.0.2.1', 9)") == 3
    lines = log.read_text().splitlines()  # what the session reads to fail the test
    assert len(lines) == 3 and all(line.startswith("connection to ('192.0.2.1', 9) (pid ") for line in lines)


def test_a_subprocess_refusal_fails_the_test_even_when_caught(
    take_subprocess_refusals: Callable[[], list[str]],
) -> None:
    """The child swallows the error and exits 0; the session's log still has it."""
    take_subprocess_refusals()
    code = "import socket\ntry:\n    socket.create_connection(('192.0.2.7', 80), timeout=1)\nexcept OSError:\n    pass"
    result = _run_python(code, dict(os.environ))
    assert result.returncode == 0, result.stderr
    refused = take_subprocess_refusals()  # taken here, so this test passes; any other would fail
    assert len(refused) == 1 and refused[0].startswith("connection to ('192.0.2.7', 80)"), refused


def test_a_subprocess_with_its_own_environment_is_guarded_and_reaches_loopback(server: ScriptedServer) -> None:
    """As the fault tests start ``newsmon``: a clean environment and a PYTHONPATH of their own."""
    server.routes["/ok"] = Route(b"fine", {"Content-Type": "text/plain"})
    env = {k: v for k, v in os.environ.items() if not k.startswith(("NEWSMON_", "PREFECT_", "PYTHONPATH"))}
    env["PYTHONPATH"] = python_path(REPO)
    code = (
        "import socket, urllib.request\n"
        f"print(socket.socket._newsmon_guard, urllib.request.urlopen({server.url('/ok')!r}, timeout=5).read())"
    )
    t0 = time.monotonic()
    result = _run_python(code, env)
    assert result.returncode == 0, result.stderr
    assert result.stdout.split() == ["True", "b'fine'"] and time.monotonic() - t0 < 30
    assert server.hits("/ok")


SQL_TEXT = "x'); DROP TABLE documents; --"


def test_sql_in_titles_and_topic_names_is_stored_verbatim(tmp_path: Path, lost_rows: object) -> None:
    store = Store.open_writer(tmp_path / "n.duckdb")
    try:
        now = datetime(2023, 5, 1, tzinfo=UTC)
        doc = Document(
            id="d1", url="https://x.example/1", source=SQL_TEXT, source_kind="feed", title=SQL_TEXT,
            body=f"{SQL_TEXT} Kazakhstan foreign minister visit", author=SQL_TEXT, origin=None, published_at=None,
            first_seen_at=now, content_hash=sha256_hex(SQL_TEXT), text_hash=text_hash(SQL_TEXT), extractor="t",
            charset=None,
        )  # fmt: skip
        from newsmon.dedupe import assign_stories, fingerprint_documents

        fps = fingerprint_documents([doc])
        store_batch(store, "r1", now, [doc], Deduped.of(fps, assign_stories(fps, {}, {}, {})), [])
        topic = (
            compile_topic("sql-topic", {"name": SQL_TEXT, "rules": [{"terms": ["kazakhstan"]}]}, "test")
            if _rules_format()
            else compile_topic("sql-topic", {"name": SQL_TEXT, "query": "kazakhstan"}, "test")
        )
        store.topics.register([topic], "r1", now)
        rows = store.con.execute("SELECT title, source, author FROM documents").fetchall()
        names = store.con.execute("SELECT name FROM topic_versions").fetchall()
        tables = store.con.execute("SELECT count(*) FROM duckdb_tables() WHERE table_name = 'documents'").fetchall()
    finally:
        store.close()
    lost_rows(1 - len(rows))
    assert rows == [(SQL_TEXT, SQL_TEXT, SQL_TEXT)] and names == [(SQL_TEXT,)] and tables == [(1,)]


def _rules_format() -> bool:
    try:
        compile_topic("probe", {"rules": [{"terms": ["a"]}]}, "probe")
    except Exception:
        return False
    return True


def test_topic_slugs_cannot_carry_sql() -> None:
    with pytest.raises(TopicDefinitionError):
        compile_topic("x'; DROP TABLE alerts; --", {"name": "n", "rules": [{"terms": ["a"]}]}, "test")


def test_no_sql_is_built_by_string_formatting() -> None:
    """ruff's S608 flags SQL assembled with f-strings, format() or %; the code base must have none."""
    ruff = Path(sys.executable).with_name("ruff")
    result = subprocess.run(
        [str(ruff), "check", "--select", "S608", "--no-cache", "newsmon", "storage", "flows", "cli"],
        cwd=REPO, capture_output=True, text=True, check=False,
    )  # fmt: skip
    assert result.returncode == 0, result.stdout


@pytest.mark.parametrize(
    "query",
    [
        "COPY (SELECT 1) TO '{tmp}/out.csv'",
        "SELECT * FROM read_csv('{url}')",
        "ATTACH '{tmp}/other.duckdb' AS other",
        "INSTALL httpfs",
        "SET enable_external_access = true",
        "CREATE TABLE t AS SELECT 1",
        "SELECT * FROM read_text('/etc/hostname')",
    ],
)
def test_newsmon_sql_cannot_write_files_or_reach_the_network(
    tmp_path: Path, server: ScriptedServer, query: str, lost_rows: Callable[[int], None], newsmon: Newsmon
) -> None:
    db = make_database(tmp_path / "n.duckdb")
    server.routes["/x.csv"] = Route(b"a,b\n1,2\n", {"Content-Type": "text/csv"})
    sql = query.format(tmp=tmp_path, url=server.url("/x.csv"))
    result = newsmon("sql", sql, "--db", str(db))
    assert result.exit_code == 1 and result.stderr.startswith("newsmon: error: query failed")
    assert not (tmp_path / "out.csv").exists() and not (tmp_path / "other.duckdb").exists()
    assert server.hits("/x.csv") == []
    con = duckdb.connect(str(db), read_only=True)
    stored = con.execute("SELECT count(*) FROM documents").fetchall()[0][0]
    con.close()
    lost_rows(2 - stored)
    assert stored == 2


@pytest.mark.parametrize("topic", ["../../x", "/etc/cron.d/evil", "a\x00b", "é" * 300, "..", "con:", "a/b\\c"])
def test_output_file_names_stay_inside_the_folder(tmp_path: Path, topic: str) -> None:
    from types import SimpleNamespace

    from newsmon.alerts import alert_filename, write_text_atomic

    name = alert_filename(
        SimpleNamespace(topic=topic, run_id="../../run\x00", created_at=datetime(2023, 5, 1, tzinfo=UTC))
    )
    assert "/" not in name and "\\" not in name and "\x00" not in name and len(name.encode()) <= 255
    path = tmp_path / name
    write_text_atomic(path, "x")
    assert path.resolve().parent == tmp_path.resolve() and path.read_text() == "x"


def test_markup_and_script_links_are_escaped_in_markdown_and_html() -> None:
    from newsmon.alerts import escape_html, escape_markdown, html_link, markdown_link

    hostile = '<img src=x onerror=alert(1)><script>alert(2)</script>"'
    assert "<img" not in escape_markdown(hostile) and "<script" not in escape_markdown(hostile)
    assert "<img" not in escape_html(hostile) and "<script" not in escape_html(hostile)
    assert "javascript:" not in markdown_link("click", "javascript:alert(1)")
    assert "javascript:" not in html_link("click", "javascript:alert(1)")
    assert "href=" not in html_link("x", "data:text/html,<script>alert(1)</script>")
