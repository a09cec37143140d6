"""The DuckDB store: migrations, views, idempotent batches, read-only access, locks."""

from __future__ import annotations

import multiprocessing
from pathlib import Path

import duckdb
import pytest
from support import NOW, SEEDS, store_seeds

from newsmon.dedupe import assign_stories, fingerprint_documents
from newsmon.documents import read_documents
from newsmon.errors import DatabaseLockedError, DatabaseMissingError, QueryError
from storage.store import Store, open_reader, run_query

PUBLIC_VIEWS = {"v_documents", "v_document_topics", "v_stories", "v_topic_daily", "v_runs", "v_alerts"}


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


def test_failed_batch_leaves_nothing(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    store = Store.open_writer(tmp_path / "db.duckdb")
    try:
        docs = read_documents(SEEDS, NOW).documents
        fps = fingerprint_documents(docs)
        assignments = assign_stories(fps, {}, {}, {})

        def fail(*_args: object, **_kwargs: object) -> None:
            raise OSError("disk full")

        monkeypatch.setattr(store, "_store_tags", fail)  # fails after documents were inserted
        with pytest.raises(OSError, match="disk full"):
            store.store_batch("run-x", NOW, docs, fps, assignments, [])
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
