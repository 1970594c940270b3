from __future__ import annotations

import datetime as dt
import os

import pytest

from orchestration.partitions import dbt_window, dbt_window_env, default_run_window, ingestion_window
from orchestration.run import resolve_window

TODAY = dt.date(2026, 11, 25)


def test_one_daily_partition_reaches_dbt_with_its_lookback():
    # partition 2026-11-10 is [11-10, 11-11); a 3-day lookback rebuilds 11-07 .. 11-10 inclusive
    assert dbt_window(dt.datetime(2026, 11, 10), dt.datetime(2026, 11, 11), 3) == {
        "min_date": "2026-11-07", "max_date": "2026-11-10"}
    assert ingestion_window(dt.datetime(2026, 11, 10), dt.datetime(2026, 11, 11)) == ("2026-11-10", "2026-11-11")
    # the names dbt_project/macros/run_window.sql reads
    assert dbt_window_env({"min_date": "2026-11-07", "max_date": "2026-11-10"}) == {
        "FINOPS_MIN_DATE": "2026-11-07", "FINOPS_MAX_DATE": "2026-11-10"}


def test_a_backfill_range_is_one_window():
    assert dbt_window(dt.date(2026, 10, 1), dt.date(2026, 11, 1), 0) == {"min_date": "2026-10-01", "max_date": "2026-10-31"}


def test_an_empty_window_is_refused():
    with pytest.raises(ValueError):
        dbt_window(dt.date(2026, 10, 1), dt.date(2026, 10, 1), 0)


def test_default_window_is_the_last_n_whole_days():
    assert default_run_window(90, TODAY) == (dt.date(2026, 8, 27), TODAY)


def test_make_run_window_arguments():
    # START and END are the first and last day, inclusive: October is 10-01 .. 10-31, i.e. [10-01, 11-01)
    assert resolve_window("2026-10-01", "2026-10-31", 90, TODAY) == (dt.date(2026, 10, 1), dt.date(2026, 11, 1))
    assert resolve_window(None, None, 7, TODAY) == (dt.date(2026, 11, 18), TODAY)
    assert resolve_window("2026-11-20", None, 90, TODAY) == (dt.date(2026, 11, 20), TODAY)
    assert resolve_window(None, "2026-10-31", 31, TODAY) == (dt.date(2026, 10, 1), dt.date(2026, 11, 1))
    # END at or beyond today is clipped to yesterday: today's partition does not exist yet
    assert resolve_window("2026-11-20", "2026-12-31", 90, TODAY) == (dt.date(2026, 11, 20), TODAY)
    with pytest.raises(SystemExit, match="empty window"):
        resolve_window("2026-11-25", None, 90, TODAY)
    with pytest.raises(SystemExit, match="before the first partition"):
        resolve_window("2020-01-01", "2020-02-01", 90, TODAY)


def test_the_window_is_in_the_environment_only_while_dbt_runs(monkeypatch):
    from orchestration.resources import environment

    monkeypatch.setenv("FINOPS_MAX_DATE", "2026-01-31")  # set before the block: put back after it
    monkeypatch.delenv("FINOPS_MIN_DATE", raising=False)  # unset before the block: unset after it
    with environment({"FINOPS_MIN_DATE": "2026-11-07", "FINOPS_MAX_DATE": "2026-11-10"}):
        assert (os.environ["FINOPS_MIN_DATE"], os.environ["FINOPS_MAX_DATE"]) == ("2026-11-07", "2026-11-10")
    assert "FINOPS_MIN_DATE" not in os.environ and os.environ["FINOPS_MAX_DATE"] == "2026-01-31"
    with pytest.raises(RuntimeError):  # a failed dbt run puts it back too
        with environment({"FINOPS_MIN_DATE": "2026-11-07"}):
            raise RuntimeError("dbt failed")
    assert "FINOPS_MIN_DATE" not in os.environ
