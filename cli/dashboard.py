"""``newsmon dashboard``: the local web app over the read snapshot (see :mod:`web`)."""

from __future__ import annotations

import ipaddress
import signal
import socket
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Annotated, Any

import typer

from cli.app import ConfigOption, DbOption, app, console, err_console
from newsmon.config import load_settings
from newsmon.errors import ConfigError

DEFAULT_PORT = 8765
PortOption = Annotated[int, typer.Option("--port", "-p", help="port to listen on (0: any free port)", min=0, max=65535)]
HostOption = Annotated[str, typer.Option("--host", help="address to listen on (a warning beyond loopback)")]


def is_loopback(host: str) -> bool:
    """True for ``localhost`` and loopback addresses (127.0.0.0/8, ::1)."""
    if host.lower() == "localhost":
        return True
    try:
        return ipaddress.ip_address(host.strip("[]")).is_loopback
    except ValueError:
        return False


def bind(host: str, port: int) -> socket.socket:
    """A listening socket on ``host:port`` (port 0: any free port), or a one-line error."""
    try:
        infos = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM, flags=socket.AI_PASSIVE)
    except socket.gaierror as err:
        raise ConfigError(
            f"--host {host!r} does not resolve ({err.strerror}): pass an address such as 127.0.0.1"
        ) from err
    family, kind, proto, _name, address = infos[0]
    sock = socket.socket(family, kind, proto)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    try:
        sock.bind(address)
        sock.listen(128)
    except OSError as err:
        sock.close()
        raise ConfigError(
            f"cannot listen on {host}:{port} ({err.strerror}): pass another --port, or stop what uses it"
        ) from err
    sock.set_inheritable(True)
    return sock


def url_of(sock: socket.socket) -> str:
    """``http://HOST:PORT/`` of a listening socket (IPv6 hosts in brackets)."""
    host, port = sock.getsockname()[:2]
    return f"http://[{host}]:{port}/" if ":" in host else f"http://{host}:{port}/"


def _server(web_app: Any) -> Any:
    """A uvicorn server that stops on SIGINT or SIGTERM and returns (uvicorn itself re-raises the
    signal after its shutdown, which would end the process with that signal)."""
    import uvicorn

    class Server(uvicorn.Server):
        @contextmanager
        def capture_signals(self) -> Iterator[None]:
            previous = {sig: signal.signal(sig, self.handle_exit) for sig in (signal.SIGINT, signal.SIGTERM)}
            try:
                yield
            finally:
                for sig, handler in previous.items():
                    signal.signal(sig, handler)

    return Server(uvicorn.Config(web_app, log_level="warning", access_log=False, lifespan="off"))


@app.command()
def dashboard(
    db: DbOption = None,
    config: ConfigOption = None,
    port: PortOption = DEFAULT_PORT,
    host: HostOption = "127.0.0.1",
) -> None:
    """Serve the dashboard: topics and their trends, stories and their reprints, tags with their
    evidence, alerts and feed health, in a browser, from the snapshot of the last run.

    It reads the published snapshot (never the live database, so it never blocks a run) and
    picks up each new snapshot as runs publish them. It listens on 127.0.0.1 unless --host says
    otherwise (a warning is printed: the dashboard has no login). Ctrl-C or SIGTERM stops it.
    Story pages are at /stories/STORY_ID; filters are query parameters (topic, since, until, source).

    Examples:

      newsmon dashboard

      newsmon dashboard --db data/news.duckdb --port 8080
    """
    from web.app import create_app

    settings = load_settings(config, db=db)
    web_app = create_app(settings.db)
    sock = bind(host, port)
    if not is_loopback(host):
        err_console.print(
            f"newsmon: warning: listening on {host}, beyond loopback: anyone who can reach this machine can read"
            " the dashboard (it has no login)",
            highlight=False,
            markup=False,
            soft_wrap=True,
        )
    console.print(f"newsmon dashboard: {url_of(sock)} (reading {settings.db}; Ctrl-C to stop)", highlight=False,
                  markup=False, soft_wrap=True)  # fmt: skip
    try:
        _server(web_app).run(sockets=[sock])
    finally:
        sock.close()
        web_app.state.reader.close()
    console.print("newsmon dashboard: stopped", highlight=False)
