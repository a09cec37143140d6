"""The ``monitor`` flow: one run of the pipeline core, each step a Prefect task.

The flow opens the DuckDB store (one writer, behind a lock), builds the run's context and
hands it to :func:`newsmon.pipeline.run_once`; the core calls its steps through
:func:`flows.tasks.task_steps`, so every batch's ingest, dedupe, tag and store shows as a task
run. With ``task_runner = "dask"`` tagging and page extraction go to a Dask cluster.
"""

from __future__ import annotations

import signal
import uuid
from datetime import UTC, datetime
from typing import Any

from prefect import flow, get_run_logger
from prefect.exceptions import TerminationSignal
from prefect.runtime import flow_run
from prefect.states import Failed, State

from flows.runners import task_runner
from flows.tasks import task_steps
from newsmon.config import Settings, load_settings
from newsmon.errors import Interrupted, NewsmonError, StorageError
from newsmon.pipeline import BackfillCounts, RunContext, RunSummary, run_once
from newsmon.topics import load_topics
from storage.signals import watch_lost_stops
from storage.store import Store

__all__ = ["BackfillCounts", "RunSummary", "current_run_id", "monitor"]


def current_run_id() -> str:
    """The Prefect flow run id, or a fresh UUID outside Prefect."""
    return str(flow_run.get_id() or uuid.uuid4())


@flow(name="monitor", validate_parameters=False)
def monitor(
    settings: Settings | dict[str, Any] | None = None,
    now: datetime | None = None,
    since: datetime | None = None,
) -> RunSummary | State[Any]:
    """Run the whole pipeline once over ``settings.seeds`` (and the due feeds) into ``settings.db``.

    ``settings`` may be a :class:`Settings`, or a plain mapping of its fields (as a
    deployment passes them); missing fields come from the environment and defaults.
    ``since`` also re-processes the stored documents first seen or published from then on
    (a backfill). A newsmon error (locked database, disk full, bad input folder) ends the run
    as Failed with its one-line message, without a traceback; the error is the state's data.
    A signal that stopped a database query (which DuckDB reports as its own error) ends it as
    the signal does elsewhere: Prefect's termination, the run recorded as stopped.
    """
    try:
        return _monitor(settings, now, since)
    except Interrupted as err:
        raise TerminationSignal(signal.SIGTERM) from err
    except NewsmonError as err:
        # For the run's log in Prefect; a console that prints the error itself drops this record
        # (it carries ``newsmon_error``), so the error shows once.
        get_run_logger().error("%s", err, extra={"newsmon_error": True})
        return Failed(message=str(err), data=err)


def _monitor(settings: Settings | dict[str, Any] | None, now: datetime | None, since: datetime | None) -> RunSummary:
    if not isinstance(settings, Settings):
        settings = load_settings(None, **(settings or {}))
    logger = get_run_logger()
    topics = load_topics(settings.topics_path)
    store = Store.open_writer(settings.db, settings.lock_timeout_s)
    try:
        # Dask, when configured: extraction and tagging run there; a stop that a finalizer
        # swallows is noted, and the next write delivers it again
        with task_runner(settings) as runner, watch_lost_stops():
            ctx = RunContext(
                settings, store, topics, now or datetime.now(UTC), current_run_id(), task_steps(runner), logger
            )
            summary = run_once(ctx, since)
    finally:
        snapshot = store.close(snapshot=True)
    if store.close_error is not None:  # the run's work is committed, but readers do not see it yet
        raise StorageError(store.close_error)
    if snapshot is not None:
        logger.info("snapshot: %s published for readers", snapshot)
    return summary
