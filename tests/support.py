"""Helpers shared by the tests (not a test module)."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

from newsmon.config import default_topics_path
from newsmon.dedupe import assign_stories, fingerprint_documents
from newsmon.documents import read_documents
from newsmon.topics import load_topics, tag_documents
from storage.store import Store

REPO = Path(__file__).resolve().parents[1]
SEEDS = REPO / "seeds"
NOW = datetime(2023, 3, 1, 12, 0, tzinfo=UTC)


def store_seeds(store: Store, run_id: str, folder: Path = SEEDS) -> int:
    """Store a folder's documents the way a run does, without Prefect; returns new documents."""
    docs = read_documents(folder, NOW).documents
    topics = load_topics(default_topics_path())
    store.register_topics(topics, run_id, NOW)
    store.start_run(run_id, NOW, str(folder))
    fps = fingerprint_documents(docs)
    assignments = assign_stories(fps, store.exact_story_matches([f.text_hash for f in fps]), {}, {})
    new = store.store_batch(run_id, NOW, docs, fps, assignments, tag_documents(docs, topics))
    store.finish_run(run_id, "completed", NOW)
    return new


def make_database(path: Path) -> Path:
    """A database holding the two seeds."""
    store = Store.open_writer(path)
    try:
        store_seeds(store, "run-1")
    finally:
        store.close()
    return path
