"""Notification deliveries (``deliveries``): one row per alert and target, retried until sent."""

from __future__ import annotations

from datetime import datetime

from newsmon.models import Outcome, PendingDelivery, notification_body
from storage.database import Database


class DeliveryRepository:
    """The deliveries due, and each attempt and outcome as it happens."""

    def __init__(self, db: Database) -> None:
        self.db = db

    def due(self, max_attempts: int) -> list[PendingDelivery]:
        """Deliveries not made yet (new, failed, or cut short by a crash), oldest alert first."""
        rows = self.db.execute(
            "SELECT d.alert_id, a.topic, d.target, d.target_label, d.attempts,"
            " coalesce(a.title, 'newsmon: ' || a.topic), a.markdown, a.digest_path, a.created_at"
            " FROM deliveries d JOIN alerts a ON a.id = d.alert_id"
            " WHERE d.status IN ('pending', 'sending', 'failed') AND d.attempts < ?"
            " ORDER BY a.created_at, d.alert_id, d.target",
            [max_attempts],
        )
        return [
            PendingDelivery(
                alert, topic, target, label, int(attempts), title, notification_body(markdown, alert, digest), created
            )
            for alert, topic, target, label, attempts, title, markdown, digest, created in rows
        ]

    def waiting(self, run_id: str, max_attempts: int) -> int:
        """Deliveries due that the run ``run_id`` left for a later one (quiet hours, a daily
        digest's time, the notify step's deadline, or a receiver that did not answer in time):
        never attempted, or failed before and not attempted by this run."""
        rows = self.db.execute(
            "SELECT count(*) FROM deliveries WHERE attempts < ? AND (status = 'pending'"
            " OR (status IN ('failed', 'sending') AND last_run_id IS DISTINCT FROM ?))",
            [max_attempts, run_id],
        )
        return int(rows[0][0])

    def outcomes_of_run(self, run_id: str) -> dict[str, int]:
        """How many deliveries the run ``run_id`` tried, by their status after it."""
        rows = self.db.execute("SELECT status, count(*) FROM deliveries WHERE last_run_id = ? GROUP BY 1", [run_id])
        return {str(status): int(n) for status, n in rows}

    def record_attempt(self, delivery: PendingDelivery, now: datetime, run_id: str) -> None:
        """Note an attempt before it is made: if the run dies during it, the next run retries."""
        self.db.execute(
            "UPDATE deliveries SET status = 'sending', attempts = attempts + 1, last_attempt_at = ?, last_run_id = ?"
            " WHERE alert_id = ? AND target = ?",
            [now, run_id, delivery.alert_id, delivery.target],
        )

    def record_outcome(self, delivery: PendingDelivery, outcome: Outcome, now: datetime, run_id: str) -> None:
        """Record a delivery's outcome (sent, failed, gave-up or dropped) in the run ``run_id``."""
        self.db.execute(
            "UPDATE deliveries SET status = ?, last_error = ?, last_run_id = ?,"
            " sent_at = CASE WHEN ? = 'sent' THEN CAST(? AS TIMESTAMPTZ) ELSE sent_at END"
            " WHERE alert_id = ? AND target = ?",
            [outcome.status, outcome.error, run_id, outcome.status, now, delivery.alert_id, delivery.target],
        )
