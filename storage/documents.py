"""Documents (``documents``): what was ingested, with its provenance."""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from datetime import datetime

import pyarrow as pa

from newsmon.models import BackfillItem, Document
from storage.database import Database, load_sql, string_table

DOCUMENT_COLUMNS: tuple[str, ...] = (
    "id", "url", "source", "source_kind", "title", "body", "author", "origin", "published_at",
    "first_seen_at", "content_hash", "text_hash", "extractor", "charset", "boilerplate_lines",
    "extraction", "page_kind", "language", "canonical_url", "detected_language",
)  # fmt: skip
SELECT_DOCUMENT = ", ".join(f"d.{c}" for c in DOCUMENT_COLUMNS)
_TS = pa.timestamp("us", tz="UTC")
_TYPES: dict[str, pa.DataType] = {"published_at": _TS, "first_seen_at": _TS, "boilerplate_lines": pa.int32()}


class DocumentRepository:
    """Reads of stored documents (their writes are part of a batch: see ``storage.batches``)."""

    def __init__(self, db: Database) -> None:
        self.db = db

    def count(self) -> int:
        """How many documents are stored."""
        return int(self.db.execute("SELECT count(*) FROM documents")[0][0])

    def iter_all(self, batch_size: int) -> Iterator[list[Document]]:
        """Every stored document in batches, in id order (keyset pagination)."""
        last_id = ""
        while True:
            batch = self.db.records(
                Document, f"SELECT {SELECT_DOCUMENT} FROM documents d WHERE d.id > ? ORDER BY d.id LIMIT ?",  # noqa: S608
                [last_id, batch_size],
            )  # fmt: skip
            if not batch:
                return
            last_id = batch[-1].id
            yield batch

    def by_id(self, ids: Sequence[str]) -> dict[str, Document]:
        """The stored documents with these ids."""
        if not ids:
            return {}
        with self.db.registered("staged_doc_ids", string_table("id", ids)):
            found = self.db.records(
                Document,
                f"SELECT {SELECT_DOCUMENT} FROM documents d JOIN staged_doc_ids USING (id) ORDER BY d.id",  # noqa: S608
            )
        return {d.id: d for d in found}

    def stored_after(self, run_seq: int) -> set[str]:
        """The documents first stored by a run recorded after run number ``run_seq`` (``runs.seq``)."""
        rows = self.db.execute("SELECT d.id FROM documents d JOIN runs r ON r.id = d.run_id WHERE r.seq > ?", [run_seq])
        return {row[0] for row in rows}

    def existing(self, ids: Sequence[str]) -> set[str]:
        """Which of these document ids are stored."""
        if not ids:
            return set()
        with self.db.registered("staged_doc_ids", string_table("id", ids)):
            return {row[0] for row in self.db.execute("SELECT d.id FROM documents d JOIN staged_doc_ids s USING (id)")}

    def stored_state(self, ids: Sequence[str]) -> dict[str, tuple[str | None, datetime]]:
        """Of the given documents already stored: their content hash if they are clustered (else
        None: a crash came between storing and clustering) and when they were first seen (a new
        text does not change it)."""
        if not ids:
            return {}
        with self.db.registered("staged_ids", string_table("id", ids)):
            rows = self.db.execute(
                "SELECT d.id, CASE WHEN m.document_id IS NULL THEN NULL ELSE d.content_hash END, d.first_seen_at"
                " FROM documents d JOIN staged_ids s ON s.id = d.id"
                " LEFT JOIN story_members m ON m.document_id = d.id",
            )
        return {doc_id: (content, seen) for doc_id, content, seen in rows}

    def moved_files(self, files: Sequence[tuple[str, str, str, str]]) -> dict[str, tuple[str, str]]:
        """Of files read now, given as (id, content hash, source, path tail such as
        ``/seeds/sub/a.txt``) and not stored under their own id: those stored before from another
        path that ends the same way, with the same bytes and source (their folder was moved or
        copied), as id -> (stored id, stored url); the first stored id when there are several."""
        if not files:
            return {}
        staged = pa.table(
            {
                "id": pa.array([f[0] for f in files], pa.string()),
                "content_hash": pa.array([f[1] for f in files], pa.string()),
                "source": pa.array([f[2] for f in files], pa.string()),
                "tail": pa.array([f[3] for f in files], pa.string()),
            }
        )
        with self.db.registered("staged_files", staged):
            rows = self.db.execute(
                "SELECT s.id, min(d.id), arg_min(d.url, d.id) FROM staged_files s"
                " JOIN documents d ON d.content_hash = s.content_hash AND d.source = s.source"
                " AND d.source_kind = 'file' AND d.id <> s.id AND ends_with(d.url, s.tail)"
                " WHERE s.id NOT IN (SELECT id FROM documents) GROUP BY s.id",
            )
        return {new: (stored, url) for new, stored, url in rows}

    def backfill_plan(self, since: datetime) -> tuple[list[BackfillItem], set[str]]:
        """What a backfill from ``since`` re-processes, in replay order (time, then url, then id):
        the documents first seen or published on or after ``since``, and every member of a story
        whose canonical is one of them (so no story is left half replayed). Also returns the
        stories whose canonical is re-processed: they take no new members until it has been."""
        items = self.db.records(BackfillItem, load_sql("backfill_plan"), [since, since])
        with self.db.registered("staged_replayed", string_table("id", [item.id for item in items])):
            stories = self.db.execute(
                "SELECT id FROM stories WHERE canonical_document_id IN (SELECT id FROM staged_replayed)"
            )
        return items, {row[0] for row in stories}


def documents_table(documents: Sequence[Document], run_id: str, now: datetime) -> pa.Table:
    """The Arrow table a batch's documents are staged in (with the run and time that store them)."""
    n = len(documents)
    columns = {c: pa.array([getattr(d, c) for d in documents], _TYPES.get(c, pa.string())) for c in DOCUMENT_COLUMNS}
    columns["updated_at"] = pa.array([now] * n, _TS)
    columns["run_id"] = pa.array([run_id] * n, pa.string())
    columns["updated_run_id"] = pa.array([run_id] * n, pa.string())
    return pa.table(columns)
