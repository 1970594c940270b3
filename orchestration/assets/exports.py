"""Files for the people who do not query the warehouse: FOCUS exports per day, finance marts per run.

* `exports/focus_daily`: the FOCUS 1.2 rows of each day of the partition window (and its lookback days), as
  `<FINOPS_EXPORT_DIR>/focus/<day>.parquet` and `.csv` (timestamps in ISO 8601 UTC), ready for any FOCUS-aware
  FinOps tool beside the cloud's own exports. Re-running a day rewrites its files. In a run that also built the
  FOCUS mart, a lookback day that no dbt build changed since its files were written is left as it is
  (orchestration/pending_exports.py).
* `exports/finance_daily`: spend by team per day, spend by team x project x provider per month (whole months),
  allocation coverage and monthly unit economics for the days the run rebuilt (its window and lookback days, so a
  figure restated in the lookback reaches finance, even across a month's end) as
  `<FINOPS_EXPORT_DIR>/finance/<last day of the window>/<mart>.parquet` and `.csv`, for finance's spreadsheets.

Both read through dlt's SQL client, so they work on any warehouse.
"""

import datetime as dt
import json
import os
import warnings
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Iterable, Optional

import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.csv as pa_csv
import pyarrow.parquet as pq
from dagster import AssetExecutionContext, AssetKey, BackfillPolicy, MaterializeResult, asset

from orchestration import pending_exports
from orchestration.partitions import daily_partitions
from orchestration.resources import PROJECT_ROOT, Warehouse

FINANCE_MARTS = {
    "team_spend_daily": "select * from marts.fct_team_spend_daily where usage_date between %s and %s",
    "allocation_coverage_daily": "select * from marts.fct_allocation_coverage_daily where usage_date between %s and %s",
    "unit_economics_monthly": "select * from marts.fct_unit_economics where period_type = 'month' "
                              "and period_end >= %s and period_start <= %s and not is_suppressed",
    # the months the window touches, whole: finance reconciles spend per team and project against the invoices
    "spend_by_team_project_monthly": """
        select usage_month, team_id, team_name, project_id, project_name, provider,
               sum(billed_cost_usd) as billed_cost_usd, sum(list_cost_usd) as list_cost_usd,
               sum(token_count) as token_count
        from marts.fct_ai_usage_daily
        where usage_month between %s and %s
        group by usage_month, team_id, team_name, project_id, project_name, provider
        order by usage_month, team_id, project_id, provider""",
}
# queries whose window is whole months: both bounds are moved to the first day of their month
MONTHLY = {"spend_by_team_project_monthly"}


def export_dir() -> Path:
    return Path(os.environ.get("FINOPS_EXPORT_DIR", str(PROJECT_ROOT / "data" / "exports")))


def _client(warehouse: Warehouse):
    """A connection for an export's queries: opening one costs 0.1-0.3 s on a warehouse of tens of GB (DuckDB reads
    its catalog), so an export asks all of its queries on one."""
    return warehouse.pipeline("exports", "marts").sql_client()


def _read(warehouse: Warehouse, client, sql: str, *params) -> pa.Table:
    """Rows as Arrow with decimals kept decimal (a pandas round trip would turn money and quantities into floats).
    DuckDB hands its result over as Arrow columns, with the columns' own types (JSON as text): a day of FOCUS rows at
    10,000 developers is ~160k rows x 50 columns, which took ~10 s a day as one Python object per value. Other
    engines' rows come through Python."""
    with client.execute_query(sql, *params) as cursor:
        if warehouse.kind == "duckdb":
            with warnings.catch_warnings():  # that it copies the rows once more: ~0.5 s a day at L, query included
                warnings.filterwarnings("ignore", "Arrow output on a DB-API result", UserWarning)
                return cursor.native_cursor.to_arrow_table()
        names = [column[0] for column in cursor.description]
        rows = cursor.fetchall()
    return pa.Table.from_pylist([dict(zip(names, map(_json_text, row))) for row in rows]) if rows else pa.table(
        {name: pa.array([], pa.string()) for name in names})


def _json_text(value):
    """JSON columns (FOCUS Tags, SkuPriceDetails) as JSON text on every warehouse: DuckDB hands them over as text,
    psycopg2 (Postgres) as dicts, which Arrow would turn into structs that CSV cannot hold."""
    return json.dumps(value, separators=(",", ":")) if isinstance(value, (dict, list)) else value


def _for_csv(table: pa.Table) -> pa.Table:
    """Timestamps as ISO 8601 UTC text ('2026-11-20T00:00:00Z'), as FOCUS and spreadsheets expect: whole seconds
    (Arrow's %S would print the microseconds), in UTC where the column has a time zone (naive ones are UTC here).
    Each distinct second is formatted once: a day's FOCUS rows (~230k at L) hold a handful of period bounds, and
    formatting every value took 0.87 s of a day's export at L (0.08 s this way)."""
    columns = []
    for field, column in zip(table.schema, table.columns):
        if pa.types.is_timestamp(field.type):
            seconds = column.cast(pa.timestamp("s", "UTC" if field.type.tz else None), safe=False)
            distinct = pc.unique(seconds)
            # a null stays null: its index is null (skip_nulls), and taking a null index gives null
            positions = pc.index_in(seconds, value_set=distinct, skip_nulls=True)
            column = pc.take(pc.strftime(distinct, format="%Y-%m-%dT%H:%M:%SZ"), positions)
        columns.append(column)
    return pa.Table.from_arrays(columns, names=table.column_names)


def write(table: pa.Table, base: Path) -> list[str]:
    base.parent.mkdir(parents=True, exist_ok=True)
    pq.write_table(table, base.with_suffix(".parquet"))
    pa_csv.write_csv(_for_csv(table), base.with_suffix(".csv"))
    return [str(base.with_suffix(".parquet")), str(base.with_suffix(".csv"))]


def rebuilt_days(window) -> tuple[dt.date, dt.date]:
    """First and last day a run rebuilt: its partition window and the lookback days before it, which were
    re-fetched and rebuilt too, so their files are rewritten with any restated figures (December 1st's run
    restates November 28-30, whose month finance reconciles too)."""
    from ingestion.settings import lookback_days

    return (window.start.date() - dt.timedelta(days=lookback_days()),
            window.end.date() - dt.timedelta(days=1))


def days(first: dt.date, last: dt.date) -> Iterable[dt.date]:
    day = first
    while day <= last:
        yield day
        day += dt.timedelta(days=1)


FOCUS_MART = AssetKey(["marts", "fct_focus_cost_and_usage"])


@asset(
    key=AssetKey(["exports", "focus_daily"]),
    deps=[FOCUS_MART],
    partitions_def=daily_partitions,
    backfill_policy=BackfillPolicy.single_run(),  # a backfill range is one run, like the dlt and dbt assets
    group_name="exports",
    owners=["team:finops"],
    description="FOCUS 1.2 cost-and-usage files per day (Parquet and CSV) under FINOPS_EXPORT_DIR/focus/.",
)
def focus_export(context: AssetExecutionContext, warehouse: Warehouse) -> MaterializeResult:
    first, last = rebuilt_days(context.partition_time_window)
    folder = export_dir() / "focus"
    files, rows, billed = [], 0, 0.0
    # a day's files are written in a thread while the next day is read (both release the GIL: ~1.3 s a day at L
    # one after the other); at most one day waits to be written, so a backfill's year never sits in memory
    with _client(warehouse) as client, ThreadPoolExecutor(max_workers=1) as writer:
        marks = pending_exports.read(client, pending_exports.FOCUS, first, last) \
            if pending_exports.tracked(warehouse) else None
        # narrowed only after this run's own build: run on its own, the export writes what it was asked for
        narrowed = marks is not None and built_in_this_run(context, FOCUS_MART)
        todo = focus_days(first, last, marks if narrowed else None, folder)
        writing = None
        for day in todo:
            table = _read(warehouse, client, "select * from marts.fct_focus_cost_and_usage where x_usage_date = %s",
                          day)
            table = table.drop_columns([c for c in ("x_usage_date",) if c in table.column_names])
            rows += table.num_rows
            billed += float(pc.sum(table.column("BilledCost")).as_py() or 0)
            if writing is not None:
                files += writing.result()
            writing = writer.submit(write, table, folder / day.isoformat())
        if writing is not None:
            files += writing.result()
        if marks:  # every day it wrote is up to date now
            pending_exports.clear(client, pending_exports.FOCUS, {d: m for d, m in marks.items() if d in todo})
    left = len(list(days(first, last))) - len(todo)
    context.log.info(f"FOCUS export: {rows} rows, ${billed:,.2f} billed, {len(files)} files in {folder}"
                     + (f"; {left} day(s) of the window left as written (no build changed them since)" if left else ""))
    return MaterializeResult(metadata={"rows": rows, "billed_cost_usd": round(billed, 2), "files": len(files),
                                       "days_written": day_ranges(todo),
                                       "days_left_as_written": left, "folder": str(folder)})


def day_ranges(listed: Iterable[dt.date]) -> str:
    """Days as runs of consecutive days: '2026-11-28, 2026-11-30..2026-12-02' ('' for none)."""
    runs: list[list[dt.date]] = []
    for day in sorted(listed):
        if runs and day == runs[-1][1] + dt.timedelta(days=1):
            runs[-1][1] = day
        else:
            runs.append([day, day])
    return ", ".join(str(a) if a == b else f"{a}..{b}" for a, b in runs)


def built_in_this_run(context: AssetExecutionContext, key: AssetKey) -> bool:
    """Whether this run materialized `key` before this step: the dbt asset then marked the days it rebuilt."""
    record = context.instance.get_latest_materialization_event(key)
    return record is not None and record.run_id == context.run_id


def focus_days(first: dt.date, last: dt.date, marks: Optional[pending_exports.Marks], folder: Path) -> list[dt.date]:
    """The days of `first`..`last` to write: all of them without `marks` (an export run on its own, or on an engine
    without marks); with them, the days marked pending and the days whose Parquet or CSV file is missing."""
    wanted = list(days(first, last))
    if marks is None:
        return wanted
    return [day for day in wanted if day in marks
            or not all((folder / f"{day.isoformat()}{suffix}").exists() for suffix in (".parquet", ".csv"))]


@asset(
    key=AssetKey(["exports", "finance_daily"]),
    deps=[AssetKey(["marts", "fct_team_spend_daily"]), AssetKey(["marts", "fct_allocation_coverage_daily"]),
          AssetKey(["marts", "fct_unit_economics"])],
    partitions_def=daily_partitions,
    backfill_policy=BackfillPolicy.single_run(),  # a backfill range is one run, like the dlt and dbt assets
    group_name="exports",
    owners=["team:finops"],
    description="Finance marts (team spend per day, team x project spend per month, allocation coverage, monthly "
                "unit economics) as Parquet and CSV in a "
                "dated folder under FINOPS_EXPORT_DIR/finance/.",
)
def finance_export(context: AssetExecutionContext, warehouse: Warehouse) -> MaterializeResult:
    first, last = rebuilt_days(context.partition_time_window)
    folder = export_dir() / "finance" / last.isoformat()
    counts = {}
    with _client(warehouse) as client:
        for name, sql in FINANCE_MARTS.items():
            bounds = (first.replace(day=1), last.replace(day=1)) if name in MONTHLY else (first, last)
            table = _read(warehouse, client, sql, *bounds)
            write(table, folder / name)
            counts[name] = table.num_rows
    context.log.info(f"finance export: {counts} in {folder}")
    return MaterializeResult(metadata={"folder": str(folder), **{f"rows_{k}": v for k, v in counts.items()}})
