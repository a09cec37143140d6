"""A watchdog on the Prefect API a flow run reports to.

When that API dies mid-run (the ephemeral server of ``newsmon run`` killed, the server of
``newsmon serve`` stopped), Prefect 3.8 does not fail: the flow engine's state proposals retry
for minutes (``PREFECT_CLIENT_MAX_RETRIES`` with exponential back-off, each try up to
``PREFECT_API_REQUEST_TIMEOUT``), its crash handler retries the same way when the run is told
to stop, so SIGTERM seems ignored, and the event and log workers wait on the dead socket at
exit. Nothing in the run can bound that from inside Prefect's calls.

The watchdog probes the API's health from a thread of its own. When the server process is
gone, the connection is refused ``REFUSALS`` times in a row, or nothing answers for the API
request timeout, it calls ``on_lost`` with a one-line cause; the caller reports it and ends
the process (see :func:`newsmon.processes.exit_now`), which leaves the database as a killed
run does: committed batches kept, no half-written batch, the lock released by the kernel, and
the run's row left running for the next run to mark crashed.
"""

from __future__ import annotations

import logging
import subprocess
import threading
import time
from collections.abc import Callable
from types import TracebackType
from typing import Any

import httpx

from newsmon.errors import ConfigError
from newsmon.processes import die_with_parent, exiting

log = logging.getLogger(__name__)

PROBE_EVERY_S = 1.0
REFUSALS = 3  # connection refused this many times in a row: nothing listens any more


def _api(start_ephemeral: bool) -> tuple[str, subprocess.Popen[bytes] | None, float]:
    """The API URL the run will use, the ephemeral server's process (None for a configured
    server), and the API request timeout. Without ``PREFECT_API_URL`` the ephemeral server is
    started here, as the flow would start it (the flow then uses this same one)."""
    from prefect.settings import PREFECT_API_REQUEST_TIMEOUT, PREFECT_API_URL

    timeout = float(PREFECT_API_REQUEST_TIMEOUT.value())
    url = PREFECT_API_URL.value()
    if url or not start_ephemeral:
        return str(url or ""), None, timeout
    server = _own_session_server()
    try:
        server.start()
    except RuntimeError as err:
        first = str(err).splitlines()[0][:200]
        raise ConfigError(
            f"Prefect's temporary API server did not start ({first}): raise"
            " PREFECT_SERVER_EPHEMERAL_STARTUP_TIMEOUT_SECONDS or set PREFECT_API_URL to a running server"
        ) from err
    return server.api_url, server.server_process, timeout


def _own_session_server() -> Any:
    """Prefect's ephemeral API server (``SubprocessASGIServer``, the one the flow would start),
    started in a session of its own and with :func:`~newsmon.processes.die_with_parent`: a
    terminal's Ctrl-C then reaches only newsmon (which says "interrupted" and stops the server
    on the way out), and a killed newsmon does not leave the server running."""
    import prefect.server.api.server as module

    class OwnSession:
        """The ``subprocess`` module as Prefect's server module sees it while it starts the server."""

        def __getattr__(self, name: str) -> Any:
            return getattr(subprocess, name)

        @staticmethod
        def Popen(args: list[str], **kwargs: Any) -> subprocess.Popen[bytes]:  # the name Prefect calls
            return subprocess.Popen(args, start_new_session=True, preexec_fn=die_with_parent, **kwargs)

    class Server(module.SubprocessASGIServer):
        def _run_uvicorn_command(self) -> subprocess.Popen[Any]:
            module.subprocess = OwnSession()  # type: ignore[assignment]
            try:
                return super()._run_uvicorn_command()
            finally:
                module.subprocess = subprocess

    server = Server()
    if not isinstance(server, Server):  # Prefect keeps one server a port: one was made before this
        log.warning("Prefect's temporary API server was started before newsmon's: Ctrl-C and a kill reach it too")
    return server


def check_api(url: str, timeout_s: float = 5.0) -> None:
    """Raise :class:`ConfigError` (one line) unless the Prefect API at ``url`` answers its
    health check: a configured server that is down fails before the run, not in a traceback."""
    with httpx.Client(timeout=timeout_s) as client:
        cause = _health(client, url)
    if cause is not None:
        raise ConfigError(
            f"the Prefect API at {url} does not answer ({cause}): start that server, or unset PREFECT_API_URL"
            " to let the run start a temporary one"
        )


def _health(client: httpx.Client, url: str) -> str | None:
    """None when the API at ``url`` answers its health check, else what went wrong."""
    try:
        response = client.get(f"{url.rstrip('/')}/health")
    except httpx.ConnectError as err:
        return "connection refused" if "refused" in str(err).lower() else f"cannot connect ({err})"
    except httpx.TimeoutException:
        return "timed out"
    except httpx.HTTPError as err:
        return f"{type(err).__name__}: {err}"
    return None if response.status_code < 500 else f"HTTP {response.status_code}"


class ApiWatchdog:
    """Context manager: watches the run's Prefect API while the block runs (see the module)."""

    def __init__(self, on_lost: Callable[[str], None], start_ephemeral: bool = True) -> None:
        self.on_lost = on_lost
        self.start_ephemeral = start_ephemeral
        self.url = ""
        self.silence_limit_s = 60.0
        self._process: subprocess.Popen[bytes] | None = None
        self._done = threading.Event()
        self._thread: threading.Thread | None = None

    def __enter__(self) -> ApiWatchdog:
        self.url, self._process, self.silence_limit_s = _api(self.start_ephemeral)
        if self.url and self._process is None:
            check_api(self.url, min(5.0, self.silence_limit_s))
        if self.url:
            self._thread = threading.Thread(target=self._watch, name="newsmon-api-watchdog", daemon=True)
            self._thread.start()
        return self

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self._done.set()
        if self._thread is not None:
            self._thread.join(5)

    def _watch(self) -> None:
        last_answer = time.monotonic()
        refused = 0
        with httpx.Client(timeout=min(5.0, self.silence_limit_s)) as client:
            while not self._done.wait(PROBE_EVERY_S):
                cause = _health(client, self.url)
                if cause is None:
                    last_answer, refused = time.monotonic(), 0
                    continue
                refused = refused + 1 if cause == "connection refused" else 0
                silent = time.monotonic() - last_answer
                if self._process is not None and self._process.poll() is not None:
                    cause = f"its server process exited (code {self._process.returncode})"
                elif refused >= REFUSALS:
                    cause = f"connection refused {refused} times in a row"
                elif silent >= self.silence_limit_s:
                    cause = f"no answer for {silent:.0f} s ({cause})"
                else:
                    continue
                if not self._done.is_set() and not exiting():  # a stop ending the API is no failure of it
                    log.debug("Prefect API %s lost: %s", self.url, cause)
                    self.on_lost(f"the Prefect API at {self.url} stopped answering: {cause}")
                return
