"""Notifications through Apprise to a webhook receiver on 127.0.0.1: exactly once per alert and URL,
across reruns, receiver failures and crashes; never failing the run (newsmon.notify, the alert stage)."""

from __future__ import annotations

import http.server
import itertools
import json
import logging
import re
import socket
import threading
import time
from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import duckdb
import pytest
from support import NOW, store_seeds

from newsmon.alerting import store_alerts
from newsmon.alerts import AlertRecord
from newsmon.errors import ConfigError
from newsmon.notify import (
    DELIVERED,
    MAX_ATTEMPTS,
    NotifyConfig,
    Outcome,
    PendingDelivery,
    Sent,
    deliver_all,
    load_notify_config,
    redact,
    send,
    still_sending,
    target_key,
    unknown_routes,
)
from storage.store import Store


class Receiver:
    """A webhook receiver on 127.0.0.1 that records every POST and can fail the first N per path."""

    def __init__(self) -> None:
        self.posts: list[tuple[str, int, dict[str, Any]]] = []  # path, status answered, JSON body
        self.fail_next: dict[str, int] = {}
        receiver = self

        class Handler(http.server.BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                body = self.rfile.read(int(self.headers.get("Content-Length", 0)))
                failing = receiver.fail_next.get(self.path, 0)
                status = 500 if failing else 200
                if failing:
                    receiver.fail_next[self.path] = failing - 1
                receiver.posts.append((self.path, status, json.loads(body or b"{}")))
                self.send_response(status)
                self.send_header("Content-Length", "0")
                self.end_headers()

            def log_message(self, *_args: object) -> None:
                pass

        self.httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.thread = threading.Thread(target=self.httpd.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)
        self.thread.start()

    def url(self, path: str, auth: str = "") -> str:
        return f"json://{auth}127.0.0.1:{self.httpd.server_address[1]}{path}"

    def delivered(self, path: str) -> list[str]:
        """Alert ids received with success on ``path``, in order."""
        return [_alert_id(body) for p, status, body in self.posts if p == path and status == 200]

    def close(self) -> None:
        self.httpd.shutdown()
        self.httpd.server_close()


def _alert_id(body: dict[str, Any]) -> str:
    return body["message"].rsplit("newsmon alert `", 1)[1].split("`", 1)[0]


@pytest.fixture
def receiver() -> Iterator[Receiver]:
    server = Receiver()
    yield server
    server.close()


class SlowReceiver:
    """A receiver on 127.0.0.1 that records each POST (path, alert id), then either never answers
    (``hang``) or answers 200 and trickles its body a byte every 0.2 s (``trickle``): Apprise's
    timeouts, per read, never end such a request. ``mode`` can change: ``ok`` answers at once."""

    def __init__(self, mode: str) -> None:
        self.mode = mode
        self.delay_s = 0.0  # how long to wait before answering
        self.posts: list[tuple[str, str]] = []
        self.stop = threading.Event()
        receiver = self

        class Handler(http.server.BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                body = json.loads(self.rfile.read(int(self.headers.get("Content-Length", 0))))
                receiver.posts.append((self.path, _alert_id(body)))
                if receiver.delay_s:
                    receiver.stop.wait(receiver.delay_s)
                if receiver.mode == "hang":
                    receiver.stop.wait()
                    return
                self.send_response(200)
                self.send_header("Content-Length", "0" if receiver.mode == "ok" else "100000")
                self.end_headers()
                while receiver.mode == "trickle" and not receiver.stop.wait(0.2):
                    self.wfile.write(b" ")
                    self.wfile.flush()

            def log_message(self, *_args: object) -> None:
                pass

        self.httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.thread = threading.Thread(target=self.httpd.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)
        self.thread.start()

    def url(self, path: str) -> str:
        return f"json://127.0.0.1:{self.httpd.server_address[1]}{path}"

    def close(self) -> None:
        self.stop.set()  # the requests still open end, and so do the senders left waiting on them
        self.httpd.shutdown()
        self.httpd.server_close()


@pytest.fixture(params=["trickle", "hang"])
def slow_receiver(request: pytest.FixtureRequest) -> Iterator[SlowReceiver]:
    server = SlowReceiver(request.param)
    yield server
    server.close()


@pytest.fixture
def db(tmp_path: Path) -> Path:
    """A database holding the two seeds, tagged and not alerted yet."""
    path = tmp_path / "n.duckdb"
    store = Store.open_writer(path)
    try:
        store_seeds(store, "ingest")
    finally:
        store.close()
    return path


def write_notify(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, routes: dict[str, list[str]]) -> Path:
    path = tmp_path / "notify.toml"
    lines = ["[notify]"] + [f"{json.dumps(topic)} = {json.dumps(urls)}" for topic, urls in routes.items()]
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    monkeypatch.setenv("NEWSMON_NOTIFY", str(path))
    return path


def notify_file() -> Path | None:
    """The notify file a run uses now (``NEWSMON_NOTIFY``, as :func:`write_notify` sets it)."""
    from newsmon.config import Settings

    return Settings().notify_path


def alert_stage(
    db: Path, run_id: str, folder: Path, hours: int = 0, notify_timeout_s: float = 30.0
) -> list[AlertRecord]:
    """One run's alert stage, as the monitor flow runs it."""
    store = Store.open_writer(db)
    try:
        now = NOW + timedelta(hours=hours)
        store.runs.start(run_id, now, "test")
        records = store_alerts(store, run_id, now, folder, notify_file=notify_file(), notify_timeout_s=notify_timeout_s)
        store.runs.finish(run_id, "completed", now)
        return records
    finally:
        store.close()


def _waiting(db: Path, run_id: str) -> int:
    store = Store.open_writer(db)
    try:
        return int(store.deliveries.waiting(run_id, MAX_ATTEMPTS))
    finally:
        store.close(snapshot=False)


def deliveries(db: Path) -> list[tuple[Any, ...]]:
    con = duckdb.connect(str(db), read_only=True)
    try:
        return con.execute(
            "SELECT topic, target, status, attempts, last_error IS NOT NULL FROM v_deliveries ORDER BY topic, target"
        ).fetchall()
    finally:
        con.close()


def test_exactly_once_across_a_receiver_failure_and_reruns(
    db: Path, tmp_path: Path, receiver: Receiver, monkeypatch: pytest.MonkeyPatch
) -> None:
    write_notify(tmp_path, monkeypatch, {"russia-sanctions": [receiver.url("/hook")], "*": [receiver.url("/all")]})
    receiver.fail_next["/hook"] = 1  # the topic's own receiver is down for the first attempt
    first = alert_stage(db, "run-1", tmp_path / "alerts")
    topics = {r.topic for r in first}
    assert "russia-sanctions" in topics and len(first) >= 2
    sanctions = next(r.id for r in first if r.topic == "russia-sanctions")
    assert sorted(receiver.delivered("/all")) == sorted(r.id for r in first)
    assert receiver.delivered("/hook") == [] and [p for p, s, _ in receiver.posts if s == 500] == ["/hook"]
    rows = {(topic, target): (status, attempts, error) for topic, target, status, attempts, error in deliveries(db)}
    hook = redact(receiver.url("/hook"))
    assert rows[("russia-sanctions", hook)] == ("failed", 1, True)
    assert all(status == "sent" for (_t, target), (status, *_rest) in rows.items() if target != hook)

    second = alert_stage(db, "run-2", tmp_path / "alerts", hours=1)  # a rerun: nothing new, the failure retried
    assert second == []
    assert receiver.delivered("/hook") == [sanctions]
    third = alert_stage(db, "run-3", tmp_path / "alerts", hours=2)
    assert third == []
    assert receiver.delivered("/hook") == [sanctions]  # never twice
    assert sorted(receiver.delivered("/all")) == sorted(r.id for r in first)
    assert {status for _t, _u, status, _a, _e in deliveries(db)} == {"sent"}
    message = next(body for p, s, body in receiver.posts if p == "/hook" and s == 200)
    assert message["title"].startswith("newsmon: Russia sanctions") and "# Russia sanctions" in message["message"]


def test_an_unreachable_receiver_never_fails_the_run(
    db: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    with socket.socket() as sock:  # a loopback port with nobody listening
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    write_notify(tmp_path, monkeypatch, {"*": [f"json://127.0.0.1:{port}/hook"]})
    caplog.set_level(logging.WARNING)
    records = alert_stage(db, "run-1", tmp_path / "alerts")
    assert records and len(list((tmp_path / "alerts").glob("*.md"))) == len(records)
    rows = deliveries(db)
    assert len(rows) == len(records) and {(status, attempts, error) for *_x, status, attempts, error in rows} == {
        ("failed", 1, True)
    }
    assert "will retry" in caplog.text
    assert not [r for r in caplog.records if r.name.startswith("apprise")]  # one line each, newsmon's
    assert len([r for r in caplog.records if r.name == "newsmon.notify"]) == len(records)


def test_a_delivery_cut_short_by_a_crash_is_retried(
    db: Path, tmp_path: Path, receiver: Receiver, monkeypatch: pytest.MonkeyPatch
) -> None:
    write_notify(tmp_path, monkeypatch, {"*": [receiver.url("/all")]})
    store = Store.open_writer(db)
    try:
        records = store_alerts(store, "run-1", NOW, tmp_path / "alerts", notify_file=notify_file())
        # what a run killed during a request leaves: attempts noted, outcomes never recorded
        con = store.con
        con.execute("UPDATE deliveries SET status = 'sending', attempts = 1").fetchall()
    finally:
        store.close()
    sent_before = len(receiver.delivered("/all"))
    assert sent_before == len(records)
    alert_stage(db, "run-2", tmp_path / "alerts", hours=1)
    assert len(receiver.delivered("/all")) == 2 * len(records)  # at least once: the receiver may see it twice
    assert {status for *_x, status, _a, _e in deliveries(db)} == {"sent"}


def test_a_receiver_that_never_finishes_its_answer_fails_the_delivery_at_the_deadline(
    db: Path, tmp_path: Path, slow_receiver: SlowReceiver, monkeypatch: pytest.MonkeyPatch
) -> None:
    write_notify(tmp_path, monkeypatch, {"russia-sanctions": [slow_receiver.url("/hook")]})
    started = time.monotonic()
    alert_stage(db, "run-1", tmp_path / "alerts", notify_timeout_s=1)
    assert time.monotonic() - started < 10  # without a deadline, minutes (trickle: 100000 bytes, 5 a second)
    assert [path for path, _id in slow_receiver.posts] == ["/hook"]
    con = duckdb.connect(str(db), read_only=True)
    try:
        rows = con.execute("SELECT status, attempts, last_error FROM deliveries").fetchall()
    finally:
        con.close()
    assert len(rows) == 1 and rows[0][:2] == ("failed", 1)  # retried by the next run
    assert rows[0][2].startswith("timeout: no answer within 1 s (notify_timeout_s): the receiver is slow or hangs")


def test_the_notify_step_leaves_what_it_has_no_time_for_to_the_next_run(
    db: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    hanging = SlowReceiver("hang")
    try:
        write_notify(tmp_path, monkeypatch, {"*": [hanging.url(f"/{n}") for n in range(4)]})
        caplog.set_level(logging.INFO)
        started = time.monotonic()
        records = alert_stage(db, "run-1", tmp_path / "alerts", notify_timeout_s=0.25)  # the step: 1 s
        took = time.monotonic() - started
    finally:
        hanging.close()
    assert len(records) >= 2 and took < 8
    rows = [(status, attempts, error) for *_x, status, attempts, error in deliveries(db)]
    tried = [row for row in rows if row[1] == 1]
    assert 3 <= len(tried) <= 5 and {status for status, *_x in tried} == {"failed"}
    left = [row for row in rows if row[1] == 0]
    assert left and set(left) == {("pending", 0, False)} and len(tried) + len(left) == len(rows)
    assert "left for the next run: the notify step reached its deadline (1 s, 4 × notify_timeout_s)" in caplog.text
    assert f"notify: {len(left)} left for the next run: the notify step reached its deadline" in caplog.text


def test_a_request_that_reached_the_receiver_but_timed_out_is_sent_again_with_its_alert_id(
    db: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    slow = SlowReceiver("hang")  # the first request arrives, its answer never does
    try:
        write_notify(tmp_path, monkeypatch, {"russia-sanctions": [slow.url("/hook")]})
        first = alert_stage(db, "run-1", tmp_path / "alerts", notify_timeout_s=0.5)
        sanctions = next(r.id for r in first if r.topic == "russia-sanctions")
        slow.mode = "ok"
        slow.stop.set()  # the receiver drops the request it held, which ends the send given up on
        wait_for(lambda: not still_sending(target_key(slow.url("/hook"))))
        alert_stage(db, "run-2", tmp_path / "alerts", hours=1, notify_timeout_s=0.5)
    finally:
        slow.close()
    assert slow.posts == [("/hook", sanctions), ("/hook", sanctions)]  # twice, each with its alert id
    assert [(status, attempts) for *_x, status, attempts, _e in deliveries(db)] == [("sent", 2)]
    readme = (Path(__file__).resolve().parents[1] / "README.md").read_text(encoding="utf-8")
    section = " ".join(readme[readme.index("### Notifications") : readme.index("### Replays")].split())
    assert "Only a run killed" not in section  # not the only way to get an alert twice
    assert "Delivery is at least once" in section and "within `notify_timeout_s`" in section
    assert "so a receiver can drop repeats" in section


def test_notify_timeout_s_is_a_positive_finite_setting() -> None:
    from newsmon.config import Settings, load_settings

    assert Settings().notify_timeout_s == 30
    assert load_settings(notify_timeout_s=2.5).notify_timeout_s == 2.5
    for bad in (0, -1, float("inf")):
        with pytest.raises(ConfigError, match="invalid setting 'notify_timeout_s'"):
            load_settings(notify_timeout_s=bad)


@pytest.mark.parametrize(
    ("case", "logged"),
    [
        ("refused", "refused: the connection was refused (nothing listens there): check the host and port"),
        ("http-500", "http-5xx: HTTP 500 Internal Server Error: the server answered with a server error"),
        ("hang", "timeout: no answer within 1 s (notify_timeout_s): the receiver is slow or hangs"),
        ("invalid-url", "invalid-url: not a valid Apprise URL: fix it in the notify file"),
    ],
    ids=["refused", "http-500", "hang", "invalid-url"],
)
def test_a_failed_delivery_is_one_line_naming_the_topic_and_what_failed(
    case: str,
    logged: str,
    db: Path,
    tmp_path: Path,
    receiver: Receiver,
    monkeypatch: pytest.MonkeyPatch,
    caplog: pytest.LogCaptureFixture,
) -> None:
    hanging = SlowReceiver("hang")
    with socket.socket() as sock:  # a loopback port with nobody listening
        sock.bind(("127.0.0.1", 0))
        closed = f"json://127.0.0.1:{sock.getsockname()[1]}/hook"
    urls = {"refused": closed, "http-500": receiver.url("/hook"), "hang": hanging.url("/hook")}
    receiver.fail_next["/hook"] = 1
    write_notify(tmp_path, monkeypatch, {"russia-sanctions": [urls.get(case, "nonsense://x")]})
    caplog.set_level(logging.WARNING)
    try:
        alert_stage(db, "run-1", tmp_path / "alerts", notify_timeout_s=1)
    finally:
        hanging.close()
    lines = [r.getMessage() for r in caplog.records if r.name == "newsmon.notify"]
    assert len(lines) == 1 and " of russia-sanctions not delivered to " in lines[0], lines
    assert lines[0].split(": ", 1)[1].startswith(logged), lines[0]
    assert not [r for r in caplog.records if r.name.startswith("apprise")]
    con = duckdb.connect(str(db), read_only=True)
    try:
        (error,) = con.execute("SELECT last_error FROM deliveries").fetchone() or ("",)
    finally:
        con.close()
    assert error.startswith(logged)


def test_a_failed_send_carries_its_failure_class(receiver: Receiver) -> None:
    """The class of a failure is a field of the result, not read back from its message."""
    with socket.socket() as sock:  # a loopback port with nobody listening
        sock.bind(("127.0.0.1", 0))
        closed = f"json://127.0.0.1:{sock.getsockname()[1]}/hook"
    receiver.fail_next["/hook"] = 1
    results = [send(url, "t", "b", 5.0) for url in (closed, receiver.url("/hook"), "nonsense://x")]
    assert [(r.delivered, r.kind) for r in results] == [(False, "refused"), (False, "http-5xx"), (False, "invalid-url")]
    assert all(r.error and r.error.startswith(f"{r.kind}: ") for r in results)


def test_connection_failures_are_classed_from_the_errors_they_came_from() -> None:
    import ssl

    from newsmon.errors import connection_failure_kind, root_reason

    def raised(*chain: BaseException) -> BaseException:
        """The first of ``chain``, each raised while handling the next (as requests raises its errors)."""
        for outer, inner in itertools.pairwise(chain):
            outer.__context__ = inner
        return chain[0]

    assert connection_failure_kind(raised(OSError("pool"), ConnectionRefusedError(111, "refused"))) == "refused"
    assert connection_failure_kind(raised(OSError("Read timed out"), TimeoutError("timed out"))) == "timeout"
    assert connection_failure_kind(raised(OSError("name"), socket.gaierror(-2, "Name or service not known"))) == "dns"
    assert connection_failure_kind(raised(OSError("tls"), ssl.SSLError(1, "bad certificate"))) == "tls"
    reset = raised(OSError("pool"), ConnectionResetError(104, "reset"))
    assert connection_failure_kind(reset) == "connect" and root_reason(reset) == "Connection reset by peer"


def test_only_configured_urls_receive_and_secrets_stay_out_of_the_database(
    db: Path, tmp_path: Path, receiver: Receiver, monkeypatch: pytest.MonkeyPatch
) -> None:
    secret = receiver.url("/hook", auth="user:s3cret-token@")
    write_notify(tmp_path, monkeypatch, {"covid-origins": [secret]})
    receiver.fail_next["/hook"] = 1
    records = alert_stage(db, "run-1", tmp_path / "alerts")
    assert [row[0] for row in deliveries(db)] == ["covid-origins"]  # only the configured topic
    con = duckdb.connect(str(db), read_only=True)
    try:
        dump = json.dumps(con.execute("SELECT * FROM deliveries").fetchall(), default=str)
    finally:
        con.close()
    assert "s3cret" not in dump and "user" not in dump
    # the URL is removed from the config before the retry: the delivery is dropped, not sent
    write_notify(tmp_path, monkeypatch, {"covid-origins": [receiver.url("/other")]})
    alert_stage(db, "run-2", tmp_path / "alerts", hours=1)
    assert [status for *_x, status, _a, _e in deliveries(db)] == ["dropped"]
    assert receiver.delivered("/hook") == [] and receiver.delivered("/other") == []
    store = Store.open_writer(db)
    try:  # the run that dropped it counts it, so its summary says so
        assert store.deliveries.outcomes_of_run("run-2") == {"dropped": 1}
    finally:
        store.close(snapshot=False)
    assert len(records) >= 1


def test_a_bad_notify_file_holds_notifications_but_not_the_alerts(
    db: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    bad = tmp_path / "notify.toml"
    bad.write_text('[notify]\nrussia-sanctions = "json://127.0.0.1:9/x"\n', encoding="utf-8")
    monkeypatch.setenv("NEWSMON_NOTIFY", str(bad))
    caplog.set_level(logging.ERROR)
    records = alert_stage(db, "run-1", tmp_path / "alerts")
    assert records and deliveries(db) == []
    assert "notifications held" in caplog.text and "must be a list of URLs" in caplog.text


def test_alerts_made_while_the_notify_file_is_broken_are_sent_once_it_is_fixed(
    db: Path, tmp_path: Path, receiver: Receiver, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    """A typo in notify.toml holds the run's alerts back, it does not lose them: the first run
    with a valid file routes and sends them."""
    path = write_notify(tmp_path, monkeypatch, {"russia-sanctions": [receiver.url("/hook")]})
    path.write_text('[notify]\nrussia-sanctions = ["json://127.0.0.1:9/x"\n', encoding="utf-8")  # unclosed
    caplog.set_level(logging.ERROR)
    first = alert_stage(db, "run-1", tmp_path / "alerts")
    held = next(r.id for r in first if r.topic == "russia-sanctions")
    assert deliveries(db) == [] and receiver.posts == []
    assert "notifications held" in caplog.text and "sent once the notify file is fixed" in caplog.text
    write_notify(tmp_path, monkeypatch, {"russia-sanctions": [receiver.url("/hook")]})
    assert alert_stage(db, "run-2", tmp_path / "alerts", hours=1) == []  # nothing new: only the held alert goes out
    assert receiver.delivered("/hook") == [held]
    alert_stage(db, "run-3", tmp_path / "alerts", hours=2)
    assert receiver.delivered("/hook") == [held]  # once


def test_a_failure_to_queue_held_alerts_never_fails_the_run(
    db: Path, tmp_path: Path, receiver: Receiver, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    from storage.alerts import AlertRepository

    path = write_notify(tmp_path, monkeypatch, {"russia-sanctions": [receiver.url("/hook")]})
    path.write_text("[notify\n", encoding="utf-8")
    held = next(r.id for r in alert_stage(db, "run-1", tmp_path / "alerts") if r.topic == "russia-sanctions")
    write_notify(tmp_path, monkeypatch, {"russia-sanctions": [receiver.url("/hook")]})

    def broken(*_args: object) -> None:
        raise RuntimeError("disk went away")

    with monkeypatch.context() as patch:
        patch.setattr(AlertRepository, "route_held", broken)
        caplog.set_level(logging.ERROR)
        alert_stage(db, "run-2", tmp_path / "alerts", hours=1)  # does not raise
    assert "notify: held alerts not queued (RuntimeError: disk went away); the next run queues them" in caplog.text
    alert_stage(db, "run-3", tmp_path / "alerts", hours=2)
    assert receiver.delivered("/hook") == [held]


def test_the_notify_file_can_be_named_in_the_settings(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """A scheduled run started in another folder finds the notify file its config names."""
    from newsmon.config import load_settings

    monkeypatch.delenv("NEWSMON_NOTIFY", raising=False)
    monkeypatch.chdir(tmp_path)
    assert load_settings().notify_path is None
    (tmp_path / "notify.toml").write_text("[notify]\n", encoding="utf-8")
    assert load_settings().notify_path == Path("notify.toml")
    config = tmp_path / "newsmon.toml"
    config.write_text('notify = "/srv/newsmon/notify.toml"\n', encoding="utf-8")
    assert load_settings(config).notify_path == Path("/srv/newsmon/notify.toml")
    monkeypatch.setenv("NEWSMON_NOTIFY", "/etc/newsmon/notify.toml")
    assert load_settings().notify_path == Path("/etc/newsmon/notify.toml")


# --- unit ---------------------------------------------------------------------------------


def test_load_notify_config(tmp_path: Path) -> None:
    path = tmp_path / "notify.toml"
    path.write_text('[notify]\na = ["json://h/x", "mailto://u:p@h"]\n"*" = ["json://h/all"]\n', encoding="utf-8")
    config = load_notify_config(path)
    assert config.urls_for("a") == ("json://h/x", "mailto://u:p@h", "json://h/all")
    assert config.urls_for("b") == ("json://h/all",)
    assert config.urls_by_key().get(target_key("mailto://u:p@h")) == "mailto://u:p@h"
    assert config.urls_by_key().get(target_key("json://elsewhere/x")) is None
    assert unknown_routes(config, ["b"]) == ["a"]
    assert load_notify_config(None) == NotifyConfig()


def test_every_alert_route_can_leave_topics_out(tmp_path: Path) -> None:
    path = tmp_path / "notify.toml"
    path.write_text(
        '[notify]\na = ["json://h/a"]\n"*" = { urls = ["json://h/all"], except = ["a", "covid-origins", "typo"] }\n',
        encoding="utf-8",
    )
    config = load_notify_config(path)
    assert config.urls_for("a") == ("json://h/a",)  # its own route still applies
    assert config.urls_for("covid-origins") == ()
    assert config.urls_for("russia-sanctions") == ("json://h/all",)
    assert unknown_routes(config, ["a", "covid-origins", "russia-sanctions"]) == ['"*".except: typo']


def test_quiet_hours_span_midnight_in_their_own_time_zone(tmp_path: Path) -> None:
    path = tmp_path / "notify.toml"
    path.write_text(
        '[notify]\n"*" = ["json://h/all", "mailto://u:p@h"]\n'
        '[quiet]\nhours = "22:00-07:00"\ntimezone = "Europe/Berlin"\nurls = ["mailto://u:p@h"]\n',
        encoding="utf-8",
    )
    config = load_notify_config(path)
    winter = datetime(2023, 1, 10, tzinfo=UTC)  # Berlin is UTC+1
    assert config.is_quiet("mailto://u:p@h", winter.replace(hour=21))  # 22:00 in Berlin
    assert config.is_quiet("mailto://u:p@h", winter.replace(hour=5, minute=59))  # 06:59
    assert not config.is_quiet("mailto://u:p@h", winter.replace(hour=6))  # 07:00
    assert not config.is_quiet("mailto://u:p@h", winter.replace(hour=20, minute=59))
    assert not config.is_quiet("json://h/all", winter.replace(hour=23))  # not listed: never quiet
    summer = datetime(2023, 7, 10, 20, 30, tzinfo=UTC)  # 22:30 in Berlin (UTC+2)
    assert config.is_quiet("mailto://u:p@h", summer)
    all_day = load_notify_config(
        _written(tmp_path, '[notify]\n"*" = ["json://h/all"]\n[quiet]\nhours = "00:00-24:00"\n')
    )
    assert all(all_day.is_quiet("json://h/all", winter.replace(hour=h, minute=59)) for h in range(24))
    evening = load_notify_config(
        _written(tmp_path, '[notify]\n"*" = ["json://h/all"]\n[quiet]\nhours = "20:00-24:00"\n')
    )
    assert evening.is_quiet("json://h/all", winter.replace(hour=22, minute=59))  # UTC: no timezone given
    assert not evening.is_quiet("json://h/all", winter.replace(hour=0, minute=30))
    day = load_notify_config(_written(tmp_path, '[notify]\n"*" = ["json://h/all"]\n[quiet]\nhours = "12:00-13:30"\n'))
    assert day.is_quiet("json://h/all", winter.replace(hour=13, minute=29)) and not day.is_quiet(
        "json://h/all", winter.replace(hour=13, minute=30)
    )


def _written(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "notify.toml"
    path.write_text(text, encoding="utf-8")
    return path


def test_deliveries_wait_out_the_quiet_hours_and_go_at_the_first_run_after(
    db: Path, tmp_path: Path, receiver: Receiver, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    """A run at 03:00 makes its alerts but sends nothing to the quiet URL (the other one gets
    them); the run at 08:00 sends them, once."""
    quiet_url, loud_url = receiver.url("/phone"), receiver.url("/archive")
    path = write_notify(tmp_path, monkeypatch, {"*": [quiet_url, loud_url]})
    with path.open("a", encoding="utf-8") as out:
        out.write(f'[quiet]\nhours = "22:00-07:00"\nurls = [{json.dumps(quiet_url)}]\n')
    night = 24 + 3 - NOW.hour  # hours from NOW to 03:00 UTC the next day
    with caplog.at_level(logging.INFO, logger="newsmon.notify"):
        records = alert_stage(db, "run-night", tmp_path / "alerts", hours=night)
    assert records and receiver.delivered("/phone") == []
    assert sorted(receiver.delivered("/archive")) == sorted(r.id for r in records)
    assert any(f"{len(records)} held for quiet hours (22:00-07:00 UTC)" in m for m in caplog.messages)
    assert _waiting(db, "run-night") == len(records)  # the run summary's "waiting" row
    alert_stage(db, "run-morning", tmp_path / "alerts", hours=night + 5)
    assert sorted(receiver.delivered("/phone")) == sorted(r.id for r in records)
    assert _waiting(db, "run-morning") == 0
    alert_stage(db, "run-later", tmp_path / "alerts", hours=night + 6)
    assert len(receiver.delivered("/phone")) == len(records) and len(receiver.delivered("/archive")) == len(records)
    assert {status for _t, _k, status, _a, _e in deliveries(db)} == {"sent"}


def test_a_failed_delivery_held_by_quiet_hours_counts_as_waiting(
    db: Path, tmp_path: Path, receiver: Receiver, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A delivery that failed at noon and is held at night by quiet hours is waiting, as the run
    summary says; its own failure is counted by the run that made it, not again."""
    url = receiver.url("/phone")
    path = write_notify(tmp_path, monkeypatch, {"*": [url]})
    with path.open("a", encoding="utf-8") as out:
        out.write('[quiet]\nhours = "22:00-07:00"\n')
    receiver.fail_next["/phone"] = 99
    records = alert_stage(db, "run-noon", tmp_path / "alerts")
    assert records and _waiting(db, "run-noon") == 0  # failed in this run: the "failed" row counts them
    alert_stage(db, "run-night", tmp_path / "alerts", hours=24 + 3 - NOW.hour)
    assert _waiting(db, "run-night") == len(records)
    assert {status for *_x, status, _a, _e in deliveries(db)} == {"failed"}


def test_a_daily_digest_is_due_for_alerts_made_before_its_latest_time(tmp_path: Path) -> None:
    config = load_notify_config(
        _written(tmp_path, '[notify]\n"*" = ["json://h/all"]\n[digest]\nat = "08:00"\ntimezone = "Europe/Berlin"\n')
    )
    digest = config.digest
    assert digest is not None and digest.applies_to("json://h/all")
    made = datetime(2023, 3, 1, 9, 0, tzinfo=UTC)  # 10:00 in Berlin, after that day's digest
    assert not digest.due(made, datetime(2023, 3, 1, 23, 0, tzinfo=UTC))
    assert not digest.due(made, datetime(2023, 3, 2, 6, 59, tzinfo=UTC))  # 07:59 in Berlin
    assert digest.due(made, datetime(2023, 3, 2, 7, 0, tzinfo=UTC))  # 08:00 in Berlin
    assert digest.due(made, datetime(2023, 3, 5, 3, 0, tzinfo=UTC))  # no run for days: the first run after
    summer = datetime(2023, 7, 1, 6, 30, tzinfo=UTC)  # 08:30 in Berlin (UTC+2)
    assert digest.due(datetime(2023, 6, 30, 12, 0, tzinfo=UTC), summer)
    assert not digest.due(datetime(2023, 7, 1, 6, 5, tzinfo=UTC), summer)  # made at 08:05: the next one
    assert digest.next_time(summer) == datetime(2023, 7, 2, 6, 0, tzinfo=UTC)


@pytest.mark.parametrize("day", ["2023-03-26", "2023-10-29"], ids=["spring-forward", "fall-back"])
def test_digest_times_hold_on_the_days_clocks_change(tmp_path: Path, day: str) -> None:
    """02:30 in Berlin does not exist on 26 March and happens twice on 29 October: through every
    minute of those days the latest digest time is never after the clock, the next one never
    before it, and an alert made just before the digest time is due at most once a day."""
    config = load_notify_config(
        _written(tmp_path, '[notify]\n"*" = ["json://h/all"]\n[digest]\nat = "02:30"\ntimezone = "Europe/Berlin"\n')
    )
    digest = config.digest
    assert digest is not None
    start = datetime.fromisoformat(f"{day}T00:00:00+00:00") - timedelta(hours=3)
    made = start
    due_from = None
    for minute in range(0, 30 * 60, 5):
        now = start + timedelta(minutes=minute)
        last, following = digest.last_time(now), digest.next_time(now)
        assert last <= now < following, now
        assert timedelta(hours=22) <= following - last <= timedelta(hours=26)
        if digest.due(made, now) and due_from is None:
            due_from = now
        if due_from is not None:
            assert digest.due(made, now), now  # once due, it stays due
    assert due_from is not None and due_from - made < timedelta(hours=6)


def test_an_alert_for_a_digest_waits_for_the_digest_not_just_for_the_end_of_quiet_hours(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    config = load_notify_config(
        _written(tmp_path, '[notify]\n"*" = ["json://h/all"]\n[quiet]\nhours = "22:00-07:00"\n[digest]\nat = "08:00"\n')
    )
    made = datetime(2023, 3, 1, 22, 30, tzinfo=UTC)
    pending = [PendingDelivery("a1", "t", target_key("json://h/all"), "json://…", 0, "t", "b", made)]
    sent: list[str] = []

    def sender(url: str, title: str, body: str, timeout_s: float) -> Sent:
        sent.append(body)
        return DELIVERED

    def run(at: datetime) -> dict[str, int]:
        return deliver_all(pending, config, lambda d: None, lambda d, o: None, sender=sender, timeout_s=30, now=at)

    with caplog.at_level(logging.INFO, logger="newsmon.notify"):
        waiting = run(datetime(2023, 3, 2, 7, 30, tzinfo=UTC))  # quiet hours over, the digest not yet
    assert waiting == {"waiting for the daily digest at 08:00 UTC (next 2023-03-02 08:00 UTC)": 1}
    assert not any("quiet hours" in m for m in caplog.messages)
    assert run(datetime(2023, 3, 2, 8, 5, tzinfo=UTC)) == {"sent": 1}
    assert sent == ["## t\n\nb"]  # a digest of one alert is still a digest: titled "newsmon digest: 1 alert (t)"


def test_a_long_digest_cuts_each_alert_and_keeps_every_id() -> None:
    from newsmon.notify import DIGEST_SECTION_CHARS, digest_message

    body = "\n".join(f"{n}. **[Story {n}](https://news.example/{n})**" for n in range(400))
    unit = [
        PendingDelivery(f"a{k}", "t", "key", "json://…", 0, f"Alert {k}", f"{body}\n\n---\nnewsmon alert `a{k}`\n")
        for k in range(5)
    ]
    title, message = digest_message(unit)
    assert title == "newsmon digest: 5 alerts (t)"
    assert re.findall(r"newsmon alert `(a\d)`", message) == [f"a{k}" for k in range(5)]
    assert message.count("(cut here: the whole alert is in its digest file)") == 5
    assert len(message) < 5 * (DIGEST_SECTION_CHARS + 200)


def test_a_receiver_that_answers_in_five_seconds_gets_the_alert_once() -> None:
    """Apprise reads an answer for 4 s by default; the deadline is notify_timeout_s (30 s), so a
    receiver that takes 5 s is sent to once, not counted failed and sent to again every run."""
    server = SlowReceiver("ok")
    server.delay_s = 5.0
    try:
        started = time.monotonic()
        assert send(server.url("/slow"), "t", "x\n\nnewsmon alert `a1`", 30.0) == DELIVERED
        assert 5.0 <= time.monotonic() - started < 20 and server.posts == [("/slow", "a1")]
    finally:
        server.close()


def test_a_message_longer_than_the_service_takes_goes_in_parts(receiver: Receiver) -> None:
    """JSON webhooks take 32,768 characters a message: a longer one goes in parts, not refused."""
    body = "\n".join(f"line {n} " + "x" * 90 for n in range(700)) + "\n\n---\nnewsmon alert `a1`\n"
    assert send(receiver.url("/long"), "Title", body, 30.0) == DELIVERED
    posts = [b for path, status, b in receiver.posts if path == "/long" and status == 200]
    assert len(posts) == 3 and posts[0]["title"] == "Title [1/3]" and "newsmon alert `a1`" in posts[-1]["message"]


def test_a_daily_digest_sends_the_waiting_alerts_as_one_message_at_its_time(
    db: Path, tmp_path: Path, receiver: Receiver, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    """Alerts made at noon reach the webhook at once; the mailbox that gets a daily digest at
    08:00 gets them the next morning, in one message that carries every alert id, once."""
    mail, hook = receiver.url("/mail"), receiver.url("/hook")
    path = write_notify(tmp_path, monkeypatch, {"*": [mail, hook]})
    with path.open("a", encoding="utf-8") as out:
        out.write(f'[digest]\nat = "08:00"\nurls = [{json.dumps(mail)}]\n')
    with caplog.at_level(logging.INFO, logger="newsmon.notify"):
        records = alert_stage(db, "run-noon", tmp_path / "alerts")
    ids = sorted(r.id for r in records)
    assert len(ids) >= 2 and sorted(receiver.delivered("/hook")) == ids
    assert [p for p in receiver.posts if p[0] == "/mail"] == []
    assert any(
        f"{len(ids)} waiting for the daily digest at 08:00 UTC (next 2023-03-02 08:00 UTC)" in m
        for m in caplog.messages
    )
    alert_stage(db, "run-dawn", tmp_path / "alerts", hours=19)  # 07:00 the next day
    assert [p for p in receiver.posts if p[0] == "/mail"] == []
    alert_stage(db, "run-morning", tmp_path / "alerts", hours=21)  # 09:00
    alert_stage(db, "run-later", tmp_path / "alerts", hours=22)
    (post,) = [p for p in receiver.posts if p[0] == "/mail"]
    topics = ", ".join(sorted(r.topic for r in records))
    assert post[1] == 200 and post[2]["title"] == f"newsmon digest: {len(ids)} alerts ({topics})"
    assert sorted(re.findall(r"newsmon alert `([^`]+)`", post[2]["message"])) == ids
    assert {status for _t, _k, status, _a, _e in deliveries(db)} == {"sent"}


def test_alerts_held_by_a_broken_notify_file_reach_a_digest_url_in_its_digest(
    db: Path, tmp_path: Path, receiver: Receiver, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Alerts held while the notify file was broken, for a URL that gets a daily digest once it
    is fixed, wait for the digest's time and go out in it, once; a webhook gets them at once."""
    mail, hook = receiver.url("/mail"), receiver.url("/hook")
    path = write_notify(tmp_path, monkeypatch, {"*": [mail, hook]})
    fixed = path.read_text(encoding="utf-8") + f'[digest]\nat = "08:00"\nurls = [{json.dumps(mail)}]\n'
    path.write_text('[notify]\n"*" = ["json://127.0.0.1:9/x"\n', encoding="utf-8")  # unclosed
    held = sorted(r.id for r in alert_stage(db, "run-noon", tmp_path / "alerts"))
    assert len(held) >= 2 and deliveries(db) == [] and receiver.posts == []
    path.write_text(fixed, encoding="utf-8")
    assert alert_stage(db, "run-1pm", tmp_path / "alerts", hours=1) == []
    assert sorted(receiver.delivered("/hook")) == held and [p for p in receiver.posts if p[0] == "/mail"] == []
    alert_stage(db, "run-dawn", tmp_path / "alerts", hours=19)  # 07:00 the next day
    assert [p for p in receiver.posts if p[0] == "/mail"] == []
    alert_stage(db, "run-morning", tmp_path / "alerts", hours=21)  # 09:00
    alert_stage(db, "run-later", tmp_path / "alerts", hours=22)
    (post,) = [p for p in receiver.posts if p[0] == "/mail"]
    assert sorted(re.findall(r"newsmon alert `([^`]+)`", post[2]["message"])) == held
    assert sorted(receiver.delivered("/hook")) == held  # once


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("[notify\n", "not valid TOML"),
        ('[digest]\nat = "8"\n', "is not a time HH:MM"),
        (
            '[notify]\n"*" = ["json://h/x"]\n[quite]\nhours = "22:00-07:00"\n',
            r"unknown table\(s\) quite: use \[notify\]",
        ),
        ('[notify]\n"*" = "json://h/x"\n', '"\\*" must be a list of URLs, e.g. "\\*" = \\["json://host/hook"\\]'),
        ('[quiet]\nhours = "22:00-07:00"\nurls = []\n', r"urls = \[\] names no URL: leave urls out"),
        ('[digest]\nat = "08:00"\nurls = []\n', r"\[digest\] urls = \[\] names no URL"),
        ('[digest]\nhours = "08:00"\n', "needs at"),
        ('[digest]\nat = "08:00"\ntimezone = "Mars/Base"\n', r"\[digest\] timezone 'Mars/Base' is not a time zone"),
        ('[notify]\n"*" = { url = ["json://h/x"] }\n', r'"\*" as a table takes urls and except \(not url\)'),
        ('[notify]\n"*" = { urls = ["json://h/x"], except = "a" }\n', "must be a list of topic ids"),
        ('[notify]\na = { urls = ["json://h/x"] }\n', "must be a list of URLs"),
        ("[quiet]\nfrom = 22\n", "needs hours"),
        ('[quiet]\nhours = "22-07"\n', "is not a span HH:MM-HH:MM"),
        ('[quiet]\nhours = "24:00-07:00"\n', "is not a span HH:MM-HH:MM"),
        ('[quiet]\nhours = "07:00-07:00"\n', "is not a span HH:MM-HH:MM"),
        ('[quiet]\nhours = "22:00-07:00"\ntimezone = "Berlin"\n', "is not a time zone name"),
        ('[quiet]\nhours = "22:00-07:00"\nurl = []\n', "takes hours, timezone and urls, not url"),
        ('[quiet]\nhours = "22:00-07:00"\nurls = ["x"]\n', "is not an Apprise URL"),
        ('[notify]\na = "json://h/x"\n', "must be a list of URLs"),
        ("[notify]\na = [1]\n", "is not an Apprise URL"),
        ('[notify]\na = ["no scheme"]\n', "is not an Apprise URL"),
        ('notify = "x"\n', "must be a table"),
        (
            '[notify]\n"*" = ["json://h/x"]\n[quiet]\nhours = "22:00-07:00"\nurls = ["json://h/x/"]\n',
            r"\[quiet\] urls: URL 1 \(json://…/… \[\w+\]\) is not one of the URLs listed in \[notify\]: write it",
        ),
        ('[notify]\na = ["json://h.example/x"]\n[digest]\nat = "08:00"\nurls = ["json://h.example/y"]\n', "URL 1"),
        ('[notify]\n"*" = ["json://h/x"]\n[[quiet]]\nhours = "22:00-07:00"\n', r"\[\[quiet\]\] is a list of tables"),
    ],
)
def test_bad_notify_files_are_one_clear_error(tmp_path: Path, text: str, message: str) -> None:
    path = tmp_path / "notify.toml"
    path.write_text(text, encoding="utf-8")
    with pytest.raises(ConfigError, match=message):
        load_notify_config(path)
    with pytest.raises(ConfigError, match="cannot read notify file"):
        load_notify_config(tmp_path / "absent.toml")


def test_redact_hides_credentials_tokens_and_paths() -> None:
    url = "json://user:pw@127.0.0.1:8080/hook?token=x"
    assert redact(url) == f"json://127.0.0.1:8080/… [{target_key(url)[:8]}]"
    assert redact("slack://TokenA/TokenB/TokenC/#news").startswith("slack://…/… [")
    assert redact("tgram://123456789:AAbbCCdd/12345").startswith("tgram://…/… [")
    assert redact("mailto://user:app-pw@gmail.com").startswith("mailto://gmail.com/… [")
    assert redact("json://a.example/b") != redact("json://a.example/c")


def wait_for(condition: Callable[[], bool], seconds: float = 10) -> None:
    deadline = time.monotonic() + seconds
    while not condition():
        assert time.monotonic() < deadline, "timed out waiting"
        time.sleep(0.05)


def test_a_receiver_that_times_out_does_not_hold_up_the_others(caplog: pytest.LogCaptureFixture) -> None:
    """Once a URL has not answered in time, its other deliveries wait for the next run, not
    attempted: the step's time goes to the receivers that answer."""
    slow_url, ok_url = "json://127.0.0.1/slow", "json://127.0.0.1/ok"
    config = NotifyConfig({"a": (slow_url,), "b": (ok_url,)})
    pending = [
        *(PendingDelivery(f"s{n}", "a", target_key(slow_url), "json://127.0.0.1/…", 0, "t", "b") for n in range(5)),
        PendingDelivery("o1", "b", target_key(ok_url), "json://127.0.0.1/…", 0, "t", "b"),
    ]
    attempted: list[str] = []

    def sender(url: str, _title: str, _body: str, _timeout_s: float) -> Sent:
        return DELIVERED if url == ok_url else Sent(False, "timeout", "timeout: no answer within 30 s")

    caplog.set_level(logging.WARNING)
    counts = deliver_all(
        pending, config, lambda d: attempted.append(d.alert_id), lambda *_a: None, sender=sender, timeout_s=30
    )
    left = {"left for the next run: their receiver did not answer in time": 4}
    assert attempted == ["s0", "o1"] and counts == {"failed": 1, "sent": 1, **left}
    assert "notify: 4 left for the next run: their receiver did not answer in time" in caplog.text


def test_a_send_starts_only_with_its_whole_deadline_left() -> None:
    """With less than notify_timeout_s of the step left, a delivery waits for the next run
    rather than being tried, and charged an attempt, with a shorter deadline than the one set."""
    urls = [f"json://127.0.0.1/{n}" for n in range(4)]
    config = NotifyConfig({"*": tuple(urls)})
    pending = [PendingDelivery(f"a{n}", "t", target_key(u), "json://…", 0, "t", "b") for n, u in enumerate(urls)]
    deadlines: list[float] = []

    def sender(_url: str, _title: str, _body: str, timeout_s: float) -> Sent:
        deadlines.append(timeout_s)
        time.sleep(1.6)  # 1.6 s a send; the step has 4 × 1 s
        return DELIVERED

    counts = deliver_all(pending, config, lambda _d: None, lambda *_a: None, sender=sender, timeout_s=1.0)
    late = {"left for the next run: the notify step reached its deadline (4 s, 4 × notify_timeout_s)": 2}
    assert counts == {"sent": 2, **late} and deadlines == [1.0, 1.0]


def test_no_new_send_starts_to_a_url_whose_last_send_still_runs(slow_receiver: SlowReceiver) -> None:
    """A send given up on at its deadline may still run (a receiver that trickles its answer never
    ends it): a long-running process (newsmon serve) starts no second one to that URL meanwhile."""
    url = slow_receiver.url("/hook")
    config = NotifyConfig({"*": (url,)})
    first = PendingDelivery("a1", "t", target_key(url), "json://…", 0, "t", "x\n\nnewsmon alert `a1`")
    outcomes: list[Outcome] = []
    deliver_all([first], config, lambda _d: None, lambda _d, o: outcomes.append(o), timeout_s=0.3)
    assert [(o.status, o.kind) for o in outcomes] == [("failed", "timeout")] and still_sending(target_key(url))
    second = PendingDelivery("a2", "t", target_key(url), "json://…", 0, "t", "x\n\nnewsmon alert `a2`")
    left = deliver_all([second], config, lambda _d: None, lambda _d, o: outcomes.append(o), timeout_s=0.3)
    assert left == {"left for the next run: their receiver did not answer in time": 1}
    assert len(slow_receiver.posts) == 1
    slow_receiver.stop.set()
    wait_for(lambda: not still_sending(target_key(url)))


def test_deliver_all_gives_up_after_the_last_attempt() -> None:
    config = NotifyConfig({"*": ("json://127.0.0.1/x",)})
    key = target_key("json://127.0.0.1/x")
    outcomes: list[Outcome] = []
    attempts: list[str] = []

    def failing(_url: str, _title: str, _body: str, _timeout_s: float) -> Sent:
        return Sent(False, "http-5xx", "http-5xx: HTTP 500")

    for n in range(3):
        pending = [PendingDelivery("a1", "topic", key, "json://127.0.0.1/…", n, "t", "b")]
        deliver_all(
            pending,
            config,
            lambda d: attempts.append(d.alert_id),
            lambda _d, o: outcomes.append(o),
            sender=failing,
            max_attempts=3,
            timeout_s=30,
        )
    assert [o.status for o in outcomes] == ["failed", "failed", "gave-up"] and len(attempts) == 3
    gone = [PendingDelivery("a1", "topic", target_key("json://other/x"), "json://other/…", 0, "t", "b")]
    counts = deliver_all(
        gone,
        config,
        lambda d: attempts.append(d.alert_id),
        lambda _d, o: outcomes.append(o),
        sender=failing,
        timeout_s=30,
    )
    assert counts == {"dropped": 1} and len(attempts) == 3  # never attempted


def test_an_invalid_url_is_given_up_at_once_and_the_summary_counts_deliveries() -> None:
    from cli.report import summary_lines
    from newsmon.config import Settings
    from newsmon.notify import INVALID_URL
    from newsmon.pipeline import RunSummary

    config = NotifyConfig({"*": ("nonsense://x",)})
    outcomes: list[Outcome] = []
    pending = [PendingDelivery("a1", "topic", target_key("nonsense://x"), "nonsense://…", 0, "t", "b")]
    deliver_all(
        pending, config, lambda _d: None, lambda _d, o: outcomes.append(o), sender=lambda *_a: INVALID_URL, timeout_s=30
    )
    assert [(o.status, o.kind) for o in outcomes] == [("gave-up", "invalid-url")]  # not tried again on every run

    summary = RunSummary("run-1", alerts=["russia-sanctions"], notified={"sent": 2, "failed": 1})
    text = " ".join("\n".join(summary_lines(summary, Settings(), 1.0, 100)).split())
    assert "notified 1 failed, 2 sent (failed ones are retried next run)" in text and "v_deliveries" in text


def test_the_run_summary_says_alerts_are_held() -> None:
    from cli.report import summary_lines
    from newsmon.config import Settings
    from newsmon.pipeline import RunSummary

    summary = RunSummary("run-1", alerts=["russia-sanctions"], notify_held=2)
    text = " ".join("\n".join(summary_lines(summary, Settings(), 1.0, 100)).split())
    assert "2 alerts held: the notify file could not be read" in text and "sent by the first run after" in text
    assert "held" not in " ".join(summary_lines(RunSummary("run-2"), Settings(), 1.0, 100))
    waiting = RunSummary("run-3", alerts=["russia-sanctions"], notify_waiting=3)
    text = " ".join("\n".join(summary_lines(waiting, Settings(), 1.0, 100)).split())
    assert "3 deliveries waiting for a later run (quiet hours, a daily digest's time" in text
