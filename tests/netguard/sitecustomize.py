"""The tests' network guard: no connection outside loopback (127.0.0.0/8, ::1, localhost).

``tests/conftest.py`` installs it in the test session, and puts this folder first on
``PYTHONPATH`` so that every Python subprocess the tests start (``newsmon run``, the CLI,
Prefect's test server, extraction workers) imports this file as its ``sitecustomize`` and is
guarded the same way. A refused connection raises ``ConnectionRefusedError`` before the
socket's ``connect`` reaches the kernel, so not a packet leaves; in a subprocess it is also
printed to stderr and appended to the file named by ``TEST_NETWORK_GUARD_LOG``, which the
test session reads after every test to fail the test that caused it (even when the
subprocess caught the error and carried on).
"""

from __future__ import annotations

import ipaddress
import os
import socket
import sys
from collections.abc import Callable
from typing import Any

LOG_ENV = "TEST_NETWORK_GUARD_LOG"  # not NEWSMON_*: tests that build a clean NEWSMON_ environment keep it
MARK = "_newsmon_guard"


def is_loopback(address: object) -> bool:
    """True if a socket address stays on this machine (AF_UNIX paths and the like always do)."""
    if isinstance(address, tuple) and address:
        host = str(address[0]).strip("[]")
        if host == "localhost":
            return True
        try:
            return ipaddress.ip_address(host.split("%")[0]).is_loopback
        except ValueError:
            return False  # a host name other than localhost would need a lookup: refused
    return True


def _guarded(original: Callable[..., Any], refuse: Callable[[str], None]) -> Callable[..., Any]:
    def connect(self: socket.socket, address: Any) -> Any:
        if getattr(self, "family", None) in (socket.AF_INET, socket.AF_INET6) and not is_loopback(address):
            refuse(f"connection to {address!r}")
            raise ConnectionRefusedError(f"test network guard: {address!r} is outside 127.0.0.0/8")
        return original(self, address)

    return connect


def install(refuse: Callable[[str], None]) -> bool:
    """Guard ``socket.connect`` and ``connect_ex``; ``refuse`` hears of each refusal. False if already guarded."""
    if getattr(socket.socket, MARK, False):
        return False
    socket.socket.connect = _guarded(socket.socket.connect, refuse)  # type: ignore[method-assign]
    socket.socket.connect_ex = _guarded(socket.socket.connect_ex, refuse)  # type: ignore[method-assign]
    setattr(socket.socket, MARK, True)
    return True


def _report(what: str) -> None:
    """A subprocess's refusal: on stderr, and in the session's log for the test that started it."""
    line = f"{what} (pid {os.getpid()}: {' '.join(sys.argv)[:200]})"
    print(f"test network guard: refused {line}", file=sys.stderr, flush=True)
    path = os.environ.get(LOG_ENV)
    if path:
        fd = os.open(path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o600)
        try:
            os.write(fd, (line.replace("\n", " ") + "\n").encode("utf-8", "replace"))
        finally:
            os.close(fd)


if __name__ == "sitecustomize":  # imported at the start-up of a subprocess
    install(_report)
