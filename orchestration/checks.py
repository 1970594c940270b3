"""Great Expectations suites on every raw landing, as Dagster asset checks.

Each raw usage, cost and engineering-output table has two suites, run on the rows of the run's window right after
the table lands (the lookback's days unchanged since the last successful dbt build left out: `checked_from`):

* **blocking** (severity ERROR, `blocking=True`): what would corrupt the marts if dbt ran on it: the columns dbt
  reads, a unique row key, non-negative token and request counts, daily buckets that really are one UTC day, money
  with a currency we can add up. A failure stops the downstream dbt assets of the run.
* **warning** (severity WARN): what a person should look at but the marts survive: service tiers, context windows
  and currencies outside the known values, negative money (credits do exist), a window with no data for its last
  day (freshness: the provider is late or the key lost access).

dbt tests check the modelled layers; these check what the APIs handed us, before anything is built on it.
"""


import datetime as dt
import logging
import os
from contextlib import contextmanager
from dataclasses import dataclass, field
from functools import lru_cache
from pathlib import Path
from typing import Any, Iterable, Iterator, Optional

from dagster import (
    AssetCheckExecutionContext, AssetCheckKey, AssetCheckResult, AssetCheckSeverity, AssetCheckSpec, AssetKey,
    multi_asset_check,
)

from orchestration.resources import Warehouse

logger = logging.getLogger(__name__)
os.environ.setdefault("GX_ANALYTICS_ENABLED", "false")
RANGE_START, RANGE_END, PARTITION = "dagster/asset_partition_range_start", "dagster/asset_partition_range_end", \
    "dagster/partition"


@dataclass(frozen=True)
class RawTable:
    provider: str
    table: str
    required_columns: tuple[str, ...]
    counts: tuple[str, ...] = ()  # never negative
    enums: dict[str, tuple[str, ...]] = field(default_factory=dict)  # known values (warn on others)
    money: Optional[str] = None  # warn when negative
    currency: Optional[str] = None  # blocking when not USD (cannot be added up)
    day_column: str = "bucket_date"  # the column the run's window is on
    key_column: str = "row_key"
    daily_buckets: bool = True  # usage/cost reports: every row is one UTC day starting at midnight
    expect_every_day: bool = True  # freshness: the window's last day has rows (not so for sparse events)

    @property
    def dataset(self) -> str:
        return f"raw_{self.provider}"

    @property
    def key(self) -> AssetKey:
        return AssetKey(["raw", self.provider, self.table])


BUCKET = ("bucket_date", "bucket_start", "bucket_end", "row_key")
RAW_TABLES = [
    RawTable("anthropic", "usage_messages",
             BUCKET + ("model", "service_tier", "context_window", "uncached_input_tokens", "output_tokens",
                       "cache_creation_5m_input_tokens", "cache_creation_1h_input_tokens", "cache_read_input_tokens"),
             counts=("uncached_input_tokens", "output_tokens", "cache_creation_5m_input_tokens",
                     "cache_creation_1h_input_tokens", "cache_read_input_tokens", "web_search_requests"),
             enums={"service_tier": ("standard", "batch", "priority", "priority_on_demand", "flex", "flex_discount"),
                    "context_window": ("0-200k", "200k-1M")}),
    RawTable("anthropic", "cost_report",
             BUCKET + ("workspace_id", "model", "token_type", "service_tier", "currency", "amount_cents"),
             enums={"cost_type": ("tokens", "web_search", "code_execution", "session_usage")},
             money="amount_cents", currency="currency"),
    RawTable("openai", "usage_completions",
             BUCKET + ("project_id", "user_id", "api_key_id", "model", "input_tokens", "input_cached_tokens",
                       "output_tokens", "num_model_requests"),
             counts=("input_tokens", "input_cached_tokens", "input_uncached_tokens", "input_cache_write_tokens",
                     "output_tokens", "num_model_requests"),
             enums={"service_tier": ("default", "flex", "priority", "scale", "auto")}),
    RawTable("openai", "costs", BUCKET + ("project_id", "line_item", "currency", "amount_usd"),
             money="amount_usd", currency="currency"),
    # per-request events: one row per request, not per day; days without requests are normal for small teams
    RawTable("cursor", "usage_events",
             ("bucket_date", "row_key", "event_at", "user_email", "model", "kind", "input_tokens", "output_tokens",
              "cache_write_tokens", "cache_read_tokens", "total_cents"),
             counts=("input_tokens", "output_tokens", "cache_write_tokens", "cache_read_tokens", "requests_costs"),
             money="total_cents", daily_buckets=False, expect_every_day=False),
    RawTable("cursor", "daily_usage", ("bucket_date", "row_key", "email", "is_active"),
             daily_buckets=False, expect_every_day=False),
    RawTable("github", "pull_requests", ("pr_key", "repository", "number", "author_login", "merged_at",
                                         "merged_date", "additions", "deletions"),
             counts=("additions", "deletions", "changed_files"), day_column="merged_date", key_column="pr_key",
             daily_buckets=False, expect_every_day=False),
    RawTable("github", "deployments", ("deployment_id", "repository", "environment", "created_at", "created_date",
                                       "is_success"),
             day_column="created_date", key_column="deployment_id", daily_buckets=False, expect_every_day=False),
    RawTable("jira", "issues", ("issue_key", "project_key", "resolved_at", "resolved_date", "assignee_account_id",
                                "story_points", "parent_key"),
             counts=("story_points",), day_column="resolved_date", key_column="issue_key", daily_buckets=False,
             expect_every_day=False),
]


def run_window(context: AssetCheckExecutionContext, lookback_days: int) -> tuple[dt.date, dt.date]:
    """The days this run loaded (inclusive): its partition range, widened by the restatement lookback."""
    tags = context.run.tags
    first = tags.get(RANGE_START) or tags.get(PARTITION)
    last = tags.get(RANGE_END) or tags.get(PARTITION)
    if not first:
        raise ValueError("raw-table checks run inside a partitioned run (no partition tags found)")
    return dt.date.fromisoformat(first[:10]) - dt.timedelta(days=lookback_days), dt.date.fromisoformat(last[:10])


@lru_cache(maxsize=1)
def _context():
    import great_expectations as gx
    from great_expectations.data_context.types.base import ProgressBarsConfig
    from great_expectations.execution_engine import pandas_execution_engine

    # Great Expectations fingerprints a pandas batch (md5 over pandas' hash of every row: ~0.45 s for Cursor's
    # ~850k events of a window at L) whenever it fetches it, and a validation fetches its batch again: three times
    # a table. It does so only for frames under HASH_THRESHOLD bytes, and the fingerprint is a batch marker in the
    # results' metadata, which nothing here reads; 0 skips it, as Great Expectations itself does from 1 GB up.
    pandas_execution_engine.HASH_THRESHOLD = 0
    context = gx.get_context(mode="ephemeral")
    context.variables.progress_bars = ProgressBarsConfig(globally=False)
    return context


def _suite(name: str, expectations: Iterable[Any]):
    import great_expectations as gx

    context = _context()
    try:
        context.suites.delete(name)
    except Exception:  # noqa: BLE001 - first use in this process
        pass
    suite = gx.ExpectationSuite(name=name)
    for expectation in expectations:
        suite.add_expectation(expectation)
    return context.suites.add(suite)


def blocking_expectations(spec: RawTable) -> list[Any]:
    import great_expectations as gx

    expectations: list[Any] = [
        gx.expectations.ExpectTableColumnsToMatchSet(column_set=list(spec.required_columns), exact_match=False),
        gx.expectations.ExpectColumnValuesToNotBeNull(column=spec.key_column),
        gx.expectations.ExpectColumnValuesToBeUnique(column=spec.key_column),
        gx.expectations.ExpectColumnValuesToNotBeNull(column=spec.day_column),
    ]
    if spec.daily_buckets:
        # a daily bucket is one UTC day starting at midnight; an hourly bucket loaded here would count 24 times over
        expectations += [
            gx.expectations.ExpectColumnValuesToBeInSet(column="bucket_hours", value_set=[24]),
            gx.expectations.ExpectColumnValuesToBeInSet(column="starts_at_midnight", value_set=[True]),
        ]
    expectations += [gx.expectations.ExpectColumnValuesToBeBetween(column=c, min_value=0) for c in spec.counts]
    if spec.currency:
        expectations.append(gx.expectations.ExpectColumnValuesToBeInSet(column=spec.currency, value_set=["USD"]))
    return expectations


def warning_expectations(spec: RawTable) -> list[Any]:
    import great_expectations as gx

    expectations: list[Any] = [
        gx.expectations.ExpectColumnValuesToBeInSet(column=column, value_set=list(values))
        for column, values in spec.enums.items()
    ]
    if spec.money:
        expectations.append(gx.expectations.ExpectColumnValuesToBeBetween(column=spec.money, min_value=0))
    if spec.expect_every_day:
        # freshness: the window's last day has data (providers publish within hours; a gap means late data or lost
        # access)
        expectations.append(gx.expectations.ExpectColumnMinToBeBetween(column="days_before_window_end", min_value=0,
                                                                       max_value=0))
    return expectations


def checked_columns(spec: RawTable) -> list[str]:
    """The columns the two suites look at; the rest of a wide raw table stays in the warehouse."""
    columns = [*spec.required_columns, spec.key_column, spec.day_column, *spec.counts, *spec.enums]
    columns += [c for c in (spec.money, spec.currency) if c]
    if spec.daily_buckets:
        columns += ["bucket_start", "bucket_end"]
    return list(dict.fromkeys(columns))


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


def window_batch(spec: RawTable, frame):
    """The window as a Great Expectations batch, which both suites validate."""
    context = _context()
    source_name = "raw_windows"
    try:
        source = context.data_sources.get(source_name)
    except (KeyError, ValueError):
        source = context.data_sources.add_pandas(source_name)
    asset_name = f"{spec.provider}_{spec.table}"
    try:
        asset = source.get_asset(asset_name)
    except LookupError:
        asset = source.add_dataframe_asset(name=asset_name)
    try:
        batch_definition = asset.get_batch_definition("window")
    except (KeyError, ValueError):
        batch_definition = asset.add_batch_definition_whole_dataframe("window")
    return batch_definition.get_batch(batch_parameters={"dataframe": frame})


def validate(spec: RawTable, frame, expectations: list[Any], suite_name: str,
             batch: Any = None) -> tuple[bool, dict[str, Any]]:
    # BASIC: outcomes with their unexpected counts and a few sample values. The default (SUMMARY) also locates the
    # unexpected rows, which copies the whole window ~three more times per column expectation (~0.7 s of Cursor's
    # blocking suite at L), for an index list nothing here reads.
    result = (batch if batch is not None else window_batch(spec, frame)).validate(
        _suite(suite_name, expectations), result_format="BASIC")
    failed = {}
    for outcome in result.results:
        if not outcome.success:
            config = outcome.expectation_config
            label = f"{config.type}({config.kwargs.get('column', '')})"
            failed[label] = outcome.result.get("unexpected_count", outcome.result.get("observed_value"))
    return result.success, {"rows_checked": len(frame), "expectations": len(result.results),
                            "failed": {k: str(v) for k, v in failed.items()}}


BLOCKING, WARNINGS = "ge_blocking", "ge_warnings"


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
    def suites(context: AssetCheckExecutionContext, warehouse: Warehouse) -> Iterator[AssetCheckResult]:
        from ingestion.settings import lookback_days

        first, last = run_window(context, lookback_days())
        with warehouse.pipeline(spec.provider, spec.dataset).sql_client() as client:
            first = checked_from(warehouse, spec, first, first + dt.timedelta(days=lookback_days()), client=client)
            frame = read_window(warehouse, spec, first, last, client=client)
        batch = window_batch(spec, frame)
        for name, expectations, severity in (
                (BLOCKING, blocking_expectations(spec), AssetCheckSeverity.ERROR),
                (WARNINGS, warning_expectations(spec), AssetCheckSeverity.WARN)):
            if AssetCheckKey(spec.key, name) in context.selected_asset_check_keys:
                passed, metadata = validate(spec, frame, expectations, f"{spec.table}_{name.removeprefix('ge_')}",
                                            batch)
                yield AssetCheckResult(asset_key=spec.key, check_name=name, passed=passed, severity=severity,
                                       metadata={**metadata, "days_checked": f"{first}..{last}"})

    return suites


raw_table_checks = [_checks_for(spec) for spec in RAW_TABLES]
