"""Every failed fetch has a class: recorded per feed and per page, counted in the run summary
with an example each, queryable in ``v_failures``; and a page's canonical URL as its identity.

The runs here are the pipeline core (no Prefect) against real loopback servers and a real
DuckDB file.
"""

from __future__ import annotations

import gzip
import socket
import time
import uuid
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import duckdb
import pytest
from support import Route, ScriptedServer, require_shared

from cli.report import summary_lines
from newsmon.config import Settings
from newsmon.pipeline import RunContext, RunSummary, StageProgress, run_once
from newsmon.topics import load_topics
from storage.store import Store

NOW = datetime(2023, 5, 20, 12, 0, tzinfo=UTC)
CANONICAL_TAG = b'<link rel="canonical" href="/story/one?utm_source=x">'


def _closed_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def _rss(title: str, links: list[str]) -> bytes:
    items = "".join(
        f"<item><title>Item {n}</title><link>{link}</link><guid>g{n}</guid><description>Summary {n}</description>"
        "<pubDate>Sat, 20 May 2023 10:00:00 GMT</pubDate></item>"
        for n, link in enumerate(links)
    )
    return f"<?xml version='1.0'?><rss version='2.0'><channel><title>{title}</title>{items}</channel></rss>".encode()


def _real_page(n: int) -> bytes:
    pages = sorted((require_shared() / "html" / "article-extraction-benchmark" / "html").glob("*.html.gz"))
    return gzip.decompress(pages[n].read_bytes())


@pytest.fixture
def site() -> Iterator[ScriptedServer]:
    server = ScriptedServer()
    yield server
    server.close()


def _run(tmp_path: Path, feeds: str, monkeypatch: pytest.MonkeyPatch, **extra: Any) -> tuple[RunSummary, Settings]:
    monkeypatch.setenv("NEWSMON_HTTP_ALLOW", "127.0.0.0/8")
    (tmp_path / "feeds.toml").write_text(feeds, encoding="utf-8")
    (tmp_path / "empty").mkdir(exist_ok=True)
    settings = Settings(
        db=tmp_path / "n.duckdb",
        seeds=tmp_path / "empty",
        feeds=tmp_path / "feeds.toml",
        alerts_dir=tmp_path / "alerts",
        extract_workers=1,
        http_timeout_s=5,
        **extra,
    )
    store = Store.open_writer(settings.db)
    try:
        summary = run_once(RunContext(settings, store, load_topics(settings.topics_path), NOW, str(uuid.uuid4())))
    finally:
        store.close()
    return summary, settings


def _query(db: Path, sql: str) -> list[tuple]:
    con = duckdb.connect(str(db), read_only=True)
    try:
        return con.execute(sql).fetchall()
    finally:
        con.close()


def test_a_feed_longer_than_the_cap_gives_its_first_items_and_a_note(
    tmp_path: Path, site: ScriptedServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    body = b"<html><body><article><p>" + b"Words of an article page. " * 40 + b"</p></article></body></html>"
    for n in range(5):
        site.routes[f"/a/{n}"] = Route(body.replace(b"article page", f"article page {n}".encode()))
    site.routes["/feed.xml"] = Route(_rss("Long", [site.url(f"/a/{n}") for n in range(5)]))
    feeds = f'[[feeds]]\nname = "Long"\nurl = "{site.url("/feed.xml")}"\n'
    summary, settings = _run(tmp_path, feeds, monkeypatch, feed_items_max=3)
    assert summary.feeds_failed == 0
    assert sorted(path for path, _ in site.requests if path.startswith("/a/")) == ["/a/0", "/a/1", "/a/2"]
    assert _query(settings.db, "select count(*) from documents") == [(3,)]
    kind, message = _query(settings.db, "select last_error_kind, last_error from feeds")[0]
    assert kind == "too-many-items" and "lists 5 items: kept the first 3 (feed_items_max)" in message


def test_each_failure_has_its_class_in_the_summary_and_the_views(
    tmp_path: Path, site: ScriptedServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    closed = _closed_port()
    site.routes["/a/0"] = Route(_real_page(0), {"Content-Type": "text/html; charset=utf-8"})
    homepage = b"<html><body><p>Not a feed at all.</p></body></html>"
    site.routes["/page.html"] = Route(homepage, {"Content-Type": "text/html"})
    links = [site.url("/a/0"), site.url("/gone"), f"http://127.0.0.1:{closed}/a/1", "http://news.invalid/a/2"]
    site.routes["/feed.xml"] = Route(_rss("Wire", links))
    feeds = (
        f'[[feeds]]\nname = "Wire"\nurl = "{site.url("/feed.xml")}"\n\n'
        f'[[feeds]]\nname = "Closed"\nurl = "http://127.0.0.1:{closed}/rss"\n\n'
        f'[[feeds]]\nname = "Homepage"\nurl = "{site.url("/page.html")}"\n'
    )
    summary, settings = _run(tmp_path, feeds, monkeypatch)

    tallies = {(t.scope, t.kind): t for t in summary.failures}
    assert set(tallies) == {
        ("feed", "refused"), ("feed", "not-a-feed"), ("page", "http-4xx"), ("page", "refused"), ("page", "dns"),
    }  # fmt: skip
    assert all(t.count == 1 for t in tallies.values())
    assert tallies[("feed", "refused")].example.url == f"http://127.0.0.1:{closed}/rss"
    assert "404" in tallies[("page", "http-4xx")].example.message
    assert (summary.feeds_listed, summary.feeds_polled, summary.feeds_failed, summary.feeds_failing) == (3, 3, 2, 2)
    assert (summary.pages_fetched, summary.pages_failed) == (1, 3)

    rows = _query(settings.db, "SELECT scope, kind, url, feed_name, status FROM v_failures ORDER BY scope, kind")
    assert rows == [
        ("feed", "not-a-feed", site.url("/page.html"), "Homepage", 200),
        ("feed", "refused", f"http://127.0.0.1:{closed}/rss", "Closed", None),
        ("page", "dns", "http://news.invalid/a/2", "Wire", None),
        ("page", "http-4xx", site.url("/gone"), "Wire", 404),  # a page's HTTP status is kept, as a feed's
        ("page", "refused", f"http://127.0.0.1:{closed}/a/1", "Wire", None),
    ]
    health = dict(_query(settings.db, "SELECT name, last_error_kind FROM v_feed_health"))
    assert health == {"Wire": None, "Closed": "refused", "Homepage": "not-a-feed"}
    # nothing lost: the items whose page failed keep their feed summary
    assert _query(settings.db, "SELECT count(*) FROM documents WHERE page_kind = 'unavailable'") == [(3,)]

    lines = summary_lines(summary, settings, 3.2, width=100)
    assert all(len(line) <= 100 for line in lines)
    text = "\n".join(lines)
    assert "1 feed refused: e.g. http://127.0.0.1:" in text and "→ check the host and port" in text
    assert "1 page dns: e.g. http://news.invalid/a/2" in text
    assert "3 feeds: 3 polled (0 not modified), 2 failed; 2 failing" in text
    joined = " ".join(text.split())  # the hint wraps at 100 columns
    assert f"next: 2 feeds failing: `newsmon feeds list --failing --db {settings.db} --feeds" in joined


def test_a_page_is_identified_by_its_canonical_url_on_the_same_site(
    tmp_path: Path, site: ScriptedServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    page = _real_page(1).replace(b"<head>", b"<head>" + CANONICAL_TAG, 1)
    site.routes["/amp/one"] = Route(page, {"Content-Type": "text/html; charset=utf-8"})
    site.routes["/feed.xml"] = Route(_rss("Wire", [site.url("/amp/one?utm_campaign=feed&fbclid=x")]))
    summary, settings = _run(tmp_path, f'[[feeds]]\nname = "Wire"\nurl = "{site.url("/feed.xml")}"\n', monkeypatch)
    assert summary.documents_new == 1
    rows = _query(settings.db, "SELECT d.url, d.canonical_url, i.document_id = d.id FROM documents d, feed_items i")
    assert rows == [(site.url("/story/one"), site.url("/story/one"), True)]  # no tracking parameter kept


def test_progress_rates_count_from_the_start_of_the_stage() -> None:
    lines: list[str] = []

    class Log:
        def info(self, _fmt: str, line: str) -> None:
            lines.append(line)

    progress = StageProgress("pages", 400, "pages", Log(), every_s=0)
    time.sleep(0.2)
    progress.advance(200)
    progress.advance(200)
    assert lines[0].startswith("pages [##########----------] 200/400 pages (50%), ")
    rate = int(lines[-1].split(", ")[1].split()[0])
    assert 500 <= rate <= 2000  # 400 pages in a little over 0.2 s, not millions a second
