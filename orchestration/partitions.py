"""Daily partitions and how a partition window reaches dlt and dbt (pure functions, unit-tested)."""

from __future__ import annotations

import datetime as dt
import os
from typing import Optional

from dagster import DailyPartitionsDefinition

from ingestion._common import today_utc

DEFAULT_HISTORY_START = "2025-01-01"


def history_start() -> str:
    """First partition (`FINOPS_HISTORY_START`, YYYY-MM-DD): the earliest day a backfill can reach."""
    return os.environ.get("FINOPS_HISTORY_START", DEFAULT_HISTORY_START)


daily_partitions = DailyPartitionsDefinition(start_date=history_start(), timezone="UTC", end_offset=0)


def _as_date(value: dt.date | dt.datetime) -> dt.date:
    return value.date() if isinstance(value, dt.datetime) else value


def ingestion_window(start: dt.date | dt.datetime, end: dt.date | dt.datetime) -> tuple[str, str]:
    """The [start, end) window (ISO dates) a dlt source receives for a partition window; it adds the lookback."""
    return _as_date(start).isoformat(), _as_date(end).isoformat()


# The scheduled dbt command: every model and its data tests. dbt's unit tests check the SQL, not the day's data, so
# they run in the test suite (tests/test_end_to_end.py), not on every partition - as dbt advises for production.
DBT_BUILD = ["build", "--exclude-resource-type", "unit_test"]


def dbt_window(start: dt.date | dt.datetime, end: dt.date | dt.datetime, lookback_days: int) -> dict[str, str]:
    """dbt's inclusive `min_date`/`max_date` for a partition window [start, end): the window's days plus the days
    the restatement lookback re-fetched before it, so whatever dlt replaced, dbt rebuilds."""
    first = _as_date(start) - dt.timedelta(days=lookback_days)
    last = _as_date(end) - dt.timedelta(days=1)
    if last < first:
        raise ValueError(f"empty partition window {start}..{end}")
    return {"min_date": first.isoformat(), "max_date": last.isoformat()}


def dbt_window_env(window: dict[str, str]) -> dict[str, str]:
    """The window as the environment dbt's macros read it (dbt_project/macros/run_window.sql): FINOPS_MIN_DATE and
    FINOPS_MAX_DATE. Not `--vars`: dbt re-parses the whole project whenever its vars change, i.e. every day."""
    return {"FINOPS_" + name.upper(): value for name, value in window.items()}


def default_run_window(days: int, today: Optional[dt.date] = None) -> tuple[dt.date, dt.date]:
    """The last `days` whole days before today: [today - days, today)."""
    today = today or today_utc()
    return today - dt.timedelta(days=days), today
