"""Reviews of topic tags (``topic_reviews``, ``review_strata``, ``review_items``)."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import datetime

import pyarrow as pa

from newsmon.models import Review, ReviewItem, Stratum
from storage.database import Database, execute

# The reads a writer's repository and the dashboard's snapshot reader share ($named parameters).
REVIEW_TABLES_HELD = 3  # what REVIEWS_HELD counts when the file holds reviews as this newsmon keeps them
REVIEWS_HELD = (  # the columns of migrations 0011-0013 the file holds (old snapshots lack some)
    "SELECT count(*) FROM duckdb_columns() WHERE (table_name, column_name)"
    " IN (('topic_reviews', 'store_run_at'), ('runs', 'kind'), ('topic_reviews', 'store_run_seq'))"
)
SELECT_LATEST_REVIEWS = (  # the latest review of each topic, or of $topic; with $judged, of those judged
    "SELECT id, topic, topic_version, seed, drawn_at, run_id, store_run_at, store_run_seq FROM topic_reviews r"
    " WHERE ($topic IS NULL OR topic = $topic)"
    " AND (NOT $judged OR EXISTS (SELECT 1 FROM review_items i WHERE i.review_id = r.id AND i.label IN ('yes', 'no')))"
    " QUALIFY row_number() OVER (PARTITION BY topic ORDER BY drawn_at DESC, id DESC) = 1 ORDER BY topic"
)
SELECT_STRATA = (  # in the order tagged, near, rest
    "SELECT stratum AS name, population, drawn FROM review_strata WHERE review_id = $review"
    " ORDER BY list_position(['tagged', 'near', 'rest'], stratum), stratum"
)
SELECT_ITEMS = (  # in the reader's order
    "SELECT document_id, stratum, position, label, note, text_hash FROM review_items WHERE review_id = $review"
    " ORDER BY position"
)


class ReviewRepository:
    """Reviews drawn for readers, and the labels they gave."""

    def __init__(self, db: Database) -> None:
        self.db = db

    def create(
        self,
        review: Review,
        strata: Sequence[Stratum],
        items: Sequence[ReviewItem],
        members: Mapping[str, Sequence[str]],
    ) -> None:
        """Store a newly drawn review, its strata, its (unlabelled) items and the documents of its
        tagged and near strata (``members``: stratum -> ids) in one transaction."""
        member_rows = [(doc_id, name) for name in ("tagged", "near") for doc_id in members.get(name, ())]
        staged_members = pa.table(
            {
                "document_id": pa.array([d for d, _ in member_rows], pa.string()),
                "stratum": pa.array([n for _, n in member_rows], pa.string()),
            }
        )
        staged_strata = pa.table(
            {
                "stratum": pa.array([s.name for s in strata], pa.string()),
                "population": pa.array([s.population for s in strata], pa.int64()),
                "drawn": pa.array([s.drawn for s in strata], pa.int32()),
            }
        )
        staged_items = pa.table(
            {
                "document_id": pa.array([i.document_id for i in items], pa.string()),
                "stratum": pa.array([i.stratum for i in items], pa.string()),
                "position": pa.array([i.position for i in items], pa.int32()),
                "text_hash": pa.array([i.text_hash for i in items], pa.string()),
            }
        )
        with (
            self.db.registered("staged_strata", staged_strata),
            self.db.registered("staged_items", staged_items),
            self.db.registered("staged_members", staged_members),
            self.db.transaction() as con,
        ):
            execute(
                con,
                "INSERT INTO topic_reviews"
                " (id, topic, topic_version, seed, drawn_at, run_id, store_run_at, store_run_seq)"
                " VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
                [
                    review.id,
                    review.topic,
                    review.topic_version,
                    review.seed,
                    review.drawn_at,
                    review.run_id,
                    review.store_run_at,
                    review.store_run_seq,
                ],
            )
            execute(
                con,
                "INSERT INTO review_strata SELECT ?, stratum, population, drawn FROM staged_strata",
                [review.id],
            )
            execute(
                con,
                "INSERT INTO review_items (review_id, document_id, stratum, position, run_id, text_hash)"
                " SELECT ?, document_id, stratum, position, ?, text_hash FROM staged_items",
                [review.id, review.run_id],
            )
            execute(con, "INSERT INTO review_members SELECT ?, document_id, stratum FROM staged_members", [review.id])

    def available(self) -> bool:
        """Whether the file holds reviews as this newsmon keeps them (migrations 0011 to 0013 applied)."""
        return self.db.execute(REVIEWS_HELD)[0][0] == REVIEW_TABLES_HELD

    def get(self, review_id: str) -> Review | None:
        """The review with this id, if any."""
        found = self.db.records(
            Review,
            "SELECT id, topic, topic_version, seed, drawn_at, run_id, store_run_at, store_run_seq"
            " FROM topic_reviews WHERE id = ?",
            [review_id],
        )
        return found[0] if found else None

    def latest(self, topic: str | None = None, judged: bool = False) -> list[Review]:
        """The latest review of each topic (of ``topic`` only, when given), by topic; with
        ``judged``, the latest of those with a document labelled yes or no."""
        return self.db.records(Review, SELECT_LATEST_REVIEWS, {"topic": topic, "judged": judged})

    def strata(self, review_id: str) -> list[Stratum]:
        """The strata of a review, as they were when it was drawn (tagged, near, rest)."""
        return self.db.records(Stratum, SELECT_STRATA, {"review": review_id})

    def items(self, review_id: str) -> list[ReviewItem]:
        """A review's drawn documents in the reader's order, with their labels so far."""
        return self.db.records(ReviewItem, SELECT_ITEMS, {"review": review_id})

    def members(self, review_id: str) -> dict[str, str]:
        """The documents of a review's tagged and near strata when it was drawn: id -> stratum."""
        return dict(self.db.execute("SELECT document_id, stratum FROM review_members WHERE review_id = ?", [review_id]))

    def store_labels(
        self,
        labels: Sequence[tuple[str, str, str | None, str | None]],
        run_id: str,
        now: datetime,
        keep_notes: bool = False,
    ) -> int:
        """Store (review id, document id, label, note) of drawn items; returns how many changed.

        An item whose label and note are already these is left alone, so storing the same
        file again changes nothing. With ``keep_notes`` (a sheet without its note column) the
        stored notes are kept as they are.
        """
        staged = pa.table(
            {
                "review_id": pa.array([r for r, _, _, _ in labels], pa.string()),
                "document_id": pa.array([d for _, d, _, _ in labels], pa.string()),
                "label": pa.array([lab for _, _, lab, _ in labels], pa.string()),
                "note": pa.array([n for _, _, _, n in labels], pa.string()),
            }
        )
        with self.db.registered("staged_labels", staged), self.db.transaction() as con:
            rows = execute(
                con,
                "UPDATE review_items SET label = s.label, note = CASE WHEN ? THEN review_items.note ELSE s.note END,"
                " judged_at = ?, run_id = ? FROM staged_labels s WHERE review_items.review_id = s.review_id"
                " AND review_items.document_id = s.document_id AND (review_items.label IS DISTINCT FROM s.label"
                " OR (NOT ? AND review_items.note IS DISTINCT FROM s.note))",
                [keep_notes, now, run_id, keep_notes],
            )
        return int(rows[0][0]) if rows else 0
