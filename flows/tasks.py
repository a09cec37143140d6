"""Prefect tasks: each wraps one step of the pipeline core (``newsmon.steps``) and adds what
Prefect is for (a task run per batch in the UI, retries where a step is safe to repeat, logs).

Tasks are called once per batch or per stage, never per item (a task run costs the API
40-50 ms of CPU). Large arguments are passed with ``quote`` so Prefect does not walk them.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, TypeVar, cast

from prefect import Task, task
from prefect.cache_policies import NONE
from prefect.utilities.annotations import quote

from newsmon import alerting, steps
from newsmon.steps import Steps

T = TypeVar("T")

ingest_task = task(name="ingest", cache_policy=NONE)(steps.read_documents)
poll_task = task(name="poll-feeds", cache_policy=NONE, retries=1, retry_delay_seconds=2)(steps.poll_feeds)
parse_task = task(name="parse-feeds", cache_policy=NONE)(steps.parse_feeds)
pages_task = task(name="fetch-and-extract-pages", cache_policy=NONE)(steps.fetch_and_extract)
fetch_chunk_task = task(name="fetch-pages", cache_policy=NONE)(steps.fetch_pages)
extract_chunk_task = task(name="extract-pages", cache_policy=NONE)(steps.extract_pages_inline)
dedupe_task = task(name="dedupe", cache_policy=NONE)(steps.dedupe_batch)
tag_task = task(name="tag", cache_policy=NONE)(steps.tag_batch)
store_task = task(name="store", cache_policy=NONE)(steps.store_batch)
alert_task = task(name="alert", cache_policy=NONE)(alerting.store_alerts)


def as_is(value: T) -> T:
    """Pass a large batch to a task without Prefect walking every element (its ``quote``)."""
    return cast(T, quote(value))


def _called(prefect_task: Task[..., Any]) -> Callable[..., Any]:
    """Call ``prefect_task`` in this flow run, its arguments passed as they are."""

    def call(*args: Any, **kwargs: Any) -> Any:
        return prefect_task(*[as_is(a) for a in args], **{k: as_is(v) for k, v in kwargs.items()})

    return call


def task_steps(runner: Any | None = None) -> Steps:
    """The core's steps as task runs of this flow; with a started Dask ``runner``, tagging and
    page extraction are submitted to its workers."""

    def submit(step: str, **kwargs: Any) -> Any:
        assert runner is not None
        remote = {"tag": tag_task, "extract_chunk": extract_chunk_task}[step]
        return runner.submit(remote, kwargs)  # a Dask runner ships its arguments as they are

    return Steps(
        ingest=_called(ingest_task),
        poll=_called(poll_task),
        parse=_called(parse_task),
        pages=_called(pages_task),
        fetch_chunk=_called(fetch_chunk_task),
        extract_chunk=steps.extract_pages_inline,
        dedupe=_called(dedupe_task),
        tag=_called(tag_task),
        store=_called(store_task),
        alert=_called(alert_task),
        submit=submit if runner is not None else None,
    )
