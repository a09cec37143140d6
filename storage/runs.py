"""Runs and their stages (``runs``, ``run_stages``; read through ``v_runs``)."""

from __future__ import annotations

import logging
from datetime import datetime

from storage.database import Database

log = logging.getLogger(__name__)


class RunRepository:
    """The record of each run: started, crashed, completed or failed, and its stage counts."""

    def __init__(self, db: Database) -> None:
        self.db = db

    def start(
        self, run_id: str, now: datetime, input_desc: str, version: str = "unknown", kind: str = "monitor"
    ) -> int:
        """Record a run as running; returns how many earlier runs were found crashed.

        Holding the writer lock proves that no other run is alive, so any run still marked
        running was killed (SIGKILL, power loss): it is marked ``crashed``. Its committed
        batches are kept; the work it did not finish is redone by this run. ``version`` is the
        newsmon release that runs it; ``kind`` is ``monitor`` or ``retag`` (the views take
        "today" from monitor runs only). A new run is numbered after every run recorded before
        it (``seq``); a run resumed under its id keeps its number.
        """
        crashed = self.db.execute(  # its end is not known: its finished_at counts its recorded stages only
            "UPDATE runs SET status = 'crashed', finished_at = started_at + to_microseconds(CAST(1e6 * coalesce("
            "(SELECT sum(s.seconds) FROM run_stages s WHERE s.run_id = runs.id), 0) AS BIGINT)),"
            " error = 'the run ended without finishing (killed or crashed); its committed batches are kept;"
            " found at ' || strftime(CAST(? AS TIMESTAMPTZ) AT TIME ZONE 'UTC', '%Y-%m-%d %H:%M:%S UTC')"
            " || ' by the next run; its seconds count its recorded stages only'"
            " WHERE status = 'running' AND id <> ? RETURNING id",
            [now, run_id],
        )
        for (old,) in crashed:
            log.warning("run %s had not finished (killed?): marked crashed", old)
        self.db.execute(
            "INSERT INTO runs (id, started_at, status, input, newsmon_version, kind, seq)"
            " VALUES (?, ?, 'running', ?, ?, ?, (SELECT coalesce(max(seq), 0) + 1 FROM runs))"
            " ON CONFLICT (id) DO UPDATE SET status = 'running', finished_at = NULL, error = NULL",
            [run_id, now, input_desc, version, kind],
        )
        return len(crashed)

    def latest_monitor_start(self) -> datetime | None:
        """When the latest monitor run recorded in the file started (the views' "today")."""
        value = self.db.execute("SELECT max(started_at) FROM runs WHERE kind = 'monitor'")[0][0]
        return value if isinstance(value, datetime) else None

    def latest_seq(self) -> int | None:
        """The number of the latest run recorded in the file (of any kind), if any."""
        value = self.db.execute("SELECT max(seq) FROM runs")[0][0]
        return int(value) if value is not None else None

    def finish(self, run_id: str, status: str, finished_at: datetime, error: str | None = None) -> None:
        """Mark a run completed, failed or crashed (stopped before finishing)."""
        self.db.execute(
            "UPDATE runs SET status = ?, finished_at = ?, error = ? WHERE id = ?",
            [status, finished_at, error, run_id],
        )

    def record_stage(
        self, run_id: str, stage: str, items_in: int, items_out: int, skipped: int, seconds: float
    ) -> None:
        """Add one batch's counts to a stage of a run."""
        self.db.execute(
            "INSERT INTO run_stages VALUES (?, ?, ?, ?, ?, ?) ON CONFLICT (run_id, stage) DO UPDATE SET"
            " items_in = run_stages.items_in + excluded.items_in,"
            " items_out = run_stages.items_out + excluded.items_out,"
            " skipped = run_stages.skipped + excluded.skipped,"
            " seconds = run_stages.seconds + excluded.seconds",
            [run_id, stage, items_in, items_out, skipped, seconds],
        )
