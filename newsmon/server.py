"""A local Prefect server for ``newsmon serve`` when none is configured.

Runs under ``newsmon serve`` report to a real server, so that their history and logs outlive
each run and show in the UI (Prefect's ephemeral API stops with each run and drops its event
backlog). When ``PREFECT_API_URL`` is unset, newsmon starts ``prefect server start`` on
127.0.0.1, in a session of its own, with its state in ``PREFECT_HOME`` when that is set, else
in a folder of newsmon's own beside the database; waits until it answers; and stops it, with
every process it started, on exit.
"""

from __future__ import annotations

import logging
import os
import shutil
import socket
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path
from types import TracebackType

import httpx

from newsmon.errors import ConfigError
from newsmon.processes import die_with_parent, stop_group

log = logging.getLogger(__name__)

STARTUP_TIMEOUT_S = 180.0
STOP_GRACE_S = 10.0
OWN_HOME = ".newsmon-prefect"


def server_home(db: Path) -> tuple[Path, str]:
    """Where the local server keeps its state, and why there: ``PREFECT_HOME`` when it is set,
    else newsmon's own folder beside the database (never the SQLite file of ad hoc runs)."""
    configured = os.environ.get("PREFECT_HOME", "").strip()
    if configured:
        return Path(configured).expanduser().resolve(), "from PREFECT_HOME"
    return db.resolve().parent / OWN_HOME, "newsmon's own folder: PREFECT_HOME is unset"


def free_port() -> int:
    """A TCP port on 127.0.0.1 that is free right now."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


class LocalPrefectServer:
    """``prefect server start`` on loopback, as a child process (context manager)."""

    def __init__(self, home: Path, port: int | None = None) -> None:
        self.home = home
        self.port = port or free_port()
        self.process: subprocess.Popen[bytes] | None = None
        self.log_path = home / "server.log"

    @property
    def api_url(self) -> str:
        """The API URL clients use."""
        return f"http://127.0.0.1:{self.port}/api"

    def start(self, stopping: Callable[[], bool] = lambda: False) -> bool:
        """Start the server and wait until it answers its health check; False (and the server
        stopped again) when ``stopping()`` turned true meanwhile."""
        self.home.mkdir(parents=True, exist_ok=True)
        prefect = shutil.which("prefect", path=str(Path(sys.executable).parent)) or "prefect"
        env = {
            **os.environ,
            "PREFECT_HOME": str(self.home),
            "PREFECT_SERVER_ANALYTICS_ENABLED": "false",
            "PREFECT_API_URL": "",
        }
        cmd = [prefect, "server", "start", "--host", "127.0.0.1", "--port", str(self.port)]
        with open(self.log_path, "ab") as log_file:
            self.process = subprocess.Popen(
                cmd,
                env=env,
                stdout=log_file,
                stderr=subprocess.STDOUT,
                start_new_session=True,
                preexec_fn=die_with_parent,
            )
        if not self._wait_healthy(stopping):
            self.stop()
            return False
        log.info("Prefect server on %s (UI http://127.0.0.1:%d, log %s)", self.api_url, self.port, self.log_path)
        return True

    def _wait_healthy(self, stopping: Callable[[], bool]) -> bool:
        deadline = time.monotonic() + STARTUP_TIMEOUT_S
        while time.monotonic() < deadline:
            if stopping():
                return False
            if self.process is not None and self.process.poll() is not None:
                raise ConfigError(f"the Prefect server exited at start-up: see {self.log_path}")
            if self.healthy(timeout_s=2):
                return True
            time.sleep(0.2)
        self.stop()
        raise ConfigError(f"the Prefect server did not answer within {STARTUP_TIMEOUT_S:.0f} s: see {self.log_path}")

    def healthy(self, timeout_s: float = 5) -> bool:
        """True when the server answers its health check within ``timeout_s``."""
        try:
            return httpx.get(f"{self.api_url}/health", timeout=timeout_s, trust_env=False).status_code == 200
        except httpx.HTTPError:
            return False

    def exit_code(self) -> int | None:
        """The server process's exit code, None while it runs (or before it started)."""
        return None if self.process is None else self.process.poll()

    def stop(self) -> None:
        """Stop the server and every process in its group (SIGTERM, SIGKILL after ``STOP_GRACE_S``)."""
        if self.process is not None:
            stop_group(self.process, STOP_GRACE_S)

    def __enter__(self) -> LocalPrefectServer:
        self.start()
        return self

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.stop()
