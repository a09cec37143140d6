"""The parts of `newsmon serve` and of a run's stopping that need no Prefect: the schedule, the
loop over real run processes, stopping process groups, the writer lock's one wait notice."""

from __future__ import annotations

import fcntl
import os
import signal
import subprocess
import sys
import threading
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from newsmon.errors import ConfigError, DatabaseLockedError
from newsmon.processes import descendants, stop_group
from newsmon.schedule import ServeSchedule, format_duration, serve_plan
from newsmon.server import OWN_HOME, server_home
from newsmon.service import RunOutcome, Service
from storage.lock import WriterLock, set_wait_notifier

T0 = datetime(2026, 1, 1, 12, 0, tzinfo=UTC)


def test_interval_schedule_counts_from_the_first_run_and_skips_missed_times() -> None:
    plan = serve_plan("15m", None)
    assert plan.describe() == "every 15m"
    assert plan.next_after(T0, T0) == T0 + timedelta(minutes=15)
    assert plan.next_after(T0 + timedelta(minutes=15), T0) == T0 + timedelta(minutes=30)
    # a run that took 40 minutes: the times it overran are skipped, never made up
    assert plan.next_after(T0 + timedelta(minutes=40), T0) == T0 + timedelta(minutes=45)


def test_cron_schedule_is_in_utc_and_checked_at_start() -> None:
    plan = serve_plan(None, "*/10 * * * *")
    assert plan.describe() == "on cron '*/10 * * * *' (UTC)"
    assert plan.next_after(T0 + timedelta(minutes=3), T0) == T0 + timedelta(minutes=10)
    with pytest.raises(ConfigError, match="--cron 'every hour' is not a cron expression"):
        serve_plan(None, "every hour")
    assert [format_duration(s) for s in (90, 900, 7200, 5, 86400 + 60)] == ["1m30s", "15m", "2h", "5s", "1d1m"]


def test_server_state_goes_to_prefect_home_when_set(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setenv("PREFECT_HOME", str(tmp_path / "ph"))
    assert server_home(tmp_path / "data" / "n.duckdb") == ((tmp_path / "ph").resolve(), "from PREFECT_HOME")
    monkeypatch.delenv("PREFECT_HOME")
    home, why = server_home(tmp_path / "data" / "n.duckdb")
    assert home == (tmp_path / "data").resolve() / OWN_HOME and "PREFECT_HOME is unset" in why


def _alive(pid: int) -> bool:
    try:
        with open(f"/proc/{pid}/stat") as stat:
            return stat.read().rsplit(")", 1)[1].split()[0] not in ("Z", "X")
    except FileNotFoundError:
        return False


def test_stop_group_ends_a_process_that_ignores_sigterm_and_its_children() -> None:
    script = (
        "import signal, subprocess, sys, time\n"
        "signal.signal(signal.SIGTERM, signal.SIG_IGN)\n"
        "subprocess.Popen([sys.executable, '-c', 'import time; time.sleep(60)'])\n"
        "print('ready', flush=True)\n"
        "time.sleep(60)\n"
    )
    proc = subprocess.Popen([sys.executable, "-c", script], stdout=subprocess.PIPE, start_new_session=True)
    assert proc.stdout is not None and proc.stdout.readline() == b"ready\n"
    children = descendants(proc.pid)
    assert len(children) == 1
    t0 = time.monotonic()
    code = stop_group(proc, grace_s=1.0)
    assert code == -signal.SIGKILL and time.monotonic() - t0 < 5
    time.sleep(0.2)
    assert not any(_alive(p) for p in children)


def _service(
    tmp_path: Path, command: list[str], plan: ServeSchedule
) -> tuple[Service, list[tuple[RunOutcome, datetime | None]]]:
    reports: list[tuple[RunOutcome, datetime | None]] = []
    return Service(plan, command, report=lambda o, n: reports.append((o, n)), cwd=tmp_path), reports


def test_service_runs_at_start_then_on_schedule_and_reports_each_run(tmp_path: Path) -> None:
    marker = tmp_path / "runs.txt"
    command = [sys.executable, "-c", f"open({str(marker)!r}, 'a').write('x')"]
    service, reports = _service(tmp_path, command, ServeSchedule(interval_s=1.0))
    thread = threading.Thread(target=service.serve)
    t0 = time.monotonic()
    thread.start()
    while len(reports) < 2 and time.monotonic() - t0 < 30:
        time.sleep(0.05)
    service.request_stop()
    thread.join(10)
    assert not thread.is_alive()
    first, next_at = reports[0]
    assert first.number == 1 and first.exit_code == 0 and not first.stopped
    assert next_at is not None and next_at > first.started_at
    assert reports[1][0].started_at >= first.started_at + timedelta(seconds=0.9)  # the second on schedule
    assert marker.read_text().startswith("xx")


def test_service_stop_ends_a_run_in_progress_promptly(tmp_path: Path) -> None:
    script = (
        "import time, subprocess, sys\n"
        "subprocess.Popen([sys.executable, '-c', 'import time; time.sleep(60)'])\n"
        "time.sleep(60)"
    )
    service, reports = _service(tmp_path, [sys.executable, "-c", script], ServeSchedule(interval_s=3600))
    thread = threading.Thread(target=service.serve)
    thread.start()
    time.sleep(1.0)
    run = service._run
    assert run is not None
    seen = descendants(run.pid)
    t0 = time.monotonic()
    service.request_stop()
    thread.join(15)
    assert not thread.is_alive() and time.monotonic() - t0 < 5
    outcome, next_at = reports[-1]
    assert outcome.stopped and next_at is None and outcome.exit_code == -signal.SIGTERM
    time.sleep(0.2)
    assert not any(_alive(p) for p in [run.pid, *seen])


def test_a_waiting_writer_says_so_once_with_the_holder(tmp_path: Path) -> None:
    db = tmp_path / "n.duckdb"
    holder = WriterLock(db, timeout_s=1.0)
    holder.acquire()  # this process, another open file: flock conflicts as with another process
    notices: list[str] = []
    previous = set_wait_notifier(notices.append)
    try:
        with pytest.raises(DatabaseLockedError, match=f"another newsmon run \\(PID {os.getpid()}\\)"):
            WriterLock(db, timeout_s=1.5).acquire()
    finally:
        set_wait_notifier(previous)
        holder.release()
    assert len(notices) == 1, notices
    assert f"waiting for the writer lock on {db} (held by PID {os.getpid()}, running since " in notices[0]
    since = notices[0].split("running since ")[1][:19]
    assert abs(datetime.fromisoformat(since).replace(tzinfo=UTC) - datetime.now(UTC)) < timedelta(minutes=1)
    fd = os.open(db.with_name(db.name + ".lock"), os.O_RDWR)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)  # released after the failed wait
    finally:
        os.close(fd)


def test_a_child_started_to_die_with_its_parent_ends_when_the_parent_is_killed() -> None:
    """A SIGKILLed ``newsmon serve`` cannot stop its children itself; the kernel does it for them
    (``die_with_parent``): here a parent starts a child that way, and is SIGKILLed."""
    script = (
        "import subprocess, sys, time\n"
        "from newsmon.processes import die_with_parent\n"
        "child = subprocess.Popen([sys.executable, '-c', 'import time; time.sleep(60)'],\n"
        "                         start_new_session=True, preexec_fn=die_with_parent)\n"
        "print(child.pid, flush=True)\n"
        "time.sleep(60)\n"
    )
    repo = Path(__file__).resolve().parents[1]
    parent = subprocess.Popen([sys.executable, "-c", script], stdout=subprocess.PIPE, cwd=repo)
    assert parent.stdout is not None
    child = int(parent.stdout.readline())
    assert _alive(child)
    parent.kill()
    parent.wait(5)
    deadline = time.monotonic() + 5
    while _alive(child) and time.monotonic() < deadline:
        time.sleep(0.05)
    assert not _alive(child)
