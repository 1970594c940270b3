"""`make run`: materialize every asset for a window through Dagster, then print what a person wants to know.

The run is one Dagster run of the `ai_spend_daily` job over a partition range (dlt and dbt each run once over the
whole window), recorded in the project's Dagster instance (`.dagster_home/`) so `make dev` shows it afterwards.
"""

from __future__ import annotations

import argparse
import datetime as dt
import os
import sys
import time
from typing import Optional

from ingestion._common import today_utc
from orchestration.partitions import default_run_window, history_start

RANGE_START_TAG = "dagster/asset_partition_range_start"
RANGE_END_TAG = "dagster/asset_partition_range_end"


def resolve_window(start: Optional[str], end: Optional[str], days: int,
                   today: Optional[dt.date] = None) -> tuple[dt.date, dt.date]:
    """[start, stop) from `START`/`END` (both inclusive days, as a person types them: START=2026-10-01
    END=2026-10-31 is October) or the last `days` whole days."""
    today = today or today_utc()
    if start:
        first = dt.date.fromisoformat(start)
        stop = dt.date.fromisoformat(end) + dt.timedelta(days=1) if end else today
    elif end:
        stop = dt.date.fromisoformat(end) + dt.timedelta(days=1)
        first = stop - dt.timedelta(days=days)
    else:
        first, stop = default_run_window(days, today)
    stop = min(stop, today)  # today's partition does not exist until the day is over
    if stop <= first:
        raise SystemExit(f"empty window: {first} .. {stop - dt.timedelta(days=1)} (the last day loadable is yesterday)")
    earliest = dt.date.fromisoformat(history_start())
    if first < earliest:
        raise SystemExit(f"START {first} is before the first partition {earliest}; set FINOPS_HISTORY_START earlier")
    return first, stop


def run(start: dt.date, end: dt.date) -> bool:
    from dagster import DagsterInstance

    from orchestration.definitions import DAILY_JOB_NAME, defs

    last = end - dt.timedelta(days=1)
    instance = DagsterInstance.get() if os.environ.get("DAGSTER_HOME") else DagsterInstance.ephemeral()
    job = defs.resolve_job_def(DAILY_JOB_NAME)
    assets = len(defs.resolve_asset_graph().get_all_asset_keys())
    print(f"\n==> Dagster run of '{DAILY_JOB_NAME}' for partitions {start} .. {last} "
          f"({(end - start).days} days) into {_warehouse_label()}", flush=True)
    print(f"    Dagster first records the plan ({assets} assets x {(end - start).days} partitions) in "
          f"{os.environ.get('DAGSTER_HOME', 'memory')}; then each step logs as it runs.\n", flush=True)
    result = job.execute_in_process(
        instance=instance,
        tags={RANGE_START_TAG: start.isoformat(), RANGE_END_TAG: last.isoformat()},
        run_config={"loggers": {"console": {"config": {"log_level": os.environ.get("FINOPS_LOG_LEVEL", "INFO")}}}},
        raise_on_error=False,
    )
    failed = [e.step_key for e in result.all_events if e.event_type_value == "STEP_FAILURE"]
    if not result.success:
        print(f"\n!! Run {result.run_id} failed in step(s): {', '.join(failed) or 'unknown'}; see the log above.",
              file=sys.stderr)
    return result.success


def _warehouse_label() -> str:
    from orchestration.resources import warehouse_kind, warehouse_path

    return str(warehouse_path()) if warehouse_kind() == "duckdb" else f"the '{warehouse_kind()}' warehouse"


def main(argv: Optional[list[str]] = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--start", default="", help="first day (YYYY-MM-DD); default: DAYS days ago")
    parser.add_argument("--end", default="", help="last day (YYYY-MM-DD, inclusive); default: yesterday")
    parser.add_argument("--days", type=int, default=90)
    args = parser.parse_args(argv)
    start, end = resolve_window(args.start or None, args.end or None, args.days)
    began = time.monotonic()
    ok = run(start, end)
    from orchestration.summary import print_summary

    if ok:
        print_summary(end)
        print(f"Finished in {time.monotonic() - began:.0f}s.")
    return 0 if ok else 1


if __name__ == "__main__":
    raise SystemExit(main())
