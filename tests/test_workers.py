"""The run's process pool: its workers end with the process that owns the pool."""

from __future__ import annotations

import os
import pickle
import re
import subprocess
import sys
import time
from pathlib import Path

import pytest

from newsmon.workers import WorkerPool, _started, is_alive, worker_state

pytestmark = pytest.mark.skipif(not Path("/proc/self/stat").exists(), reason="needs Linux /proc")


def test_a_pool_worker_knows_when_the_process_owning_its_pool_is_gone() -> None:
    """Workers watch their pool's owner (:func:`newsmon.workers.is_alive`): a live process is
    alive; a zombie (dead, not reaped yet), a reaped one, or another process now holding the
    number (another start time) is not."""
    child = subprocess.Popen([sys.executable, "-c", "pass"])
    started = _started(child.pid)
    deadline = time.monotonic() + 10
    while is_alive(child.pid, started) and time.monotonic() < deadline:
        time.sleep(0.05)  # the child has exited but is not reaped: a zombie
    assert not is_alive(child.pid, started) and Path(f"/proc/{child.pid}").exists()
    child.wait()
    assert not is_alive(child.pid)
    me = os.getpid()
    assert is_alive(me, _started(me)) and not is_alive(me, "1")  # the number, with another start time


def test_a_pool_with_owner_watching_workers_does_its_work() -> None:
    with WorkerPool(2) as pool:
        assert pool.map(abs, [-1, -2, -3]) == [1, 2, 3]


def test_starting_workers_does_not_wait_for_them_to_read_the_pools_state() -> None:
    """A pool's state (a run's compiled topics: 0.4 s to unpickle) is read by each worker as it
    starts, not while the process submitting the first job waits: that job's submit returns at
    once, and the workers still get the state."""
    slow = re.compile("|".join(f"w{i}x" for i in range(60000)))  # recompiled when unpickled
    started = time.perf_counter()
    pickle.loads(pickle.dumps(slow))
    re.purge()
    unpickling = time.perf_counter() - started
    with WorkerPool(1) as warm:  # the forkserver starts once per process: not part of what is measured
        assert warm.submit(abs, -1).result() == 1
    state = {"slow": slow, "more": "x" * 1_000_000, "n": 7}  # more than a pipe holds, after it
    with WorkerPool(2, state=state) as pool:
        started = time.perf_counter()
        futures = [pool.submit(worker_state, "n") for _ in range(2)]
        submitting = time.perf_counter() - started
        assert [f.result() for f in futures] == [7, 7]
    assert submitting < unpickling / 2, (submitting, unpickling)
