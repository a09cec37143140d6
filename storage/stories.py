"""Stories and the reprint index (``stories``, ``story_members``, ``story_index``, ``lsh_bands``).

Storage keeps and looks up the keys that dedupe computes (:class:`~newsmon.models.DedupeKeys`);
it never fingerprints a text itself.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Collection, Sequence

import numpy as np
import pyarrow as pa

from newsmon.models import DedupeKeys, Document, IndexScheme, StoryKey
from storage.database import Database, execute, string_table
from storage.documents import SELECT_DOCUMENT


class StoryRepository:
    """Lookups of stories for dedupe, and the index of stories stored before the current scheme."""

    def __init__(self, db: Database, scheme: IndexScheme) -> None:
        self.db = db
        self.scheme = scheme
        self._backlog_empty = False

    def key_matches(
        self, keys: Sequence[DedupeKeys], exclude: Collection[str] = frozenset()
    ) -> tuple[dict[int, str], dict[str, list[str]]]:
        """Indexed stories within the join window of each new document: by exact key (exact key ->
        the latest such story, ties by story id) and by headline key (document id -> stories,
        latest first). Stories in ``exclude`` are left out (a backfill's stories that it has not
        replayed yet)."""
        indexed = [k for k in keys if k.kind != "boilerplate"]
        if not indexed:
            return {}, {}
        staged = pa.table(
            {
                "document_id": pa.array([k.document_id for k in indexed], pa.string()),
                "exact_key": pa.array([k.exact_key for k in indexed], pa.int64()),
                "headline_key": pa.array([k.headline_key for k in indexed], pa.int64()),
            }
        )
        window = self._day_window(indexed)
        with self.db.registered("staged_keys", staged):
            rows = self.db.execute(
                "SELECT s.document_id, k.story_id, k.day, true FROM staged_keys s"
                " JOIN story_index k ON k.exact_key = s.exact_key WHERE k.day BETWEEN ? AND ?"
                " UNION ALL SELECT s.document_id, k.story_id, k.day, false FROM staged_keys s"
                " JOIN story_index k ON k.headline_key = s.headline_key WHERE k.day BETWEEN ? AND ?"
                " ORDER BY 3 DESC, 2, 1, 4",
                [*window, *window],
            )
        key_of = {k.document_id: k.exact_key for k in indexed}
        exact: dict[int, str] = {}
        by_headline: dict[str, list[str]] = defaultdict(list)
        for doc_id, story_id, _day, is_exact in rows:
            if story_id == doc_id or story_id in exclude:
                continue  # a changed document finding its own story, or a story not replayed yet
            if is_exact:
                exact.setdefault(key_of[doc_id], story_id)
            elif story_id not in by_headline[doc_id]:
                by_headline[doc_id].append(story_id)
        return exact, dict(by_headline)

    def band_candidates(
        self, keys: Sequence[DedupeKeys], exclude: Collection[str] = frozenset()
    ) -> dict[str, dict[str, int]]:
        """For each new full document, the indexed stories within the join window whose canonical
        shares an LSH band with it and how many bands, most shared bands first, then by story id
        (at most the scheme's ``max_candidates``; stories in ``exclude`` left out)."""
        full = [k for k in keys if k.kind == "full" and k.band_keys is not None]
        if not full:
            return {}
        window = self._day_window(full)
        with self.db.registered("staged_bands", bands_table(full)):
            rows = self.db.execute(
                "SELECT s.document_id, k.story_id, count(*) AS hits FROM staged_bands s"
                " JOIN lsh_bands b ON b.band_key = s.band_key"
                " JOIN story_index k ON k.story_key = b.story_key"
                " WHERE b.day BETWEEN ? AND ? AND k.day BETWEEN ? AND ? AND abs(b.day - s.day) <= ?"
                " GROUP BY ALL ORDER BY 1, 3 DESC, 2",
                [*window, *window, self.scheme.window_days],
            )
        out: dict[str, dict[str, int]] = defaultdict(dict)
        for doc_id, story_id, hits in rows:
            if story_id != doc_id and story_id not in exclude and len(out[doc_id]) < self.scheme.max_candidates:
                out[doc_id][story_id] = hits
        return dict(out)

    def canonicals(self, story_ids: Sequence[str]) -> dict[str, Document]:
        """The canonical document of each of these stories."""
        if not story_ids:
            return {}
        with self.db.registered("staged_stories", string_table("id", story_ids)):
            pairs = self.db.execute(
                "SELECT t.id, s.canonical_document_id FROM staged_stories t JOIN stories s ON s.id = t.id"
            )
            documents = self.db.records(
                Document,
                f"SELECT {SELECT_DOCUMENT} FROM staged_stories t JOIN stories s ON s.id = t.id"  # noqa: S608
                " JOIN documents d ON d.id = s.canonical_document_id ORDER BY d.id",
            )
        by_id = {d.id: d for d in documents}
        return {story: by_id[doc] for story, doc in pairs if doc in by_id}

    def existing(self, ids: Sequence[str]) -> set[str]:
        """Which of these story ids are stored."""
        if not ids:
            return set()
        with self.db.registered("staged_story_ids", string_table("id", ids)):
            return {row[0] for row in self.db.execute("SELECT s.id FROM stories s JOIN staged_story_ids USING (id)")}

    def memberships(self, ids: Sequence[str]) -> dict[str, str]:
        """The story of each of these documents (those that have one)."""
        if not ids:
            return {}
        with self.db.registered("staged_doc_ids", string_table("id", ids)):
            rows = self.db.execute(
                "SELECT m.document_id, m.story_id FROM story_members m JOIN staged_doc_ids s ON s.id = m.document_id",
            )
        return dict(rows)

    # -- stories stored before the current fingerprint scheme (queued by migration 0004) ------
    def index_backlog(self, limit: int) -> list[tuple[str, Document | None]]:
        """Up to ``limit`` queued stories with their canonical document (None if it is gone),
        in story id order; empty once the queue is (cheap to ask again then)."""
        if self._backlog_empty:
            return []
        queued = [row[0] for row in self.db.execute(
            "SELECT story_id FROM story_index_backlog ORDER BY story_id LIMIT ?", [limit]
        )]  # fmt: skip
        if not queued:
            self._backlog_empty = True
            return []
        canonicals = self.canonicals(queued)
        return [(story_id, canonicals.get(story_id)) for story_id in queued]

    def backlog_size(self) -> int:
        """How many stored stories wait to be indexed for the current fingerprint scheme."""
        if self._backlog_empty:
            return 0
        return int(self.db.execute("SELECT count(*) FROM story_index_backlog")[0][0])

    def index_backlog_stories(self, entries: Sequence[StoryKey], queued: Sequence[str], run_id: str | None) -> None:
        """Index these queued stories (``entries``) and take every story in ``queued`` off the queue."""
        index_tbl, bands_tbl = index_tables(entries, run_id)
        with (
            self.db.registered("staged_index", index_tbl),
            self.db.registered("staged_bands", bands_tbl),
            self.db.registered("staged_backlog", string_table("story_id", queued)),
            self.db.transaction() as con,
        ):
            execute(con, "INSERT INTO story_index BY NAME SELECT * FROM staged_index")
            execute(con, "INSERT INTO lsh_bands SELECT band_key, day, story_key FROM staged_bands")
            execute(con, "DELETE FROM story_index_backlog WHERE story_id IN (SELECT story_id FROM staged_backlog)")

    def _day_window(self, keys: Sequence[DedupeKeys]) -> tuple[int, int]:
        """The days an index row may have to be within the join window of any of these documents."""
        days = [k.day for k in keys]
        return min(days) - self.scheme.window_days, max(days) + self.scheme.window_days


def bands_table(keys: Sequence[DedupeKeys]) -> pa.Table:
    """The band keys of each full document, with its id and day (for lookups)."""
    counts = [len(k.band_keys) if k.band_keys is not None else 0 for k in keys]
    hashes = [k.band_keys for k in keys if k.band_keys is not None]
    return pa.table(
        {
            "document_id": pa.array(np.repeat([k.document_id for k in keys], counts).tolist(), pa.string()),
            "band_key": pa.array(np.concatenate(hashes) if hashes else np.zeros(0, np.int64), pa.int64()),
            "day": pa.array(np.repeat([k.day for k in keys], counts).astype(np.int32), pa.int32()),
        }
    )


def index_tables(entries: Sequence[StoryKey], run_id: str | None) -> tuple[pa.Table, pa.Table]:
    """Index rows of new story canonicals: one ``story_index`` row each (with the run that indexes
    it), and band rows for full texts."""
    keep = [e for e in entries if e.keys.kind != "boilerplate"]
    index = pa.table(
        {
            "story_id": pa.array([e.story_id for e in keep], pa.string()),
            "story_key": pa.array([e.story_key for e in keep], pa.int64()),
            "day": pa.array([e.keys.day for e in keep], pa.int32()),
            "kind": pa.array([e.keys.kind for e in keep], pa.string()),
            "exact_key": pa.array([e.keys.exact_key for e in keep], pa.int64()),
            "headline_key": pa.array([e.keys.headline_key for e in keep], pa.int64()),
            "run_id": pa.array([run_id] * len(keep), pa.string()),
        }
    )
    full = [e for e in keep if e.keys.kind == "full" and e.keys.band_keys is not None]
    bands = bands_table([e.keys for e in full])
    counts = [len(e.keys.band_keys) for e in full if e.keys.band_keys is not None]
    story_keys = np.repeat(np.array([e.story_key for e in full], dtype=np.int64), counts)
    return index, bands.append_column("story_key", pa.array(story_keys, pa.int64()))
