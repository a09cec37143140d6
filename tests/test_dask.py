"""The monitor flow with its extraction and tagging on a Dask LocalCluster of two workers gives
the same database as the default runner."""

from __future__ import annotations

import gzip
import json
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from email.utils import format_datetime
from pathlib import Path
from typing import Any
from uuid import UUID
from xml.sax.saxutils import escape

import duckdb
import pytest
from prefect.client.orchestration import get_client
from prefect.client.schemas.filters import FlowRunFilter, FlowRunFilterId
from support import SEEDS, Route, ScriptedServer, require_shared

from flows.monitor import monitor
from newsmon.config import Settings

pytest.importorskip("prefect_dask", reason="the dask extra is not installed (pip install -e '.[dask]')")

pytestmark = [pytest.mark.slow, pytest.mark.usefixtures("prefect_api")]  # the session's Prefect test API

NOW = datetime(2023, 5, 19, 18, 0, tzinfo=UTC)
PAGES = 16


@pytest.fixture(scope="module")
def site() -> Iterator[ScriptedServer]:
    """A feed of real article pages (and one page served twice under two links) on 127.0.0.1."""
    folder = require_shared() / "html" / "article-extraction-benchmark"
    gold = json.loads((folder / "ground-truth.json").read_text(encoding="utf-8"))
    server = ScriptedServer()
    items = []
    for n, page_id in enumerate(sorted(gold)[:PAGES]):
        html = gzip.decompress((folder / "html" / f"{page_id}.html.gz").read_bytes())
        server.routes[f"/page/{n}"] = Route(html, {"Content-Type": "text/html; charset=utf-8"})
        items.append((f"Article {n}", server.url(f"/page/{n}"), NOW - timedelta(hours=n)))
    server.routes["/page/copy"] = server.routes["/page/0"]  # a reprint under another link
    items.append(("Article 0 again", server.url("/page/copy"), NOW - timedelta(minutes=30)))
    body = "".join(
        f"<item><title>{escape(t)}</title><link>{escape(u)}</link><guid>{escape(u)}</guid>"
        f"<pubDate>{format_datetime(at)}</pubDate></item>"
        for t, u, at in items
    )
    server.routes["/feed.xml"] = Route(f"<rss version='2.0'><channel><title>t</title>{body}</channel></rss>".encode())
    yield server
    server.close()


def run(tmp: Path, site: ScriptedServer, monkeypatch: pytest.MonkeyPatch, **overrides: Any) -> tuple[Path, str]:
    monkeypatch.setenv("NEWSMON_HTTP_ALLOW", "127.0.0.0/8")
    tmp.mkdir()
    feeds = tmp / "feeds.toml"
    feeds.write_text(f'[[feeds]]\nname = "Site"\nurl = "{site.url("/feed.xml")}"\n', encoding="utf-8")
    settings = Settings(
        db=tmp / "news.duckdb", seeds=SEEDS, feeds=feeds, alerts_dir=tmp / "alerts", extract_workers=2, **overrides
    )
    summary = monitor(settings, now=NOW)
    return settings.db, summary.run_id


def contents(db: Path) -> dict[str, list[tuple[Any, ...]]]:
    """What a run stored, without run ids and wall-clock times."""
    queries = {
        "documents": "SELECT url, title, body, extraction, page_kind, language, published_at, story_id,"
        " is_canonical, similarity FROM v_documents ORDER BY url",
        "tags": "SELECT d.url, t.topic, t.topic_version, t.score, t.evidence, t.clause FROM v_document_topics t"
        " JOIN v_documents d ON d.id = t.document_id ORDER BY 1, 2",
        "stories": "SELECT story_id, canonical_title, documents, sources FROM v_stories ORDER BY 1",
        "alerts": "SELECT topic, kind, story_count, document_count FROM v_digests ORDER BY 1, 2",
    }
    con = duckdb.connect(str(db), read_only=True)
    try:
        return {name: con.execute(sql).fetchall() for name, sql in queries.items()}
    finally:
        con.close()


def task_names(flow_run_id: str) -> list[str]:
    flow_runs = FlowRunFilter(id=FlowRunFilterId(any_=[UUID(flow_run_id)]))
    with get_client(sync_client=True) as client:
        runs = client.read_task_runs(flow_run_filter=flow_runs, limit=200)
    return sorted(r.name.rsplit("-", 1)[0] for r in runs)


def test_dask_local_cluster_gives_the_same_database(
    tmp_path: Path, site: ScriptedServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    local_db, local_run = run(tmp_path / "local", site, monkeypatch)
    dask_db, dask_run = run(tmp_path / "dask", site, monkeypatch, task_runner="dask", dask_workers=2)

    local, dask = contents(local_db), contents(dask_db)
    assert len(local["documents"]) == 2 + PAGES + 1
    assert sum(row[3] == "article" for row in local["documents"]) == PAGES + 1  # pages were extracted
    assert local["tags"] and local["alerts"]
    for table in local:
        assert dask[table] == local[table], table

    # the work went where it was sent: page pieces and batches tagged as tasks of the Dask run
    on_dask = task_names(dask_run)
    assert "extract-pages" in on_dask and "tag" in on_dask and "fetch-and-extract-pages" not in on_dask
    assert "fetch-and-extract-pages" in task_names(local_run)
