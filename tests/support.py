"""Helpers shared by the tests (not a test module)."""

from __future__ import annotations

import atexit
import os
import shutil
import tempfile
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path

from typer.testing import Result

from newsmon.config import default_topics_path
from newsmon.documents import read_documents
from newsmon.steps import Deduped, dedupe_batch, store_batch
from newsmon.topics import load_topics, tag_documents
from storage.snapshot import snapshot_path
from storage.store import Store

REPO = Path(__file__).resolve().parents[1]
SEEDS = REPO / "seeds"
NOW = datetime(2023, 3, 1, 12, 0, tzinfo=UTC)

Newsmon = Callable[..., Result]  # the ``newsmon`` fixture: the command, run in process


def store_seeds(store: Store, run_id: str, folder: Path = SEEDS) -> int:
    """Store a folder's documents the way a run does, without Prefect; returns new documents."""
    docs = read_documents(folder, NOW).documents
    topics = load_topics(default_topics_path())
    store.topics.register(topics, run_id, NOW)
    store.runs.start(run_id, NOW, str(folder))
    deduped = dedupe_batch(store, docs, 0.5)
    fps, assignments = deduped.fingerprints, deduped.assignments
    new = store_batch(store, run_id, NOW, docs, Deduped.of(fps, assignments), tag_documents(docs, topics))
    store.runs.finish(run_id, "completed", NOW)
    return new


_template: Path | None = None  # the seeds' database, built once per test process


def make_database(path: Path) -> Path:
    """A database holding the two seeds, with its read snapshot and lock file: a copy of the
    files that storing them once, in this test process, left (nothing in them names the file)."""
    global _template
    if _template is None:
        folder = Path(tempfile.mkdtemp(prefix="newsmon-test-template-"))
        atexit.register(shutil.rmtree, folder, ignore_errors=True)
        store = Store.open_writer(folder / "seeds.duckdb")
        try:
            store_seeds(store, "run-1")
        finally:
            store.close()
        _template = folder / "seeds.duckdb"
    copies = {
        _template: path,
        snapshot_path(_template): snapshot_path(path),
        _template.with_name(_template.name + ".lock"): path.with_name(path.name + ".lock"),
        _template.with_name(_template.name + ".wal"): path.with_name(path.name + ".wal"),
    }
    path.parent.mkdir(parents=True, exist_ok=True)
    for source, target in copies.items():
        if source.exists():
            shutil.copyfile(source, target)
    return path


def python_path(*first: Path) -> str:
    """A PYTHONPATH for a subprocess: ``first``, then the session's own (which starts with the
    network guard's folder), so a subprocess given its own path is still guarded."""
    return os.pathsep.join([*(str(p) for p in first), *filter(None, [os.environ.get("PYTHONPATH")])])


SHARED = REPO.parent / "shared"
SHARED_DATA = SHARED / "data"


def require_shared() -> Path:
    """The shared data folder, or skip the test with a clear reason."""
    import pytest

    if not SHARED_DATA.is_dir():
        pytest.skip("../shared/data is absent: real-data tests need the shared folder beside the checkout")
    return SHARED_DATA


class Route:
    """What a scripted server answers on one path (mutable between requests)."""

    def __init__(self, body: bytes, headers: dict[str, str] | None = None, status: int = 200, etag: str | None = None):
        self.body = body
        self.headers = headers or {"Content-Type": "application/rss+xml"}
        self.status = status
        self.etag = etag


class ScriptedServer:
    """A real HTTP server on 127.0.0.1 (or another loopback address) with scripted routes; records every request.

    Honours If-None-Match against a route's etag (304), like a well-behaved origin.
    """

    def __init__(self, host: str = "127.0.0.1") -> None:
        import http.server
        import threading

        self.routes: dict[str, Route] = {}
        self.requests: list[tuple[str, dict[str, str]]] = []
        server = self

        class Handler(http.server.BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def do_GET(self) -> None:
                server.requests.append((self.path, {k.lower(): v for k, v in self.headers.items()}))
                route = server.routes.get(self.path)
                if route is None:
                    self.send_response(404)
                    self.send_header("Content-Length", "0")
                    self.end_headers()
                    return
                if route.etag and self.headers.get("If-None-Match") == route.etag:
                    self.send_response(304)
                    self.send_header("ETag", route.etag)
                    self.send_header("Content-Length", "0")
                    self.end_headers()
                    return
                self.send_response(route.status)
                for name, value in route.headers.items():
                    self.send_header(name, value)
                if route.etag:
                    self.send_header("ETag", route.etag)
                self.send_header("Content-Length", str(len(route.body)))
                self.end_headers()
                self.wfile.write(route.body)

            def log_message(self, *_args: object) -> None:
                pass

        self.httpd = http.server.ThreadingHTTPServer((host, 0), Handler)
        self.httpd.daemon_threads = True
        self.thread = threading.Thread(target=self.httpd.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)
        self.thread.start()

    @property
    def port(self) -> int:
        """The port it listens on."""
        return int(self.httpd.server_address[1])

    @property
    def base(self) -> str:
        """``http://HOST:PORT`` (127.0.0.1 unless another loopback address was given)."""
        return f"http://{self.httpd.server_address[0]}:{self.port}"

    def url(self, path: str) -> str:
        """The absolute URL of a path on this server."""
        return self.base + path

    def hits(self, path: str) -> list[dict[str, str]]:
        """The headers of every request made for ``path``."""
        return [headers for p, headers in self.requests if p == path]

    def close(self) -> None:
        """Stop serving."""
        self.httpd.shutdown()
        self.httpd.server_close()
