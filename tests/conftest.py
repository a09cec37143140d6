"""Fixtures shared by the unit tests: the seed folder, the default topics, document factories,
and the third-party data folder that sits beside the checkout (``../shared``)."""

from __future__ import annotations

import importlib.util
import logging
import os
import sys
import tempfile
from collections.abc import Callable, Iterator, Mapping
from datetime import UTC, datetime
from pathlib import Path
from types import ModuleType
from typing import Any

import pytest
from typer.testing import CliRunner, Result

import newsmon
from newsmon.models import Document
from newsmon.text import sha256_hex, text_hash

# Prefect's server telemetry races its own SQLite writes and only adds noise to test output.
os.environ.setdefault("PREFECT_SERVER_ANALYTICS_ENABLED", "false")

REPO = Path(__file__).resolve().parents[1]
SEEDS = REPO / "seeds"
SHARED = Path(__file__).resolve().parents[2] / "shared"
SHARED_DATA = SHARED / "data"
DEFAULT_TOPICS = Path(newsmon.__file__).resolve().parent / "defaults" / "topics.toml"
FIXED_NOW = datetime(2023, 3, 1, 12, 0, tzinfo=UTC)

MakeDocument = Callable[..., Document]


@pytest.fixture
def shared_data() -> Path:
    """``../shared/data`` beside the checkout; the test is skipped when it is absent."""
    if not SHARED_DATA.is_dir():
        pytest.skip("../shared/data is absent: real-data tests need the shared folder beside the checkout")
    return SHARED_DATA


@pytest.fixture(scope="session")
def seeds_dir() -> Path:
    """The repository's seed documents."""
    return SEEDS


@pytest.fixture(scope="session")
def default_topics_file() -> Path:
    """The topics file shipped with the package."""
    return DEFAULT_TOPICS


@pytest.fixture
def now() -> datetime:
    """A fixed, timezone-aware 'current time' for ingestion."""
    return FIXED_NOW


@pytest.fixture
def make_document() -> MakeDocument:
    """Factory for in-memory documents (the same hashes ingestion would compute)."""

    def make(doc_id: str, body: str, title: str = "Untitled", source: str = "test") -> Document:
        url = f"file:///docs/{doc_id}.txt"
        return Document(
            id=doc_id,
            url=url,
            source=source,
            source_kind="file",
            title=title,
            body=body,
            author=None,
            origin=None,
            published_at=None,
            first_seen_at=FIXED_NOW,
            content_hash=sha256_hex(f"{title}\n{body}"),
            text_hash=text_hash(f"{title}\n{body}"),
            extractor="test",
            charset="utf-8",
        )

    return make


# -- the command line, run in this process ----------------------------------------------------


class _StderrLog(logging.Handler):
    """Warnings and errors logged during a command, on its stderr, as ``cli.main`` sets up logging."""

    def __init__(self) -> None:
        super().__init__(logging.WARNING)
        self.setFormatter(logging.Formatter("%(levelname)s %(name)s: %(message)s"))

    def emit(self, record: logging.LogRecord) -> None:
        sys.stderr.write(self.format(record) + "\n")  # the stderr of the moment: the runner's


@pytest.fixture
def newsmon(monkeypatch: pytest.MonkeyPatch) -> Callable[..., Result]:
    """``newsmon(*args, env={...}, input=...)`` runs the ``newsmon`` command in this process (typer's
    CliRunner) from the repository folder, with ``input`` on its stdin, and returns its exit
    code, stdout and stderr.

    Errors are handled by the app itself (one line, exit code 1), as in the real command; an
    exception it lets through fails the test with its traceback. Commands that need a process
    of their own (signals, kills, Prefect settings) run ``python -m cli`` instead.
    """
    from cli import app

    monkeypatch.chdir(REPO)

    def invoke(*args: str, env: Mapping[str, str | None] | None = None, input: str | None = None) -> Result:
        log = _StderrLog()
        logging.getLogger().addHandler(log)
        try:
            piped = {"COLUMNS": None, **(env or {})}  # output to a pipe with no COLUMNS unless a test sets it
            return CliRunner().invoke(app, list(args), env=piped, input=input, catch_exceptions=False)
        finally:
            logging.getLogger().removeHandler(log)

    return invoke


# -- one Prefect test API for the whole session -----------------------------------------------


@pytest.fixture(scope="session")
def prefect_api() -> Iterator[str]:
    """The Prefect test harness (an API server on loopback with a throw-away database); its URL.

    Started once per session, by the first test that asks for it (starting it takes seconds),
    and active from then on: flows run in the test process report to it through Prefect's
    settings, and tests that start ``newsmon`` in a subprocess pass the URL as ``PREFECT_API_URL``.
    """
    from prefect.settings import PREFECT_API_URL
    from prefect.testing.utilities import prefect_test_harness

    with prefect_test_harness(server_startup_timeout=120):
        yield str(PREFECT_API_URL.value())


# -- pytest-xdist: the tests of one xdist_group go to one worker ---------------------------------


@pytest.hookimpl(trylast=True)
def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    """In a ``--dist loadgroup`` worker, give each test of an ``xdist_group`` the ``@group`` suffix
    that tells the controller to send the group's tests to one worker.

    pytest-xdist 3.8 sets it through a field that pytest 9.2's structured node ids no longer
    read (pytest-xdist#1386), so the groups (tests sharing an expensive module fixture) would
    be spread over the workers, each building the fixture. Nothing is done where the suffix holds.
    """
    if not getattr(config.option, "loadgroup", False):
        return
    for item in items:
        marks = item.iter_markers("xdist_group")
        names = {str(m.args[0] if m.args else m.kwargs.get("name", "default")) for m in marks}
        suffix = "@" + "_".join(sorted(names))
        if names and not item.nodeid.endswith(suffix):
            from _pytest.nodeid import NodeId

            item._id = NodeId.parse(item.nodeid + suffix)  # type: ignore[attr-defined]


# -- network guard: no test, and no subprocess of a test, may connect outside loopback -------

NETGUARD = Path(__file__).resolve().parent / "netguard"


def _load_guard() -> ModuleType:
    """The guard module (``tests/netguard/sitecustomize.py``), loaded under its own name."""
    spec = importlib.util.spec_from_file_location("newsmon_test_netguard", NETGUARD / "sitecustomize.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


netguard = _load_guard()
_violations: list[str] = []
netguard.install(_violations.append)

# Subprocesses: this folder first on PYTHONPATH (its sitecustomize installs the same guard),
# and one log for their refusals, read after each test.
os.environ["PYTHONPATH"] = os.pathsep.join([str(NETGUARD), *filter(None, [os.environ.get("PYTHONPATH")])])
_log_fd, _log_name = tempfile.mkstemp(prefix="newsmon-netguard-", suffix=".log")
os.close(_log_fd)
SUBPROCESS_LOG = Path(_log_name)
os.environ[netguard.LOG_ENV] = str(SUBPROCESS_LOG)
_log_seen = 0


def subprocess_violations() -> list[str]:
    """Refusals that subprocesses logged since the last call."""
    global _log_seen
    try:
        data = SUBPROCESS_LOG.read_bytes()
    except FileNotFoundError:
        return []
    new, _log_seen = data[_log_seen:], len(data)
    return [line for line in new.decode("utf-8", "replace").splitlines() if line]


@pytest.fixture
def take_subprocess_refusals() -> Callable[[], list[str]]:
    """For a test that provokes a refusal on purpose: takes the logged ones, so they do not fail it."""
    return subprocess_violations


@pytest.fixture(autouse=True)
def _no_traffic_outside_loopback() -> Iterator[None]:
    """Fail any test whose code, or a subprocess it ran, tried to connect outside loopback
    (even if the error was caught)."""
    before = len(_violations)
    subprocess_violations()  # anything logged before this test is not its doing
    yield
    new = _violations[before:] + [f"subprocess: {v}" for v in subprocess_violations()]
    if new:
        pytest.fail(f"test tried to reach the network outside 127.0.0.0/8: {new}")


_late_in_workers: list[str] = []  # under pytest-xdist: what the workers' sessions logged after their last test


def pytest_sessionfinish(session: pytest.Session) -> None:
    """Refusals logged after the last test (a long-lived subprocess) fail the session too
    (a pytest-xdist worker hands them to the controller, which fails the session)."""
    late = subprocess_violations() + _late_in_workers
    workeroutput = getattr(session.config, "workeroutput", None)
    if workeroutput is not None:
        workeroutput["netguard_late"] = late
    elif late:
        session.exitstatus = pytest.ExitCode.TESTS_FAILED
        print(f"\ntest network guard: subprocesses tried to reach the network outside 127.0.0.0/8: {late}")
    SUBPROCESS_LOG.unlink(missing_ok=True)


@pytest.hookimpl(optionalhook=True)
def pytest_testnodedown(node: Any, error: object) -> None:
    """A pytest-xdist worker finished: keep the refusals its subprocesses logged after its last test."""
    _late_in_workers.extend(getattr(node, "workeroutput", {}).get("netguard_late", []))


# -- the hostile-input catalogue: a summary line per group -------------------------------------
# Each hostile test's reports carry its group, and its teardown report the rows it found lost,
# so the summary adds them up wherever the reports arrive: here, or in pytest-xdist's controller.


@pytest.fixture
def lost_rows(request: pytest.FixtureRequest) -> Callable[[int], None]:
    """Record rows a hostile test found lost (the catalogue's summary adds them up)."""

    def record(n: int) -> None:
        _lost[request.node.nodeid] = _lost.get(request.node.nodeid, 0) + n

    return record


_lost: dict[str, int] = {}  # recorded by the tests run in this process
_unchecked: set[str] = set()  # hostile tests that left a database behind but never counted lost rows
_group_results: dict[str, dict[str, bool]] = {}  # from the reports: group -> test -> passed
_reported_lost: dict[str, int] = {}
_reported_unchecked: set[str] = set()


@pytest.fixture(autouse=True)
def _stored_data_is_checked(request: pytest.FixtureRequest) -> Iterator[None]:
    """A hostile test that leaves a DuckDB file in its tmp_path must have called ``lost_rows``."""
    hostile = request.node.get_closest_marker("hostile") is not None
    tmp: Path | None = request.getfixturevalue("tmp_path") if hostile and "tmp_path" in request.fixturenames else None
    yield
    if tmp is not None and request.node.nodeid not in _lost and any(tmp.rglob("*.duckdb")):
        _unchecked.add(request.node.nodeid)


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line("markers", "hostile(group): part of the hostile-input and fault catalogue")


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_makereport(item: pytest.Item, call: pytest.CallInfo[None]) -> Iterator[None]:
    outcome = yield
    report = outcome.get_result()  # type: ignore[attr-defined]
    marker = item.get_closest_marker("hostile")
    if marker is None or not marker.args:
        return
    report.hostile = {"group": str(marker.args[0])}
    if report.when == "teardown":  # after the fixtures' teardown: lost rows and the stored-data check are known
        report.hostile.update(lost=_lost.get(item.nodeid, 0), unchecked=item.nodeid in _unchecked)


def pytest_runtest_logreport(report: pytest.TestReport) -> None:
    info = getattr(report, "hostile", None)
    if not info:
        return
    failed_setup_or_call = report.failed and report.when in ("setup", "call")
    if report.when == "call" or failed_setup_or_call or (report.when == "setup" and report.skipped):
        _group_results.setdefault(info["group"], {})[report.nodeid] = report.passed and report.when == "call"
    if report.when == "teardown":
        _reported_lost[report.nodeid] = int(info["lost"])
        if info["unchecked"]:
            _reported_unchecked.add(report.nodeid)


def pytest_terminal_summary(terminalreporter: pytest.TerminalReporter) -> None:
    if not _group_results:
        return
    terminalreporter.section("hostile inputs and faults")
    for group in sorted(_group_results):
        results = _group_results[group]
        lost = sum(_reported_lost.get(nodeid, 0) for nodeid in results)
        passed = sum(1 for ok in results.values() if ok)
        unchecked = sorted(nodeid for nodeid in results if nodeid in _reported_unchecked)
        line = f"{group}: {len(results)} tried, {passed} passed, {lost} rows lost"
        if unchecked:
            names = ", ".join(n.rsplit("/", 1)[-1] for n in unchecked)
            line += f"; {len(unchecked)} stored data without counting lost rows: {names}"
        terminalreporter.write_line(line)
