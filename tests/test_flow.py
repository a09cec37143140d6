"""The monitor flow under a real (test) Prefect API and a real DuckDB file."""

from __future__ import annotations

import shutil
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import duckdb
import pytest
from prefect.testing.utilities import prefect_test_harness

from flows.monitor import monitor
from newsmon.config import Settings, default_topics_path

SEEDS = Path(__file__).resolve().parents[1] / "seeds"
SEED_A = "000_d16311e57be8b6ce.txt"
SEED_B = "002_7a780bc5721e2cfc.txt"

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module", autouse=True)
def prefect_api() -> Iterator[None]:
    """One Prefect test API for the module (it takes seconds to start)."""
    with prefect_test_harness(server_startup_timeout=120):
        yield


def _corpus(folder: Path) -> Path:
    """The seeds, an exact copy of one, a light reprint of the other, and two bad files."""
    folder.mkdir()
    for name in (SEED_A, SEED_B):
        shutil.copy(SEEDS / name, folder / name)
    (folder / "copy-of-a.txt").write_bytes((SEEDS / SEED_A).read_bytes())
    lines = (SEEDS / SEED_B).read_text(encoding="utf-8").split("\n")
    body = "\n".join(lines[1:]).replace("Source link", "Share this:\nRead more")
    body = body.replace("critical juncture", "crucial moment").replace("on Tuesday", "this week")
    (folder / "reprint-of-b.txt").write_text("Blinken heads to Central Asia\n\n" + body, encoding="utf-8")
    (folder / "empty.txt").write_bytes(b"")
    (folder / "image.txt").write_bytes(b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR" + bytes(range(256)))
    return folder


def _settings(tmp_path: Path, corpus: Path, topics: Path | None = None) -> Settings:
    return Settings(db=tmp_path / "news.duckdb", seeds=corpus, topics=topics, alerts_dir=tmp_path / "alerts")


def _query(db: Path, sql: str) -> list[tuple]:
    con = duckdb.connect(str(db), read_only=True)
    try:
        return con.execute(sql).fetchall()
    finally:
        con.close()


def test_monitor_end_to_end_then_idempotent(tmp_path: Path) -> None:
    settings = _settings(tmp_path, _corpus(tmp_path / "in"))
    first = monitor(settings)
    assert (first.files_seen, first.files_skipped) == (6, 2)
    assert first.documents_new == 4 and first.stories_new == 2
    stories = dict(
        _query(
            settings.db,
            "SELECT regexp_extract(url, '[^/]+$'), story_id FROM v_documents",
        )
    )
    assert stories["copy-of-a.txt"] == stories[SEED_A]
    assert stories["reprint-of-b.txt"] == stories[SEED_B]
    assert stories[SEED_A] != stories[SEED_B]
    canon = _query(settings.db, "SELECT count(*) FROM v_documents WHERE is_canonical")
    assert canon == [(2,)]

    tags = _query(
        settings.db,
        "SELECT regexp_extract(d.url, '[^/]+$'), t.topic, t.evidence, d.title || ' ' || d.body"
        " FROM v_document_topics t JOIN v_documents d ON d.id = t.document_id",
    )
    by_doc: dict[str, set[str]] = {}
    for name, topic, evidence, text in tags:
        by_doc.setdefault(name, set()).add(topic)
        assert evidence in text
    assert by_doc[SEED_A] == {"central-asia-diplomacy", "russia-sanctions", "covid-origins"}
    assert by_doc[SEED_B] == {"central-asia-diplomacy", "russia-sanctions"}

    alerts = sorted(p.name.split("_", 2)[2] for p in (tmp_path / "alerts").glob("*.md"))
    assert alerts == ["central-asia-diplomacy.md", "covid-origins.md", "russia-sanctions.md"]
    assert len(list((tmp_path / "alerts").glob("*_digest.html"))) == 1
    before = _query(
        settings.db,
        "SELECT (SELECT count(*) FROM documents), (SELECT count(*) FROM stories),"
        " (SELECT count(*) FROM document_topics), (SELECT count(*) FROM alerts)",
    )

    second = monitor(settings)
    assert second.documents_new == 0 and second.stories_new == 0 and second.tags_new == 0
    assert second.alerts == []
    after = _query(
        settings.db,
        "SELECT (SELECT count(*) FROM documents), (SELECT count(*) FROM stories),"
        " (SELECT count(*) FROM document_topics), (SELECT count(*) FROM alerts)",
    )
    assert after == before
    runs = _query(settings.db, "SELECT status, documents_new, files_skipped FROM v_runs ORDER BY started_at")
    assert runs == [("completed", 4, 2), ("completed", 0, 2)]
    assert len(list((tmp_path / "alerts").iterdir())) == 4  # 3 Markdown alerts and the run's HTML digest


def test_changed_topic_retags_history_without_mixing_versions(tmp_path: Path) -> None:
    corpus = tmp_path / "in"
    corpus.mkdir()
    shutil.copy(SEEDS / SEED_B, corpus / SEED_B)
    topics = tmp_path / "topics.toml"
    shutil.copy(default_topics_path(), topics)
    settings = _settings(tmp_path, corpus, topics)
    monitor(settings)
    assert _query(settings.db, "SELECT topic FROM v_document_topics ORDER BY 1") == [
        ("central-asia-diplomacy",),
        ("russia-sanctions",),
    ]
    # A user widens covid-origins carelessly: the change must re-tag stored documents.
    text = topics.read_text(encoding="utf-8")
    widened = text.replace("  OR sago\n", '  OR sago OR "post-covid recovery"\n')
    assert widened != text
    topics.write_text(widened, encoding="utf-8")
    result = monitor(settings)
    assert result.retagged == 1 and result.alerts == []  # history is not news
    current = _query(settings.db, "SELECT topic, evidence FROM v_document_topics WHERE topic = 'covid-origins'")
    assert len(current) == 1 and "post-Covid recovery" in current[0][1]
    versions = _query(
        settings.db, "SELECT count(DISTINCT topic_version) FROM v_document_topics WHERE topic = 'covid-origins'"
    )
    assert versions == [(1,)]
    stored_versions = _query(settings.db, "SELECT count(*) FROM topic_versions WHERE topic = 'covid-origins'")
    assert stored_versions == [(2,)]


def test_failed_run_is_recorded(tmp_path: Path) -> None:
    corpus = tmp_path / "in"
    corpus.mkdir()
    shutil.copy(SEEDS / SEED_A, corpus / SEED_A)
    settings = _settings(tmp_path, corpus)
    settings.alerts_dir.parent.mkdir(parents=True, exist_ok=True)
    settings.alerts_dir.write_text("not a folder")  # the alert stage cannot write here
    with pytest.raises(OSError):
        monitor(settings)
    rows = _query(settings.db, "SELECT status, error FROM v_runs")
    assert rows[0][0] == "failed" and "alerts" in rows[0][1]
    # the stored batch survived the failed alert stage and is alerted by the next good run
    settings.alerts_dir.unlink()
    again = monitor(settings)
    assert again.documents_new == 0 and sorted(again.alerts) == [
        "central-asia-diplomacy",
        "covid-origins",
        "russia-sanctions",
    ]


def _rss(items: list[tuple[str, str, str]]) -> bytes:
    entries = "".join(
        f"<item><title>{t}</title><link>{link}</link><guid>{link}</guid><description>{d}</description>"
        "<pubDate>Sat, 20 May 2023 10:00:00 GMT</pubDate></item>"
        for t, link, d in items
    )
    return f"<?xml version='1.0'?><rss version='2.0'><channel><title>Wire</title>{entries}</channel></rss>".encode()


def test_feeds_are_polled_extracted_and_not_duplicated(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Two polls of a loopback feed: real article pages extracted, the second poll is a 304."""
    import gzip
    import json

    from support import Route, ScriptedServer, require_shared

    html_dir = require_shared() / "html" / "article-extraction-benchmark"
    gold = json.loads((html_dir / "ground-truth.json").read_text(encoding="utf-8"))
    page_ids = sorted(gold)[:3]
    server = ScriptedServer()
    try:
        items = []
        for n, pid in enumerate(page_ids):
            page = gzip.decompress((html_dir / "html" / f"{pid}.html.gz").read_bytes())
            server.routes[f"/a/{n}"] = Route(page, {"Content-Type": "text/html; charset=utf-8"})
            items.append((f"Story {n}", server.url(f"/a/{n}?utm_source=rss"), f"Summary {n}"))
        items.append(("Gone", server.url("/missing"), "Only the summary survives"))
        server.routes["/feed.xml"] = Route(_rss(items), etag='"feed-v1"')
        feeds = tmp_path / "feeds.toml"
        feeds.write_text(f'[[feeds]]\nname = "Wire"\nurl = "{server.url("/feed.xml")}"\ninterval = 60\n')
        seeds = tmp_path / "empty"
        seeds.mkdir()
        monkeypatch.setenv("NEWSMON_HTTP_ALLOW", "127.0.0.0/8")
        settings = Settings(
            db=tmp_path / "n.duckdb", seeds=seeds, feeds=feeds, alerts_dir=tmp_path / "alerts", extract_workers=1
        )
        first = monitor(settings)
        assert first.feeds_polled == 1 and first.documents_new == 4
        rows = _query(
            settings.db,
            "SELECT url, extraction, page_kind, length(body), source FROM v_documents ORDER BY url",
        )
        by_url = {r[0]: r[1:] for r in rows}
        assert by_url[server.url("/missing")][:2] == ("feed-summary", "unavailable")
        for n, pid in enumerate(page_ids):
            extraction, kind, length, source = by_url[server.url(f"/a/{n}")]  # tracking parameter dropped
            assert (extraction, kind, source) == ("article", "article", "Wire")
            assert length > 0.5 * len(gold[pid]["articleBody"])
        health = _query(settings.db, "SELECT status, consecutive_failures, items_stored FROM v_feed_health")
        assert health == [("ok", 0, 4)]

        later = datetime.now(UTC) + timedelta(minutes=5)  # the feed is due again
        second = monitor(settings, now=later)
        assert second.feeds_polled == 1 and second.documents_new == 0
        assert server.hits("/feed.xml")[-1].get("if-none-match") == '"feed-v1"'
        assert len(server.hits("/a/0")) == 1  # the page was not fetched again
        counts = _query(settings.db, "SELECT (SELECT count(*) FROM documents), (SELECT count(*) FROM feed_items)")
        assert counts == [(4, 4)]
    finally:
        server.close()
