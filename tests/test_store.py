"""The DuckDB store: migrations, views, idempotent batches, read-only access, locks."""

from __future__ import annotations

import multiprocessing
from dataclasses import replace
from pathlib import Path

import duckdb
import pytest
from support import NOW, SEEDS, store_seeds

import storage.batches
from newsmon.alerts import AlertRecord
from newsmon.config import default_topics_path
from newsmon.dedupe import assign_stories, fingerprint_documents
from newsmon.documents import read_documents
from newsmon.errors import DatabaseLockedError, DatabaseMissingError, QueryError
from newsmon.models import Tag
from newsmon.steps import Deduped, store_batch
from newsmon.topics import load_topics
from storage.store import Store, open_reader, run_query, write_failure_advice

PUBLIC_VIEWS = {"v_documents", "v_document_topics", "v_stories", "v_topic_daily", "v_runs", "v_alerts"}
PROVENANCE = {"story_index", "feed_silences"}


def _counts(con: duckdb.DuckDBPyConnection) -> dict[str, int]:
    tables = ["documents", "story_members", "stories", "document_topics", "lsh_bands", "document_signatures"]
    return {t: con.execute(f"SELECT count(*) FROM {t}").fetchall()[0][0] for t in tables}  # noqa: S608


def test_migrate_records_versions_and_creates_views(tmp_path: Path) -> None:
    store = Store.open_writer(tmp_path / "db.duckdb")
    try:
        versions = [v for (v,) in store.con.execute("SELECT version FROM schema_migrations ORDER BY 1").fetchall()]
        files = sorted((Path(__file__).resolve().parents[1] / "storage" / "schema").glob("[0-9][0-9][0-9][0-9]_*.sql"))
        assert versions == [int(f.name[:4]) for f in files] and versions[0] == 1
        assert store.migrate() == []  # forward-only: nothing to apply twice
        views = {r[0] for r in store.con.execute("SELECT view_name FROM duckdb_views() WHERE NOT internal").fetchall()}
        assert views >= PUBLIC_VIEWS
        with_run_id = {
            r[0]
            for r in store.con.execute(
                "SELECT table_name FROM duckdb_columns() WHERE column_name = 'run_id'"
            ).fetchall()
        }
        assert with_run_id >= PROVENANCE
    finally:
        store.close()


def test_store_batch_is_idempotent(tmp_path: Path) -> None:
    path = tmp_path / "db.duckdb"
    store = Store.open_writer(path)
    try:
        assert store_seeds(store, "run-1") == 2
        first = _counts(store.con)
        assert store_seeds(store, "run-2") == 0
        assert _counts(store.con) == first
        assert first["documents"] == 2 and first["stories"] == 2 and first["document_topics"] == 5
    finally:
        store.close()


def _dump(con: duckdb.DuckDBPyConnection) -> dict[str, list[tuple[object, ...]]]:
    """Every row of every table but the run records, run ids and times included."""
    tables = [
        r[0]
        for r in con.execute(
            "SELECT table_name FROM duckdb_tables() WHERE NOT internal AND table_name NOT IN ('runs', 'run_stages')"
        ).fetchall()
    ]
    return {t: sorted(con.execute(f"SELECT * FROM {t}").fetchall(), key=repr) for t in tables}  # noqa: S608


def test_storing_the_same_batch_again_rewrites_no_row(tmp_path: Path) -> None:
    store = Store.open_writer(tmp_path / "db.duckdb")
    try:
        store_seeds(store, "run-1")
        before = _dump(store.con)
        store_seeds(store, "run-2")  # the same documents, stories and tags: nothing to write
        after = _dump(store.con)
        assert after == before
        members = store.con.execute("SELECT DISTINCT run_id FROM story_members").fetchall()
        assert members == [("run-1",)]
    finally:
        store.close()


def test_index_rows_and_feed_silences_record_their_run(tmp_path: Path) -> None:
    store = Store.open_writer(tmp_path / "db.duckdb")
    try:
        store_seeds(store, "run-1")
        index_runs = store.con.execute("SELECT run_id, count(*) FROM story_index GROUP BY 1").fetchall()
        assert index_runs == [("run-1", 2)]
        record = AlertRecord(
            "alert-9", "run-9", "sources:silent", "sources", NOW, NOW.date(), 0, 0, 0, False, {}, "", ""
        )
        store.alerts.store([record], [], [("https://feed.example/rss", 5, "alert-9")], [], NOW)
        silences = store.con.execute("SELECT feed_url, alert_id, run_id FROM feed_silences").fetchall()
        assert silences == [("https://feed.example/rss", "alert-9", "run-9")]
    finally:
        store.close()


def test_stale_topics_are_those_not_current(tmp_path: Path) -> None:
    topics = load_topics(default_topics_path())
    first = topics[0]
    changed = [replace(first, version="v-changed"), *topics[1:]]
    store = Store.open_writer(tmp_path / "db.duckdb")
    try:
        assert store.topics.stale(topics) == topics  # nothing registered yet
        store.topics.register(topics, "run-1", NOW)
        assert store.topics.stale(topics) == []
        assert store.topics.stale(changed) == [changed[0]]
        store.topics.register(changed, "run-2", NOW)
        # back to the first definition: known, but not current, so stored documents need it again
        assert store.topics.stale(topics) == [first]
    finally:
        store.close()


def test_a_definition_brought_back_does_not_make_history_news_again(tmp_path: Path) -> None:
    """Tags of version A left waiting when B replaced it: when A is back, the document whose B
    tag was alerted is history; the one B never tagged (never told) still waits."""
    topics = load_topics(default_topics_path())
    sanctions = next(t for t in topics if t.slug == "russia-sanctions")
    other = replace(sanctions, version="v-b")
    store = Store.open_writer(tmp_path / "db.duckdb")
    try:
        store_seeds(store, "run-1")  # both seeds tagged russia-sanctions by A, waiting for an alert
        a_tags = [
            Tag(doc, topic, version, score, evidence, clause)
            for doc, topic, version, score, evidence, clause in store.con.execute(
                "SELECT document_id, topic, topic_version, score, evidence, clause FROM document_topics"
                " WHERE topic = 'russia-sanctions' AND alert_id IS NULL ORDER BY document_id"
            ).fetchall()
        ]
        assert len(a_tags) == 2
        told, untold = a_tags
        store.topics.store_retags([replace(told, topic_version="v-b")], "run-2", NOW)  # B tags one of them
        store.topics.register([other], "run-2", NOW, replace_all=False)
        store.con.execute("UPDATE document_topics SET alert_id = 'alert-1' WHERE topic_version = 'v-b'")
        store.topics.store_retags(a_tags, "run-3", NOW)  # A is back: the re-tag before it is current
        marks = dict(
            store.con.execute(
                "SELECT document_id, alert_id FROM document_topics WHERE topic_version = ?", [sanctions.version]
            ).fetchall()
        )
        assert marks == {told.document_id: "backfill", untold.document_id: None}
    finally:
        store.close()


def test_tags_of_the_versions_in_force_follow_the_text(tmp_path: Path) -> None:
    """With tagged_versions, a batch's tags of those versions become exactly the new ones: a tag
    the text no longer earns goes, one whose evidence changed is updated (keeping its alert)."""
    store = Store.open_writer(tmp_path / "db.duckdb")
    try:
        store_seeds(store, "run-1")
        docs = read_documents(SEEDS, NOW).documents
        fps = fingerprint_documents(docs)
        assignments = assign_stories(fps, {}, {}, {})
        rows = store.con.execute(
            "SELECT document_id, topic, topic_version, score, evidence, clause FROM document_topics ORDER BY ALL"
        ).fetchall()
        tags = [Tag(*row) for row in rows]
        keep, drop = tags[0], tags[1]
        edited = Tag(keep.document_id, keep.topic, keep.topic_version, keep.score, "other evidence", keep.clause)
        versions = sorted({(t.topic, t.topic_version) for t in tags})
        store_batch(
            store, "run-2", NOW, docs, Deduped.of(fps, assignments), [edited, *tags[2:]], tagged_versions=versions
        )
        after = {(r[0], r[1]): r[2] for r in store.con.execute(
            "SELECT document_id, topic, evidence FROM document_topics"
        ).fetchall()}  # fmt: skip
        assert after[(keep.document_id, keep.topic)] == "other evidence"
        assert (drop.document_id, drop.topic) not in after
        assert len(after) == len(tags) - 1
    finally:
        store.close()


def test_write_failure_advice_names_the_cause() -> None:
    assert "disk is full" in write_failure_advice("IO Error: Could not write file: No space left on device")
    assert "file size limit" in write_failure_advice('IO Error: Could not write file "x": File too large')
    assert "committed data is intact" in write_failure_advice("IO Error: something else")


def test_failed_batch_leaves_nothing(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    store = Store.open_writer(tmp_path / "db.duckdb")
    try:
        docs = read_documents(SEEDS, NOW).documents
        fps = fingerprint_documents(docs)
        assignments = assign_stories(fps, {}, {}, {})

        def fail(*_args: object, **_kwargs: object) -> None:
            raise OSError("disk full")

        monkeypatch.setattr(storage.batches, "write_tags", fail)  # fails after documents were inserted
        with pytest.raises(OSError, match="disk full"):
            store_batch(store, "run-x", NOW, docs, Deduped.of(fps, assignments), [])
        assert all(v == 0 for v in _counts(store.con).values())
    finally:
        store.close()


def test_reader_is_read_only_without_external_access(tmp_path: Path) -> None:
    path = tmp_path / "db.duckdb"
    store = Store.open_writer(path)
    store_seeds(store, "run-1")
    store.close()
    con = open_reader(path)
    try:
        columns, rows = run_query(con, "SELECT count(*) AS n FROM v_documents")
        assert columns == ["n"] and rows == [(2,)]
        with pytest.raises(QueryError):
            run_query(con, "DELETE FROM documents")
        target = tmp_path / "leak.csv"
        with pytest.raises(QueryError):
            run_query(con, f"COPY (SELECT 1) TO '{target}'")
        assert not target.exists()
        with pytest.raises(QueryError, match="query failed"):
            run_query(con, "SELEC nonsense")
    finally:
        con.close()


def test_missing_database_is_a_clear_error(tmp_path: Path) -> None:
    with pytest.raises(DatabaseMissingError, match="newsmon run"):
        open_reader(tmp_path / "absent.duckdb")


def _hold_writer(path: str, ready: multiprocessing.synchronize.Event, done: multiprocessing.synchronize.Event) -> None:
    store = Store.open_writer(Path(path))
    ready.set()
    done.wait(30)
    store.close()


@pytest.mark.slow
def test_second_writer_waits_then_fails_clearly(tmp_path: Path) -> None:
    path = tmp_path / "db.duckdb"
    ctx = multiprocessing.get_context("spawn")
    ready, done = ctx.Event(), ctx.Event()
    holder = ctx.Process(target=_hold_writer, args=(str(path), ready, done))
    holder.start()
    try:
        assert ready.wait(60)
        with pytest.raises(DatabaseLockedError, match=r"another newsmon run \(PID \d+\)"):
            Store.open_writer(path, lock_timeout_s=0.5)
        reader = open_reader(path)  # the snapshot: readers never wait for the writer
        reader.close()
        with pytest.raises(DatabaseLockedError, match="in use by process"):
            open_reader(path, live=True)
    finally:
        done.set()
        holder.join(30)
    store = Store.open_writer(path, lock_timeout_s=5)  # released once the holder exits
    store.close()


def test_views_take_their_windows_from_the_python_parameters() -> None:
    """One source for each window and threshold: the views are rendered from SpikeParams and
    SilenceParams, so a digest and a view cannot disagree."""
    from importlib import resources

    from newsmon.models import SilenceParams, SpikeParams
    from storage.database import render_view, view_parameters

    params = view_parameters()
    assert params["spike_window_start"] == SpikeParams().window_days + SpikeParams().guard_days
    assert params["silence_min_history_days"] == SilenceParams().min_history_days
    for name in ("090_v_topic_trend.sql", "110_v_source_cadence.sql"):
        sql = (resources.files("storage") / "views" / name).read_text(encoding="utf-8")
        body = sql.split("CREATE OR REPLACE VIEW", 1)[1]
        assert "{{" in body
        assert "{{" not in render_view(body, params)
    trend = render_view(
        (resources.files("storage") / "views" / "090_v_topic_trend.sql").read_text(encoding="utf-8"),
        {**params, "spike_window_start": 99},
    )
    assert "ROWS BETWEEN 99 PRECEDING" in trend


def test_a_signal_that_stops_a_query_is_a_stop_not_an_error(tmp_path: Path) -> None:
    """DuckDB turns a signal whose handler raises during a query into its own RuntimeError,
    the signal's exception lost: the storage layer raises it as Interrupted (a stop)."""
    import os
    import signal
    import threading

    from newsmon.errors import Interrupted
    from storage.database import execute

    class Stop(BaseException):
        pass

    def handler(_signum: int, _frame: object) -> None:
        raise Stop

    previous = signal.signal(signal.SIGUSR1, handler)
    con = duckdb.connect()
    timer = threading.Timer(0.3, os.kill, (os.getpid(), signal.SIGUSR1))
    timer.start()
    try:
        with pytest.raises(Interrupted, match="stopped by a signal during a database query"):
            execute(con, "SELECT count(*) FROM range(20000000000) r(i) WHERE i % 7 = 3")
    finally:
        timer.cancel()
        signal.signal(signal.SIGUSR1, previous)
        con.close()
