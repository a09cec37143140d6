"""Stops that land inside a database write act once it is over, and stops a finalizer swallowed
are delivered again (storage.signals)."""

from __future__ import annotations

import gc
import os
import signal
import sys
from collections.abc import Iterator
from pathlib import Path

import pyarrow as pa
import pytest

from storage.database import Database
from storage.signals import signals_held, stop_signal, watch_lost_stops

pytestmark = pytest.mark.skipif(sys.platform == "win32", reason="POSIX signals")


class Stop(BaseException):
    """A stand-in for Prefect's TerminationSignal (a BaseException carrying its signal)."""

    def __init__(self, signum: int) -> None:
        super().__init__(f"signal {signum}")
        self.signal = signum


@pytest.fixture
def stopping() -> Iterator[None]:
    """SIGTERM raises :class:`Stop`, as Prefect's handler raises TerminationSignal during a flow."""

    def handler(signum: int, _frame: object) -> None:
        raise Stop(signum)

    previous = signal.signal(signal.SIGTERM, handler)
    try:
        yield
    finally:
        signal.signal(signal.SIGTERM, previous)


@pytest.fixture
def db(tmp_path: Path) -> Iterator[Database]:
    database = Database.open_writer(tmp_path / "s.duckdb")
    database.execute("CREATE TABLE items (id INTEGER PRIMARY KEY, name VARCHAR)")
    try:
        yield database
    finally:
        database.close(snapshot=False)


def test_a_stop_inside_a_transaction_acts_after_its_commit(db: Database, stopping: None) -> None:
    with pytest.raises(Stop), db.transaction() as con:
        con.execute("INSERT INTO items VALUES (1, 'a')")
        os.kill(os.getpid(), signal.SIGTERM)  # the run is told to stop mid-write
        con.execute("INSERT INTO items VALUES (2, 'b')")  # ... and the write still finishes whole
    assert db.execute("SELECT count(*) FROM items") == [(2,)]
    assert signal.getsignal(signal.SIGTERM).__name__ == "handler"  # the handler in force is back
    db.execute("INSERT INTO items VALUES (3, 'c')")  # and the connection is not left in an aborted transaction


def test_a_stop_while_duckdb_reads_a_staged_table_is_a_stop_not_a_duckdb_error(db: Database, stopping: None) -> None:
    """Raised while DuckDB reads a registered Arrow table, a stop came back as DuckDB's own
    InvalidInputException ("reading the schema of the object registered as ... failed")."""

    def staged() -> Iterator[pa.RecordBatch]:
        os.kill(os.getpid(), signal.SIGTERM)  # arrives while DuckDB pulls the batches
        yield pa.record_batch({"id": pa.array([4, 5], pa.int32()), "name": pa.array(["d", "e"])})

    reader = pa.RecordBatchReader.from_batches(pa.schema([("id", pa.int32()), ("name", pa.string())]), staged())
    with pytest.raises(Stop), db.registered("staged_items", reader), db.transaction() as con:
        con.execute("INSERT INTO items SELECT * FROM staged_items")
    assert db.execute("SELECT count(*) FROM items") == [(2,)]


def test_blocks_nest_and_the_outermost_delivers(stopping: None) -> None:
    reached = []
    with pytest.raises(Stop), signals_held():
        with signals_held():
            os.kill(os.getpid(), signal.SIGTERM)
        reached.append("after the inner block")  # the inner block delivers nothing
    assert reached == ["after the inner block"]


class _Finalized:
    def __del__(self) -> None:
        os.kill(os.getpid(), signal.SIGTERM)  # the handler raises here, where Python can only print it


@pytest.mark.filterwarnings("ignore::pytest.PytestUnraisableExceptionWarning")  # what Python prints, as meant
def test_a_stop_swallowed_by_a_finalizer_is_delivered_by_the_next_write(db: Database, stopping: None) -> None:
    with watch_lost_stops():
        _Finalized()
        gc.collect()  # "Exception ignored in: <function _Finalized.__del__>": the stop is lost there
        with pytest.raises(Stop), db.transaction() as con:  # ... and acts before the next write begins
            con.execute("INSERT INTO items VALUES (9, 'z')")
    assert db.execute("SELECT count(*) FROM items WHERE id = 9") == [(0,)]


def test_which_exceptions_are_stops() -> None:
    assert stop_signal(KeyboardInterrupt()) == signal.SIGINT
    assert stop_signal(Stop(signal.SIGTERM)) == signal.SIGTERM
    assert stop_signal(ValueError("signal")) is None and stop_signal(None) is None


def test_a_held_sigterm_wins_over_a_held_ctrl_c(stopping: None) -> None:
    """Both arrived during one write: the termination is delivered first (KeyboardInterrupt
    raised first would have dropped it, and the run would not be recorded as terminated)."""
    with pytest.raises(Stop), signals_held():
        os.kill(os.getpid(), signal.SIGINT)
        os.kill(os.getpid(), signal.SIGTERM)


class _Swallowing:
    def __del__(self) -> None:
        raise Stop(signal.SIGTERM)  # as a handler raising inside a finalizer does: Python prints it, goes on


@pytest.mark.filterwarnings("ignore::pytest.PytestUnraisableExceptionWarning")
def test_a_stop_lost_after_the_last_write_acts_as_the_watch_ends(stopping: None) -> None:
    reached = []
    with pytest.raises(Stop), watch_lost_stops():
        _Swallowing()
        gc.collect()
        reached.append("no write follows")
    assert reached == ["no write follows"]


def test_a_transaction_a_stop_left_open_does_not_stop_the_checkpoint(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    database = Database.open_writer(tmp_path / "open.duckdb")
    database.execute("CREATE TABLE t (a INTEGER)")
    database.con.execute("BEGIN TRANSACTION")
    database.con.execute("INSERT INTO t VALUES (1)")  # never committed: a stop came between
    with caplog.at_level("WARNING", logger="storage.database"):
        database.close(snapshot=True)
    assert database.close_error is None and (tmp_path / "open.snapshot.duckdb").exists()
    assert not [r for r in caplog.records if "checkpoint" in r.getMessage()]  # rolled back, then checkpointed
