"""The write of one processed batch: documents, signatures, the reprint index, story membership,
tags and feed items, in one short transaction (a killed run leaves a whole batch or none)."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime

import duckdb
import pyarrow as pa

from newsmon.faults import fault_point
from newsmon.models import Batch, StoryAssignment
from storage.database import Database, execute, load_sql, string_table
from storage.documents import documents_table
from storage.feeds import write_feed_items
from storage.stories import index_tables
from storage.topics import drop_stale_tags, write_tags


class BatchWriter:
    """Stores processed batches idempotently."""

    def __init__(self, db: Database, scheme: str) -> None:
        self.db = db
        self.scheme = scheme

    def store(self, batch: Batch, run_id: str, now: datetime) -> int:
        """Store one batch atomically; returns how many documents were new.

        Idempotent: rows are keyed by natural keys and rewritten only where a value differs, so a
        document processed again with the same text, story and tags changes no row (and keeps
        its run ids). A story left with no member (its documents moved to other stories) is
        removed. In a batch of news, the tags a document whose text changed newly has wait for
        an alert, as a new document's do.
        """
        db = self.db
        signed = [k for k in batch.keys if k.kind == "full" and k.signature is not None]
        signatures = pa.table(
            {
                "document_id": pa.array([k.document_id for k in signed], pa.string()),
                "minhash": pa.array([k.signature for k in signed], pa.binary()),
            }
        )
        unsigned = pa.table(
            {"document_id": pa.array([k.document_id for k in batch.keys if k.kind != "full"], pa.string())}
        )
        index_tbl, bands_tbl = index_tables(batch.new_stories, run_id)
        with (
            db.registered("staged_documents", documents_table(batch.documents, run_id, now)),
            db.registered("staged_signatures", signatures),
            db.registered("staged_unsigned", unsigned),
            db.registered("staged_index", index_tbl),
            db.registered("staged_bands", bands_tbl),
            db.registered("staged_members", members_table(batch.assignments)),
            db.transaction() as con,
        ):
            rewritten = (
                set()
                if not batch.news
                else {  # stored documents whose text this batch changes
                    row[0]
                    for row in execute(
                        con,
                        "SELECT d.id FROM documents d JOIN staged_documents s USING (id)"
                        " WHERE d.text_hash <> s.text_hash",
                    )
                }
            )
            execute(con, load_sql("upsert_documents"))
            fault_point("mid-store")
            self._write_index(con, batch, run_id, bool(unsigned.num_rows))
            self._write_members(con, run_id, now)
            new_ids = {
                row[0]
                for row in execute(
                    con,
                    "SELECT id FROM documents WHERE run_id = ? AND id IN (SELECT id FROM staged_documents)",
                    [run_id],
                )
            }
            if batch.tagged_versions is not None:
                drop_stale_tags(db, con, batch.tags, batch.tagged_versions)
            write_tags(db, con, batch.tags, run_id, now, new_ids | rewritten)
            write_feed_items(db, con, batch.feed_items, run_id, now)
        return len(new_ids)

    def _write_index(self, con: duckdb.DuckDBPyConnection, batch: Batch, run_id: str, has_unsigned: bool) -> None:
        """Signatures and the reprint index. A stored canonical processed again is re-indexed when
        it starts its story afresh (unless its index rows would come out the same), and unindexed
        when it moved to another story."""
        unchanged = {row[0] for row in execute(con, load_sql("unchanged_index"), [self.scheme])}
        reindexed = [
            a.document_id
            for a in batch.assignments
            if (a.method == "new" or a.story_id != a.document_id) and a.document_id not in unchanged
        ]
        self._drop_index_rows(con, reindexed)
        if has_unsigned:  # a text that became a summary or a wall page keeps no signature
            execute(
                con, "DELETE FROM document_signatures WHERE document_id IN (SELECT document_id FROM staged_unsigned)"
            )
        execute(
            con,
            "INSERT INTO document_signatures (document_id, minhash, run_id, scheme)"
            " SELECT document_id, minhash, ?, ? FROM staged_signatures ON CONFLICT (document_id) DO UPDATE SET"
            " minhash = excluded.minhash, run_id = excluded.run_id, scheme = excluded.scheme"
            " WHERE document_signatures.minhash <> excluded.minhash"
            " OR document_signatures.scheme IS DISTINCT FROM excluded.scheme",
            [run_id, self.scheme],
        )
        with self.db.registered("staged_unchanged", string_table("story_id", list(unchanged))):
            execute(
                con,
                "INSERT INTO story_index BY NAME SELECT * FROM staged_index"
                " WHERE story_id NOT IN (SELECT story_id FROM staged_unchanged)",
            )
            execute(
                con,
                "INSERT INTO lsh_bands SELECT band_key, day, story_key FROM staged_bands WHERE story_key NOT IN"
                " (SELECT story_key FROM staged_index WHERE story_id IN (SELECT story_id FROM staged_unchanged))",
            )

    def _write_members(self, con: duckdb.DuckDBPyConnection, run_id: str, now: datetime) -> None:
        """New stories, story membership, and the removal of stories left empty."""
        execute(
            con,
            "INSERT INTO stories (id, canonical_document_id, first_seen_at, run_id, kind)"
            " SELECT story_id, document_id, ?, ?, kind FROM staged_members"
            " WHERE method = 'new' ON CONFLICT (id) DO UPDATE SET kind = excluded.kind"
            " WHERE stories.kind IS DISTINCT FROM excluded.kind",
            [now, run_id],
        )
        left = [
            row[0]
            for row in execute(
                con,
                "SELECT DISTINCT m.story_id FROM story_members m JOIN staged_members s USING (document_id)"
                " WHERE m.story_id <> s.story_id",
            )
        ]
        execute(con, load_sql("upsert_members"), [run_id, now])
        if left:
            with self.db.registered("staged_left", string_table("id", left)):
                execute(
                    con,
                    "DELETE FROM stories WHERE id IN (SELECT id FROM staged_left)"
                    " AND NOT EXISTS (SELECT 1 FROM story_members m WHERE m.story_id = stories.id)",
                )

    def _drop_index_rows(self, con: duckdb.DuckDBPyConnection, story_ids: Sequence[str]) -> None:
        """Remove the index rows of these stories (their canonical is being stored again)."""
        if not story_ids:
            return
        with self.db.registered("staged_reindexed", string_table("story_id", story_ids)):
            old = execute(
                con, "SELECT k.story_key, k.day FROM story_index k JOIN staged_reindexed s ON s.story_id = k.story_id"
            )
        if not old:
            return
        keys = pa.table({"story_key": pa.array([key for key, _ in old], pa.int64())})
        days = [day for _, day in old]
        with self.db.registered("staged_old_keys", keys):
            execute(
                con,
                "DELETE FROM lsh_bands WHERE day BETWEEN ? AND ?"
                " AND story_key IN (SELECT story_key FROM staged_old_keys)",
                [min(days), max(days)],
            )
            execute(con, "DELETE FROM story_index WHERE story_key IN (SELECT story_key FROM staged_old_keys)")


def members_table(assignments: Sequence[StoryAssignment]) -> pa.Table:
    """Story membership rows, with what differs from the canonical."""
    return pa.table(
        {
            "document_id": pa.array([a.document_id for a in assignments], pa.string()),
            "story_id": pa.array([a.story_id for a in assignments], pa.string()),
            "similarity": pa.array([a.similarity for a in assignments], pa.float64()),
            "method": pa.array([a.method for a in assignments], pa.string()),
            "containment": pa.array([a.containment for a in assignments], pa.float64()),
            "coverage": pa.array([a.coverage for a in assignments], pa.float64()),
            "differences": pa.array(
                [list(a.differences) if a.method != "new" else None for a in assignments], pa.list_(pa.string())
            ),
            "kind": pa.array([a.kind for a in assignments], pa.string()),
        }
    )
