"""A run's clock (--now), the start of a backfill (--since), and the schedule and parameters of
`newsmon serve`."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

import pytest

from newsmon.config import Settings, settings_parameters
from newsmon.errors import ConfigError
from newsmon.schedule import backfill_start, parse_time, serve_interval, serve_schedule


def test_parse_time() -> None:
    assert parse_time("2023-05-18T23:59") == datetime(2023, 5, 18, 23, 59, tzinfo=UTC)
    assert parse_time("2023-05-18") == datetime(2023, 5, 18, tzinfo=UTC)
    assert parse_time("2023-05-19T01:00+02:00") == datetime(2023, 5, 18, 23, 0, tzinfo=UTC)
    assert parse_time("2023-05-18T23:59:00Z").tzinfo == UTC
    with pytest.raises(ConfigError, match="--since 'last tuesday' is not an ISO 8601 time"):
        parse_time("last tuesday", "--since")


def test_backfill_start_is_not_after_the_clock() -> None:
    clock = datetime(2023, 5, 18, 12, 0, tzinfo=UTC)
    assert backfill_start(None, clock) is None
    assert backfill_start("2023-05-01", clock) == datetime(2023, 5, 1, tzinfo=UTC)
    with pytest.raises(ConfigError, match="--since 2023-05-19 is later than the run's clock"):
        backfill_start("2023-05-19", clock)
    with pytest.raises(ConfigError, match="later than the run's clock"):
        backfill_start("2999-01-01")  # against now


def test_serve_schedule() -> None:
    assert serve_interval(None) == 1800.0
    assert [serve_interval(v) for v in ("90s", " 15m ", "2h", "1d", "30", "1.5m")] == [90, 900, 7200, 86400, 30, 90]
    assert serve_schedule("15m", None) == 900.0 and serve_schedule(None, None) == 1800.0
    assert serve_schedule(None, "*/15 * * * *") is None
    for bad, message in (
        ("2s", "under 5 s"),
        ("soon", "not a duration"),
        ("5 min", "not a duration"),
        ("99999999d", "over a year"),
    ):
        with pytest.raises(ConfigError, match=message):
            serve_interval(bad)
    with pytest.raises(ConfigError, match="give --interval or --cron, not both"):
        serve_schedule("15m", "*/15 * * * *")


def test_scheduled_runs_get_absolute_paths_and_no_unset_values(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.chdir(tmp_path)
    params = settings_parameters(Settings(db=Path("data/n.duckdb"), batch_size=7))
    assert params["db"] == str(tmp_path.resolve() / "data" / "n.duckdb")
    assert params["seeds"] == str(tmp_path.resolve() / "seeds") and params["batch_size"] == 7
    assert "topics" not in params and "feeds" not in params and "dask_address" not in params
