"""Failed fetches of each run (``fetch_failures``): feed polls and article pages, by class."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime

import pyarrow as pa

from newsmon.models import Failure
from storage.database import Database, execute


class FailureRepository:
    """Each run's failed fetches, one row per feed or page, for ``v_failures``."""

    def __init__(self, db: Database) -> None:
        self.db = db

    def record(self, run_id: str, failures: Sequence[Failure], now: datetime) -> None:
        """Store a run's failures in one transaction (again for the same run: no change)."""
        if not failures:
            return
        staged = pa.table(
            {
                "scope": pa.array([f.scope for f in failures], pa.string()),
                "url": pa.array([f.url for f in failures], pa.string()),
                "feed_url": pa.array([f.feed_url for f in failures], pa.string()),
                "kind": pa.array([f.kind for f in failures], pa.string()),
                "status": pa.array([f.status for f in failures], pa.int32()),
                "message": pa.array([f.message[:1000] for f in failures], pa.string()),
            }
        )
        with self.db.registered("staged_failures", staged), self.db.transaction() as con:
            execute(
                con,
                "INSERT INTO fetch_failures (run_id, scope, url, feed_url, kind, status, message, failed_at)"
                " SELECT ?, scope, url, any_value(feed_url), any_value(kind), any_value(status), any_value(message), ?"
                " FROM staged_failures GROUP BY scope, url ON CONFLICT DO NOTHING",
                [run_id, now],
            )
