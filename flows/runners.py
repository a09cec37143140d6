"""Where the monitor flow's CPU-heavy stages run: here, or on Dask through prefect-dask.

With ``task_runner = "dask"`` the flow submits page extraction and tagging as tasks to a Dask
cluster: an existing one (``dask_address``, a scheduler such as ``tcp://10.0.0.5:8786``) or a
local cluster of ``dask_workers`` processes started for the run. Everything else (feed
polling, dedupe, the DuckDB writes) stays in the flow's process, the one writer.

The runner is opened by the flow itself from its settings, so ``newsmon run``, ``newsmon
serve`` and a deployment all honour the setting. The workers of a local cluster report their
task runs to the API the flow uses (the ephemeral one included); the workers of an existing
cluster need ``PREFECT_API_URL`` of a Prefect server set in their own environment.
"""

from __future__ import annotations

import logging
import os
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from prefect.client.orchestration import get_client

from newsmon.config import Settings
from newsmon.errors import ConfigError

log = logging.getLogger(__name__)

DASK_EXTRA = "pip install -c requirements.lock -e '.[dask]'"


@contextmanager
def task_runner(settings: Settings) -> Iterator[Any | None]:
    """A started Dask task runner when the settings ask for one, else None (run here)."""
    if settings.task_runner != "dask":
        yield None
        return
    try:
        from prefect_dask import DaskTaskRunner
    except ImportError as err:
        raise ConfigError(f"task_runner = 'dask' needs prefect-dask, which is not installed: {DASK_EXTRA}") from err
    if settings.dask_address:
        runner = DaskTaskRunner(address=settings.dask_address)
    else:
        runner = DaskTaskRunner(cluster_kwargs=local_cluster_kwargs(settings.dask_workers, _api_url()))
    with runner:
        log.info("dask: extraction and tagging run on %s", settings.dask_address or "a local cluster")
        yield runner


def local_cluster_kwargs(workers: int, api_url: str | None) -> dict[str, Any]:
    """A LocalCluster of single-threaded worker processes (extraction and tagging hold the GIL)
    whose task runs report to ``api_url``: without it, each worker would start an ephemeral
    Prefect API of its own."""
    env = {"PREFECT_API_URL": api_url} if api_url else {}
    for name in ("PREFECT_LOGGING_LEVEL", "PREFECT_SERVER_ANALYTICS_ENABLED", "NEWSMON_HTTP_ALLOW"):
        if name in os.environ:
            env[name] = os.environ[name]
    return {
        "n_workers": workers,
        "threads_per_worker": 1,
        "processes": True,
        "dashboard_address": None,
        "env": env,
    }


def _api_url() -> str | None:
    """The API this process talks to: the configured server, or the ephemeral one it started."""
    with get_client(sync_client=True) as client:
        return str(client.api_url) if client.api_url else None
