"""Topic versions and tags (``topic_versions``, ``document_topics``)."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import TypeVar

import duckdb
import pyarrow as pa

from newsmon.models import Tag, TopicLike
from storage.database import Database, execute, load_sql, string_table

TopicT = TypeVar("TopicT", bound=TopicLike)
_TAG_COLUMNS = "t.document_id, t.topic, t.topic_version, t.score, t.evidence, t.clause"


class TopicRepository:
    """Which topic definitions are current, and the tags they made."""

    def __init__(self, db: Database) -> None:
        self.db = db

    def register(
        self,
        topics: Sequence[TopicT],
        run_id: str,
        now: datetime,
        replace_all: bool = True,
        retire: Sequence[str] = (),
    ) -> list[TopicT]:
        """Record the topic definitions in force; return those whose version is new. A known
        version takes the name, description and definition text given (a renamed topic keeps its
        version: see ``newsmon.topics``).

        With ``replace_all`` (a run), exactly these versions become current and every other
        topic stops being current. Without it (re-tagging some topics), only these topics'
        current versions change, and the topics in ``retire`` (no longer defined) stop being
        current, in the same transaction.
        """
        staged = pa.table(
            {
                "topic": pa.array([t.slug for t in topics], pa.string()),
                "version": pa.array([t.version for t in topics], pa.string()),
                "name": pa.array([t.name for t in topics], pa.string()),
                "description": pa.array([t.description for t in topics], pa.string()),
                "definition": pa.array([t.definition for t in topics], pa.string()),
            }
        )
        with self.db.registered("staged_topics", staged), self.db.transaction() as con:
            known = {
                (topic, version)
                for topic, version in execute(
                    con, "SELECT v.topic, v.version FROM topic_versions v JOIN staged_topics s USING (topic, version)"
                )
            }
            execute(
                con,
                "INSERT INTO topic_versions SELECT topic, version, name, description, definition,"
                " true, ?, ? FROM staged_topics ON CONFLICT (topic, version) DO UPDATE SET name = excluded.name,"
                " description = excluded.description, definition = excluded.definition",
                [now, run_id],
            )
            execute(con, load_sql("set_current_versions" if replace_all else "set_current_versions_of_staged"))
            if retire:
                with self.db.registered("retired_topics", string_table("topic", retire)):
                    execute(
                        con,
                        "UPDATE topic_versions SET is_current = false"
                        " WHERE is_current AND topic IN (SELECT topic FROM retired_topics)",
                    )
        return [t for t in topics if (t.slug, t.version) not in known]

    def stale(self, topics: Sequence[TopicT]) -> list[TopicT]:
        """The topics whose version is not the current one in the database (new, changed, or back
        to an earlier definition): stored documents must be re-tagged with them before
        :meth:`register` makes them current."""
        staged = pa.table(
            {
                "topic": pa.array([t.slug for t in topics], pa.string()),
                "version": pa.array([t.version for t in topics], pa.string()),
            }
        )
        with self.db.registered("staged_topics", staged):
            current = {
                (topic, version)
                for topic, version in self.db.execute(
                    "SELECT v.topic, v.version FROM topic_versions v JOIN staged_topics s USING (topic, version)"
                    " WHERE v.is_current",
                )
            }
        return [t for t in topics if (t.slug, t.version) not in current]

    def current_other_than(self, slugs: Sequence[str]) -> list[str]:
        """The topics current in the database that are not among ``slugs`` (a topics file that no
        longer defines them): registering the file leaves their tags out of the views."""
        rows = self.db.execute("SELECT DISTINCT topic FROM topic_versions WHERE is_current ORDER BY topic")
        wanted = set(slugs)
        return [topic for (topic,) in rows if topic not in wanted]

    def names(self) -> dict[str, str]:
        """Display names of the current topics."""
        return dict(self.db.execute("SELECT topic, name FROM topic_versions WHERE is_current ORDER BY topic"))

    def status(self) -> dict[str, tuple[str, int]]:
        """Per topic: its current version in the database and how many documents that version tagged."""
        rows = self.db.execute(
            "SELECT v.topic, v.version, count(t.document_id) FROM topic_versions v"
            " LEFT JOIN document_topics t ON t.topic = v.topic AND t.topic_version = v.version"
            " WHERE v.is_current GROUP BY ALL ORDER BY v.topic",
        )
        return {topic: (version, int(count)) for topic, version, count in rows}

    def version_counts(self, versions: Sequence[tuple[str, str]]) -> dict[tuple[str, str], int]:
        """Of these (topic, version) pairs, those the database knows (current or not), with how
        many documents each tagged."""
        with self.db.registered("wanted_versions", versions_table(versions)):
            rows = self.db.execute(
                "SELECT v.topic, v.version, count(t.document_id) FROM topic_versions v"
                " JOIN wanted_versions w ON w.topic = v.topic AND w.version = v.version"
                " LEFT JOIN document_topics t ON t.topic = v.topic AND t.topic_version = v.version GROUP BY ALL",
            )
        return {(topic, version): int(count) for topic, version, count in rows}

    def current_tags(self, topic: str) -> dict[str, Tag]:
        """The tags of one topic made by its current version, by document id."""
        tags = self.db.records(
            Tag,
            f"SELECT {_TAG_COLUMNS} FROM document_topics t"  # noqa: S608
            " JOIN topic_versions v ON v.topic = t.topic AND v.version = t.topic_version AND v.is_current"
            " WHERE t.topic = ? ORDER BY t.document_id",
            [topic],
        )
        return {t.document_id: t for t in tags}

    def version_tags(self, topic: str, version: str, ids: Sequence[str]) -> dict[str, Tag]:
        """The tags one version of a topic made on these documents, by document id (evidence
        and clause for a review's figures; the version need not be current)."""
        if not ids:
            return {}
        with self.db.registered("staged_doc_ids", string_table("id", ids)):
            tags = self.db.records(
                Tag,
                f"SELECT {_TAG_COLUMNS} FROM document_topics t"  # noqa: S608
                " JOIN staged_doc_ids s ON s.id = t.document_id"
                " WHERE t.topic = ? AND t.topic_version = ? ORDER BY t.document_id",
                [topic, version],
            )
        return {t.document_id: t for t in tags}

    def tag_keys(self, ids: Sequence[str], versions: Sequence[tuple[str, str]]) -> set[tuple[str, str, str, str]]:
        """(document, topic, version, evidence) of the stored tags of these documents and versions."""
        if not ids or not versions:
            return set()
        with (
            self.db.registered("staged_doc_ids", string_table("id", ids)),
            self.db.registered("staged_versions", versions_table(versions)),
        ):
            rows = self.db.execute(
                "SELECT t.document_id, t.topic, t.topic_version, t.evidence FROM document_topics t"
                " JOIN staged_doc_ids s ON s.id = t.document_id"
                " JOIN staged_versions v ON v.topic = t.topic AND v.version = t.topic_version",
            )
        return {(d, t, v, e) for d, t, v, e in rows}

    def store_retags(self, tags: Sequence[Tag], run_id: str, now: datetime) -> None:
        """Store re-tags of already stored documents (marked as backfill, never alerted)."""
        with self.db.transaction() as con:
            write_tags(self.db, con, tags, run_id, now, new_ids=set())


def versions_table(versions: Sequence[tuple[str, str]]) -> pa.Table:
    """(topic, version) pairs as a staging table."""
    return pa.table(
        {
            "topic": pa.array([t for t, _ in versions], pa.string()),
            "version": pa.array([v for _, v in versions], pa.string()),
        }
    )


def drop_stale_tags(
    db: Database, con: duckdb.DuckDBPyConnection, tags: Sequence[Tag], versions: Sequence[tuple[str, str]]
) -> None:
    """Delete the staged documents' tags of these topic versions that ``tags`` does not hold."""
    keys = pa.table(
        {
            "document_id": pa.array([t.document_id for t in tags], pa.string()),
            "topic": pa.array([t.topic for t in tags], pa.string()),
            "topic_version": pa.array([t.topic_version for t in tags], pa.string()),
        }
    )
    with db.registered("staged_versions", versions_table(versions)), db.registered("staged_tag_keys", keys):
        execute(con, load_sql("delete_stale_tags"))


def write_tags(
    db: Database, con: duckdb.DuckDBPyConnection, tags: Sequence[Tag], run_id: str, now: datetime, new_ids: set[str]
) -> None:
    """Add tags (those of ``new_ids``, new or rewritten documents, pending an alert; the others
    marked backfill); a stored tag whose score, evidence or clause differs is updated and keeps
    its alert, so a rewritten document alerts only for the topics it newly has.

    A re-tag of a document whose tag by the topic's current version still waits for its alert
    (a story held back by ``min_new_stories``, or a run that stopped before its alert) waits
    too: a new definition does not turn news that was never alerted into history. Nor does an
    earlier definition brought back turn history into news: its stored tag that was waiting
    when that definition was replaced is history once another version's tag of the document
    was alerted (or marked history), unless the current version's tag still waits."""
    staged = pa.table(
        {
            "document_id": pa.array([t.document_id for t in tags], pa.string()),
            "topic": pa.array([t.topic for t in tags], pa.string()),
            "topic_version": pa.array([t.topic_version for t in tags], pa.string()),
            "score": pa.array([t.score for t in tags], pa.float64()),
            "evidence": pa.array([t.evidence for t in tags], pa.string()),
            "clause": pa.array([t.clause for t in tags], pa.string()),
            "alert_id": pa.array([None if t.document_id in new_ids else "backfill" for t in tags], pa.string()),
        }
    )
    with db.registered("staged_tags", staged):
        execute(  # an earlier version brought back: its tags left waiting are history now (see above)
            con,
            "UPDATE document_topics t SET alert_id = 'backfill' FROM staged_tags s"
            " WHERE s.alert_id = 'backfill' AND t.alert_id IS NULL AND t.document_id = s.document_id"
            " AND t.topic = s.topic AND t.topic_version = s.topic_version AND EXISTS (SELECT 1"
            " FROM document_topics o WHERE o.document_id = s.document_id AND o.topic = s.topic"
            " AND o.alert_id IS NOT NULL) AND NOT EXISTS (SELECT 1"
            " FROM document_topics p JOIN topic_versions v ON v.topic = p.topic AND v.version = p.topic_version"
            " AND v.is_current WHERE p.document_id = s.document_id AND p.topic = s.topic AND p.alert_id IS NULL)",
        )
        execute(
            con,
            "INSERT INTO document_topics SELECT s.document_id, s.topic, s.topic_version, s.score, s.evidence,"
            " s.clause, ?, ?, CASE WHEN s.alert_id = 'backfill' AND EXISTS (SELECT 1 FROM document_topics p"
            " JOIN topic_versions v ON v.topic = p.topic AND v.version = p.topic_version AND v.is_current"
            " WHERE p.document_id = s.document_id AND p.topic = s.topic AND p.topic_version <> s.topic_version"
            " AND p.alert_id IS NULL) THEN NULL ELSE s.alert_id END FROM staged_tags s"
            " ON CONFLICT (document_id, topic, topic_version) DO UPDATE SET score = excluded.score,"
            " evidence = excluded.evidence, clause = excluded.clause, run_id = excluded.run_id,"
            " tagged_at = excluded.tagged_at WHERE document_topics.score <> excluded.score"
            " OR document_topics.evidence <> excluded.evidence OR document_topics.clause <> excluded.clause",
            [run_id, now],
        )
