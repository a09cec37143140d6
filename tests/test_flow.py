"""The monitor flow under a real (test) Prefect API and a real DuckDB file."""

from __future__ import annotations

import logging
import re
import shutil
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import duckdb
import pytest

from flows.monitor import monitor
from newsmon.config import Settings, default_topics_path
from newsmon.errors import OutputError, StorageError

SEEDS = Path(__file__).resolve().parents[1] / "seeds"
SEED_A = "000_d16311e57be8b6ce.txt"
SEED_B = "002_7a780bc5721e2cfc.txt"

pytestmark = [pytest.mark.slow, pytest.mark.usefixtures("prefect_api")]  # the session's Prefect test API


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


def _query(db: Path, sql: str, *params: object) -> list[tuple]:
    con = duckdb.connect(str(db), read_only=True)
    try:
        return con.execute(sql, list(params)).fetchall()
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


def _monitored_seed_b(tmp_path: Path) -> tuple[Settings, Path]:
    """Settings over a folder of the second seed with a copy of the shipped topics file (the
    copy's path is returned too), after one monitor run."""
    corpus = tmp_path / "in"
    corpus.mkdir()
    shutil.copy(SEEDS / SEED_B, corpus / SEED_B)
    topics = tmp_path / "topics.toml"
    shutil.copy(default_topics_path(), topics)
    settings = _settings(tmp_path, corpus, topics)
    monitor(settings)
    return settings, topics


def test_changed_topic_retags_history_without_mixing_versions(tmp_path: Path) -> None:
    settings, topics = _monitored_seed_b(tmp_path)
    assert _query(settings.db, "SELECT topic FROM v_document_topics ORDER BY 1") == [
        ("central-asia-diplomacy",),
        ("russia-sanctions",),
    ]
    # A user widens covid-origins carelessly: the change must re-tag stored documents.
    text = topics.read_text(encoding="utf-8")
    # (and drops the rule that a lone sentence past the lead is a passing mention)
    widened = text.replace("  OR sago\n", '  OR sago OR "post-covid recovery"\n').replace("lead_sentences = 2\n", "")
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


def test_a_renamed_topic_keeps_its_tags_and_shows_its_new_name(tmp_path: Path) -> None:
    """A new name or description changes no tag: no re-tag, the same version, the new name shown."""
    settings, topics = _monitored_seed_b(tmp_path)
    tags = "SELECT document_id, topic, topic_version, run_id FROM document_topics ORDER BY ALL"
    before = _query(settings.db, tags)
    text = topics.read_text(encoding="utf-8")
    renamed = text.replace('name = "Russia sanctions"', 'name = "Sanctions on Russia"')
    assert renamed != text
    topics.write_text(renamed, encoding="utf-8")
    result = monitor(settings)
    assert result.retagged == 0 and _query(settings.db, tags) == before
    names = "SELECT name, count(*) OVER () FROM topic_versions WHERE topic = 'russia-sanctions'"
    assert _query(settings.db, names) == [("Sanctions on Russia", 1)]


def test_failed_run_is_recorded(tmp_path: Path) -> None:
    corpus = tmp_path / "in"
    corpus.mkdir()
    shutil.copy(SEEDS / SEED_A, corpus / SEED_A)
    settings = _settings(tmp_path, corpus)
    settings.alerts_dir.parent.mkdir(parents=True, exist_ok=True)
    settings.alerts_dir.write_text("not a folder")  # the alert stage cannot write here
    with pytest.raises(OutputError, match="cannot make the alerts folder"):
        monitor(settings)
    rows = _query(settings.db, "SELECT status, error FROM v_runs")
    assert rows[0][0] == "failed" and "alerts folder" in rows[0][1]
    # the stored batch survived the failed alert stage and is alerted by the next good run
    settings.alerts_dir.unlink()
    again = monitor(settings)
    assert again.documents_new == 0 and sorted(again.alerts) == [
        "central-asia-diplomacy",
        "covid-origins",
        "russia-sanctions",
    ]


def test_a_run_whose_checkpoint_fails_says_so_and_fails(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """The run's work is committed (in the write-ahead log), but the checkpoint failed (a file
    size limit), so no snapshot is published and readers see the previous run: one line and a
    failed run, not "completed" and exit 0."""
    from storage.database import Database
    from storage.snapshot import snapshot_path

    corpus = tmp_path / "in"
    corpus.mkdir()
    shutil.copy(SEEDS / SEED_A, corpus / SEED_A)
    settings = _settings(tmp_path, corpus)

    def fail(_self: Database) -> None:
        raise duckdb.IOException('IO Error: Could not write file "news.duckdb": File too large')

    monkeypatch.setattr(Database, "_checkpoint", fail)
    # closing cannot checkpoint either under the limit: the write-ahead log stays, nothing is published
    monkeypatch.setattr("storage.database.publish_snapshot", lambda _path: None)
    with pytest.raises(StorageError) as info:
        monitor(settings)
    message = str(info.value)
    assert message.startswith(f"the database {settings.db} was written, but its checkpoint failed (IO Error")
    assert "readers still see the previous run's snapshot: a file size limit (ulimit -f)" in message
    assert "\n" not in message and not snapshot_path(settings.db).exists()
    monkeypatch.undo()
    assert _query(settings.db, "SELECT count(*) FROM documents") == [(1,)]  # committed all the same
    assert monitor(settings).documents_new == 0 and snapshot_path(settings.db).exists()  # the next run publishes


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


SINCE = datetime(2000, 1, 1, tzinfo=UTC)


def _dump(db: Path) -> dict[str, list[tuple]]:
    """Every row of every table but the run records, run ids and times included."""
    con = duckdb.connect(str(db), read_only=True)
    try:
        tables = [
            r[0]
            for r in con.execute(
                "SELECT table_name FROM duckdb_tables() WHERE NOT internal AND table_name NOT IN ('runs', 'run_stages')"
            ).fetchall()
        ]
        return {t: sorted(con.execute(f"SELECT * FROM {t}").fetchall(), key=repr) for t in tables}  # noqa: S608
    finally:
        con.close()


def _content(db: Path) -> dict[str, list[tuple]]:
    """Texts, stories and tags, without run ids and times."""
    return {
        "documents": sorted(
            _query(db, "SELECT id, title, body, text_hash, extractor, boilerplate_lines FROM documents")
        ),
        "stories": sorted(_query(db, "SELECT document_id, story_id, method, similarity FROM story_members")),
        "story_rows": sorted(_query(db, "SELECT id, canonical_document_id, kind FROM stories")),
        "tags": sorted(_query(db, "SELECT document_id, topic, topic_version, evidence, clause FROM document_topics")),
        "index": sorted(_query(db, "SELECT story_id, day, kind, exact_key, headline_key FROM story_index")),
        "bands": _query(db, "SELECT count(*), count(DISTINCT story_key) FROM lsh_bands"),
    }


def test_backfill_rereads_files_retags_and_a_second_one_changes_nothing(tmp_path: Path) -> None:
    settings = _settings(tmp_path, _corpus(tmp_path / "in"))
    monitor(settings)
    original = _content(settings.db)
    untouched = _dump(settings.db)
    same = monitor(settings, since=SINCE)  # nothing changed since: the backfill changes no row
    assert same.backfill is not None and (same.backfill.documents, same.backfill.changed) == (4, 0)
    assert same.backfill.reread == 4 and same.documents_new == 0 and same.alerts == []
    assert _dump(settings.db) == untouched

    # A database written by an earlier extractor: boilerplate left in a body, so a topic missed it.
    con = duckdb.connect(str(settings.db))
    try:
        (doc_id,) = con.execute("SELECT id FROM documents WHERE url LIKE ?", [f"%/{SEED_A}"]).fetchone()
        con.execute(
            "UPDATE documents SET body = 'Spread the love\nLeave a Reply', text_hash = 'old', extractor = 'old/0'"
            " WHERE id = ?",
            [doc_id],
        )
        con.execute("DELETE FROM document_topics WHERE document_id = ? AND topic = 'covid-origins'", [doc_id])
    finally:
        con.close()
    fixed = monitor(settings, since=SINCE)
    assert fixed.backfill is not None
    counts = fixed.backfill
    assert (counts.documents, counts.reread, counts.new_text, counts.moved) == (4, 4, 1, 0)
    assert (counts.tags_added, counts.tags_removed, counts.changed) == (1, 0, 1)
    assert fixed.alerts == []  # re-tags of old documents are not news
    assert _content(settings.db) == original  # read again from its file, tagged again
    alerted = _query(
        settings.db, "SELECT alert_id FROM document_topics WHERE document_id = ? AND topic = 'covid-origins'", doc_id
    )
    assert alerted == [("backfill",)]

    after_fix = _dump(settings.db)
    again = monitor(settings, since=SINCE)
    assert again.backfill is not None and again.backfill.changed == 0
    assert _dump(settings.db) == after_fix
    runs = _query(
        settings.db,
        "SELECT documents_backfilled, documents_backfill_changed, input LIKE '%backfill since 2000-01-01%'"
        " FROM v_runs ORDER BY started_at",
    )
    assert runs == [(0, 0, False), (4, 0, True), (4, 1, True), (4, 0, True)]


_VOCAB = (
    "the minister said that talks on trade energy water and security would continue next month in Astana"
    " with partners from the region while officials reviewed budgets pipelines railways and customs rules"
)


def _article(words: int, seed: int) -> str:
    import random

    rng = random.Random(seed)
    vocab = _VOCAB.split()
    return " ".join(rng.choice(vocab) + ("." if rng.random() < 0.08 else "") for _ in range(words))


@pytest.mark.parametrize("batch_size", [1, 500])
def test_backfill_never_pulls_a_document_into_a_later_story(tmp_path: Path, batch_size: int) -> None:
    """A short report A, then a long piece X that opens with all of A: X is too long to be a copy
    of A, so it starts its own story. Read the other way, A is a truncated copy of X; a backfill
    must not move A (the earlier story's canonical) into X's story, which did not exist yet."""
    corpus = tmp_path / "in"
    corpus.mkdir()
    lede = "Kazakhstan's President Tokayev met Uzbek counterpart Mirziyoyev in Tashkent on Tuesday. "
    short = lede + _article(120, 1)
    long = short + " " + " ".join(f"Section {k}: " + _article(100, 10 + k) for k in range(6))
    (corpus / "a-report.txt").write_text("Tokayev meets Mirziyoyev in Tashkent\n\n" + short, encoding="utf-8")
    (corpus / "b-feature.txt").write_text("Central Asia leaders hold a long summit\n\n" + long, encoding="utf-8")
    settings = _settings(tmp_path, corpus).model_copy(update={"batch_size": batch_size})
    monitor(settings)
    stories_sql = "SELECT regexp_extract(url, '[^/]+$'), story_id, is_canonical FROM v_documents ORDER BY 1"
    before = _query(settings.db, stories_sql)
    assert len({story for _, story, _ in before}) == 2 and all(canonical for *_, canonical in before)
    result = monitor(settings, since=SINCE)
    assert result.backfill is not None and result.backfill.moved == 0
    assert _query(settings.db, stories_sql) == before


class _Lines(logging.Handler):
    def __init__(self) -> None:
        super().__init__()
        self.lines: list[str] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.lines.append(record.getMessage())


@pytest.fixture
def run_log() -> Iterator[list[str]]:
    """The messages of the flow and task run loggers (what the terminal and Prefect's UI show)."""
    handler = _Lines()
    loggers = [logging.getLogger(name) for name in ("prefect.flow_runs", "prefect.task_runs")]
    for logger in loggers:
        logger.addHandler(handler)
    yield handler.lines
    for logger in loggers:
        logger.removeHandler(handler)


def test_long_stages_log_progress_and_one_summary_line(tmp_path: Path, run_log: list[str]) -> None:
    topics = tmp_path / "topics.toml"
    shutil.copy(default_topics_path(), topics)
    settings = _settings(tmp_path, _corpus(tmp_path / "in"), topics).model_copy(update={"batch_size": 1})
    monitor(settings)
    progress = [ln for ln in run_log if ln.startswith("dedupe/tag/store [")]
    assert progress and progress[-1].startswith("dedupe/tag/store [####################] 4/4 documents (100%), ")
    assert re.search(r"\d+ documents/s$", progress[-1])
    assert sum(ln.startswith("store: 4 new documents; ") for ln in run_log) == 1

    run_log.clear()
    topics.write_text(
        topics.read_text(encoding="utf-8")
        + '\n[topics.tashkent]\nname = "Tashkent"\ndescription = "Anything about Tashkent."\nquery = "tashkent"\n',
        encoding="utf-8",
    )
    monitor(settings, since=SINCE)
    assert any(re.fullmatch(r"backfill \[#+\] 4/4 documents \(100%\), \d+ documents/s", ln) for ln in run_log), run_log
    assert sum(ln.startswith("backfill: 4 documents since 2000-01-01") for ln in run_log) == 1
    # the new topic: the backfill tagged the 4 documents it re-processed; the re-tag has none left
    # and reads nothing (no progress line)
    assert not any(ln.startswith("retag: 4/4 documents") for ln in run_log), run_log
    assert sum(ln.startswith("retag: 1 topic version(s) new (tashkent)") for ln in run_log) == 1


def test_prefect_yaml_deployment_loads_and_never_queues_runs() -> None:
    """The deployment's entrypoint imports the monitor flow, its parameters are settings, and a run
    that comes due while one is going is cancelled (one at a time, CANCEL_NEW)."""
    import yaml
    from prefect.cli.deploy._models import ConcurrencyLimitSpec, PrefectYamlModel
    from prefect.client.schemas.objects import ConcurrencyLimitStrategy
    from prefect.flows import load_flow_from_entrypoint

    repo = Path(__file__).resolve().parents[1]
    config = PrefectYamlModel.model_validate(yaml.safe_load((repo / "prefect.yaml").read_text(encoding="utf-8")))
    (deployment,) = config.deployments
    assert deployment.entrypoint == "flows.monitor:monitor"  # the installed package: no source folder needed
    loaded = load_flow_from_entrypoint(deployment.entrypoint)
    assert loaded.name == monitor.name == "monitor"
    limit = deployment.concurrency_limit
    assert isinstance(limit, ConcurrencyLimitSpec) and limit.limit == 1
    assert ConcurrencyLimitStrategy(limit.collision_strategy) is ConcurrencyLimitStrategy.CANCEL_NEW
    settings = deployment.parameters["settings"]
    assert "feeds" not in settings  # ./feeds.toml when there is one: a home without feeds polls none
    assert set(settings) <= set(Settings.model_fields)
    Settings(**settings)  # valid settings as they are


def test_batches_are_bounded_by_count_and_by_text() -> None:
    from newsmon.models import Document
    from newsmon.pipeline import batched

    def doc(n: int, size: int) -> Document:
        return Document(
            f"d{n}", f"file:///{n}", "s", "file", "t", "x" * size, None, None, None, NOW, "c", "h", "e", None
        )

    NOW = datetime(2023, 5, 1, tzinfo=UTC)
    small = [doc(n, 10) for n in range(7)]
    assert [len(b) for b in batched(small, 3, 10_000)] == [3, 3, 1]
    big = [doc(n, 400) for n in range(5)]  # 401 characters each with the title
    assert [len(b) for b in batched(big, 100, 1000)] == [2, 2, 1]
    assert [len(b) for b in batched([doc(0, 5000)], 3, 1000)] == [1]  # a huge one still goes alone
    assert batched([], 3, 1000) == []


def test_a_moved_or_copied_seeds_folder_is_not_stored_again(tmp_path: Path) -> None:
    """Files are keyed by their path: a seeds folder moved (or copied) elsewhere holds the same
    documents, not new ones that would flood the trends and alerts; a file copied under another
    name inside the folder is a document of its own."""
    from newsmon.pipeline import RunContext, RunSummary, run_once
    from newsmon.topics import load_topics
    from storage.store import Store

    first = tmp_path / "a" / "seeds"
    shutil.copytree(SEEDS, first)
    db = tmp_path / "news.duckdb"
    topics = load_topics(default_topics_path())
    now = datetime(2023, 3, 1, 12, tzinfo=UTC)

    def run(folder: Path, run_id: str, hours: int) -> RunSummary:
        settings = Settings(db=db, seeds=folder, alerts_dir=tmp_path / "alerts", extract_workers=1)
        store = Store.open_writer(db)
        try:
            return run_once(RunContext(settings, store, topics, now + timedelta(hours=hours), run_id))
        finally:
            store.close()

    assert run(first, "run-1", 0).documents_new == 2
    moved = tmp_path / "b" / "seeds"
    moved.parent.mkdir()
    first.rename(moved)
    again = run(moved, "run-2", 1)
    assert (again.documents_new, again.documents_unchanged, again.alerts) == (0, 2, [])
    copied = tmp_path / "c" / "seeds"
    shutil.copytree(moved, copied)
    name = sorted(p.name for p in copied.iterdir())[0]
    shutil.copy(copied / name, copied / f"copy-{name}")
    third = run(copied, "run-3", 2)
    assert (third.documents_new, third.documents_unchanged) == (1, 2)
    assert _query(db, "SELECT count(*) FROM documents") == [(3,)]
