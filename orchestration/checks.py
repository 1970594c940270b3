"""Great Expectations suites on every raw landing, as Dagster asset checks.

Each raw usage, cost and engineering-output table has two suites, run on the rows of the run's window right after
the table lands (the lookback's days unchanged since the last successful dbt build left out: `checked_from`):

* **blocking** (severity ERROR, `blocking=True`): what would corrupt the marts if dbt ran on it: the columns dbt
  reads, a unique row key, non-negative token and request counts, daily buckets that really are one UTC day, money
  with a currency we can add up. A failure stops the downstream dbt assets of the run.
* **warning** (severity WARN): what a person should look at but the marts survive: service tiers, context windows
  and currencies outside the known values, negative money (credits do exist), a window with no data for its last
  day (freshness: the provider is late or the key lost access).

dbt tests check the modelled layers; these check what the APIs handed us, before anything is built on it. The suites
themselves are in `raw_suites.py`; they run in a worker process the `RawSuites` resource starts with the run.
"""


import datetime as dt
import logging
from contextlib import contextmanager
from pathlib import Path
from typing import Any, Iterable, Iterator, Optional

from dagster import (
    AssetCheckExecutionContext, AssetCheckKey, AssetCheckResult, AssetCheckSeverity, AssetCheckSpec,
    ConfigurableResource, InitResourceContext, multi_asset_check,
)
from pydantic import PrivateAttr

from orchestration.raw_suites import (
    BLOCKING, RAW_TABLES, WARNINGS, RawTable, SuitesWorker, SuiteWorkerGone, checked_columns, suite_results,
)
from orchestration.resources import Warehouse

logger = logging.getLogger(__name__)
RANGE_START, RANGE_END, PARTITION = "dagster/asset_partition_range_start", "dagster/asset_partition_range_end", \
    "dagster/partition"


def run_window(context: AssetCheckExecutionContext, lookback_days: int) -> tuple[dt.date, dt.date]:
    """The days this run loaded (inclusive): its partition range, widened by the restatement lookback."""
    tags = context.run.tags
    first = tags.get(RANGE_START) or tags.get(PARTITION)
    last = tags.get(RANGE_END) or tags.get(PARTITION)
    if not first:
        raise ValueError("raw-table checks run inside a partitioned run (no partition tags found)")
    return dt.date.fromisoformat(first[:10]) - dt.timedelta(days=lookback_days), dt.date.fromisoformat(last[:10])


def checked_from(warehouse: Warehouse, spec: RawTable, first: dt.date, partition_start: dt.date,
                 manifest_path: Optional[Path] = None, client: Any = None) -> dt.date:
    """The first day of the run's window the suites read: the earliest day of the lookback (`first` up to the day
    before `partition_start`) whose rows changed since the last successful dbt build, as dbt's own window starts
    (`changed_days.py`), or `partition_start` when none did.

    A day recorded by that build just as it is now was read by the suites of that build's run and passed the
    blocking one (a blocking failure stops dbt, and a build that did not run records nothing); checking it again
    finds what it found then. Cursor's window at L, 1.5M events, took 3.5-4.7 s of the suites; its new day alone
    0.8 s. The whole window is read when the table is not watched by day on the column the suites' window is on,
    when a checked column is left out of its fingerprint, on an engine without a row hash there, or when the
    fingerprint cannot be taken. A build run by hand after a blocking failure records what it built: its days are
    then taken as checked.
    """
    from orchestration.changed_days import ENGINES, fingerprints, read_built, rebuild_start, watched_tables_of

    if warehouse.kind not in ENGINES or partition_start <= first:
        return first
    try:
        from orchestration.resources import dbt_project

        watched = [t for t in watched_tables_of(manifest_path or dbt_project.manifest_path)
                   if (t.schema, t.name) == (spec.dataset, spec.table) and t.day == spec.day_column
                   and t.latest is None and not set(t.exclude) & set(checked_columns(spec))]
        if not watched:
            return first
        with _opened(warehouse, spec, client) as client:
            current = fingerprints(client, warehouse.kind, watched, [(first, partition_start - dt.timedelta(days=1))])
            built = read_built(warehouse, client)
    except Exception as error:  # noqa: BLE001 - a fingerprint that cannot be taken costs the narrowing, not the check
        logger.warning("%s.%s not fingerprinted, its whole window is checked: %s", spec.dataset, spec.table, error)
        return first
    return rebuild_start(current, built, first, partition_start)


@contextmanager
def _opened(warehouse: Warehouse, spec: RawTable, client: Any = None) -> Iterator[Any]:
    """`client` when given (open: its caller closes it), else a client of the table's dataset for the block."""
    if client is not None:
        yield client
        return
    with warehouse.pipeline(spec.provider, spec.dataset).sql_client() as own:
        yield own


def read_window(warehouse: Warehouse, spec: RawTable, first: dt.date, last: dt.date, client: Any = None):
    """The run's window of a raw table, as pandas, with only the columns the suites check.

    A checked column the table lacks is left out of the select rather than failing it, so the suites report it
    (the column-set expectation, or the expectation on that column) instead of the query erroring. Cursor's window
    at L (~850k events): 2.0 s to read all 28 columns, 1.2 s for the 13 the suites check.
    """
    with _opened(warehouse, spec, client) as client:
        table = client.make_qualified_table_name(spec.table)
        with client.execute_query(f"select * from {table} where 1 = 0") as cursor:
            present = {column[0].lower() for column in cursor.description}
        selected = [c for c in checked_columns(spec) if c in present]
        with client.execute_query(
                f"select {', '.join(client.escape_column_name(c) for c in selected)} from {table} "
                f"where {client.escape_column_name(spec.day_column)} between %s and %s", first, last) as cursor:
            frame = cursor.df()
    import pandas as pd

    frame.columns = [str(c).lower() for c in frame.columns]
    for column in (*spec.counts, spec.money):
        # a count with nulls arrives as pandas' nullable Int64, which Great Expectations compares one Python value at
        # a time (~0.6 s per million values); as float64 (null -> NaN, still skipped as null) it compares the column
        # at once. Counts stay exact below 2**53.
        if column in frame.columns and pd.api.types.is_extension_array_dtype(frame[column].dtype) \
                and pd.api.types.is_numeric_dtype(frame[column].dtype):
            frame[column] = frame[column].astype("float64")
    if spec.daily_buckets:
        frame["bucket_hours"] = (frame["bucket_end"] - frame["bucket_start"]).dt.total_seconds() / 3600
        frame["starts_at_midnight"] = frame["bucket_start"].dt.strftime("%H:%M:%S") == "00:00:00"
    frame["days_before_window_end"] = (pd.Timestamp(last) - pd.to_datetime(frame[spec.day_column])).dt.days
    return frame


class RawSuites(ConfigurableResource):
    """Where the raw tables' suites run. `worker` (the default): a process of their own, started as the run starts
    (Dagster's in-process executor sets a run's resources up before its first step), so Great Expectations' ~3 s
    import happens beside the ingestion steps rather than after them (`raw_suites.py`). False: in the run's own
    process, as under a run launcher that gives a run a single CPU. Either way the results are the same."""

    worker: bool = True
    _worker: Optional[SuitesWorker] = PrivateAttr(default=None)

    def setup_for_execution(self, context: InitResourceContext) -> None:
        if self.worker:
            try:
                self._worker = SuitesWorker()
            except OSError as error:  # no process to be had: the suites run here, as without a worker
                logger.warning("the raw-table suites' worker did not start (%s); they run in the run's process", error)

    def teardown_after_execution(self, context: InitResourceContext) -> None:
        if self._worker is not None:
            self._worker.close()
            if self._worker.peak_mib and context.log:
                context.log.info(f"the raw-table suites' worker peaked at {self._worker.peak_mib:,.0f} MiB")
            WORKER_PEAKS_MIB.append(self._worker.peak_mib)
            self._worker = None

    def results(self, spec: RawTable, frame, names: Iterable[str]) -> list[tuple[str, bool, dict[str, Any]]]:
        """(suite name, passed, metadata) for each of `names`, from the worker, or here when there is none."""
        names = list(names)
        if self._worker is not None:
            try:
                return self._worker.results(spec, frame, names)
            except SuiteWorkerGone as gone:
                logger.warning("%s; the raw-table suites run in the run's own process from here on", gone)
                self._worker.close()  # reaps the ended process
                self._worker = None
        return suite_results(spec, frame, names)


WORKER_PEAKS_MIB: list[Optional[float]] = []  # each run's worker's peak, for the bench (bench/run.py)


def _checks_for(spec: RawTable):
    """Both suites of one raw table in one step: the window is read once for the two of them."""
    specs = [
        AssetCheckSpec(BLOCKING, asset=spec.key, blocking=True,
                       description="Great Expectations: columns, unique key, non-negative counts, one-day buckets, "
                                   "USD. A failure stops the run's dbt models."),
        AssetCheckSpec(WARNINGS, asset=spec.key,
                       description="Great Expectations: known enum values, non-negative money, data for the window's "
                                   "last day (freshness). Warns; the run goes on."),
    ]

    @multi_asset_check(specs=specs, name=f"raw__{spec.provider}__{spec.table}_ge", can_subset=True)
    def suites(context: AssetCheckExecutionContext, warehouse: Warehouse,
               raw_suites: RawSuites) -> Iterator[AssetCheckResult]:
        from ingestion.settings import lookback_days

        first, last = run_window(context, lookback_days())
        with warehouse.pipeline(spec.provider, spec.dataset).sql_client() as client:
            first = checked_from(warehouse, spec, first, first + dt.timedelta(days=lookback_days()), client=client)
            frame = read_window(warehouse, spec, first, last, client=client)
        severities = {BLOCKING: AssetCheckSeverity.ERROR, WARNINGS: AssetCheckSeverity.WARN}
        selected = [name for name in severities if AssetCheckKey(spec.key, name) in context.selected_asset_check_keys]
        for name, passed, metadata in raw_suites.results(spec, frame, selected):
            yield AssetCheckResult(asset_key=spec.key, check_name=name, passed=passed, severity=severities[name],
                                   metadata={**metadata, "days_checked": f"{first}..{last}"})

    return suites


raw_table_checks = [_checks_for(spec) for spec in RAW_TABLES]
