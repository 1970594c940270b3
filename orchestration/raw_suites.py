"""The raw tables' Great Expectations suites, and the process of their own they run in during a Dagster run.

`orchestration/checks.py` wires them into Dagster as asset checks; this module imports neither Dagster nor anything
of the project, so the worker below starts with only what the suites need.

Great Expectations takes ~3 s to import (its own modules, scipy, sqlalchemy, altair), once per run process, and a
daily run's checks come after its ingestion steps, on its critical path: at 50 developers that import is most of the
checks' time. A `SuitesWorker` is started as the run starts (the checks' resource, `checks.RawSuites`) and imports
it in a process of its own, on the other core, while the run loads the day; each check then reads its window as
before and hands the frame to the worker, which validates it and answers with the outcomes. Should the worker die,
the suites run in the run's own process, as they did before.
"""

from __future__ import annotations

import os
import subprocess
import sys
import traceback
from dataclasses import dataclass, field
from functools import lru_cache
from multiprocessing.connection import Connection, Pipe
from pathlib import Path
from typing import Any, Iterable, Optional

os.environ.setdefault("GX_ANALYTICS_ENABLED", "false")


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
    def key(self):
        """The table's Dagster asset (the run's process has Dagster imported; the suites' worker never asks)."""
        from dagster import AssetKey

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
SUITES = {BLOCKING: blocking_expectations, WARNINGS: warning_expectations}


def suite_results(spec: RawTable, frame, names: Iterable[str]) -> list[tuple[str, bool, dict[str, Any]]]:
    """(suite name, passed, metadata) for each of `names` (BLOCKING, WARNINGS), the window validated as one batch."""
    batch = window_batch(spec, frame)
    return [(name, *validate(spec, frame, SUITES[name](spec), f"{spec.table}_{name.removeprefix('ge_')}", batch))
            for name in names]


def own_peak_mib() -> Optional[float]:
    """This process's peak resident memory (VmHWM), where /proc tells it."""
    try:
        with open("/proc/self/status") as status:
            return next(int(line.split()[1]) for line in status if line.startswith("VmHWM:")) / 1024
    except (OSError, StopIteration, ValueError):
        return None


class SuiteWorkerGone(RuntimeError):
    """The worker process ended before it answered (killed, out of memory, failed to start)."""


class SuitesWorker:
    """The suites in a Python process of their own, which imports Great Expectations as soon as it starts.

    One request at a time, over a pipe: (table spec, window frame, suite names) in, the outcomes out. An error
    raised by the suites comes back as a `RuntimeError` with the worker's traceback; a worker that is gone raises
    `SuiteWorkerGone` (`RawSuites` then runs the suites in the run's own process). Not a multiprocessing pool: its
    spawned process would first import the parent's main module again (`dagster`'s command line, `bench.run`)."""

    def __init__(self) -> None:
        ours, theirs = Pipe()
        root = str(Path(__file__).resolve().parents[1])  # the project, importable whatever the run's cwd
        path = os.pathsep.join(p for p in (root, os.environ.get("PYTHONPATH")) if p)
        self._process = subprocess.Popen(
            [sys.executable, "-c", f"from orchestration.raw_suites import serve; serve({theirs.fileno()})"],
            pass_fds=[theirs.fileno()], env={**os.environ, "PYTHONPATH": path})
        theirs.close()
        self._connection: Optional[Connection] = ours
        self.peak_mib: Optional[float] = None

    def results(self, spec: RawTable, frame, names: Iterable[str]) -> list[tuple[str, bool, dict[str, Any]]]:
        if self._connection is None:
            raise SuiteWorkerGone("the suites' worker is closed")
        try:
            self._connection.send((spec, frame, list(names)))
            status, value, peak = self._connection.recv()
        except (EOFError, OSError) as error:
            raise SuiteWorkerGone(f"the suites' worker ended (exit code {self._process.poll()})") from error
        self.peak_mib = max(filter(None, (self.peak_mib, peak)), default=None)
        if status == "error":
            raise RuntimeError(f"the raw-table suites failed in their worker process:\n{value}")
        return value

    def close(self) -> None:
        """Ends the worker (closing the pipe ends its loop) and waits for it."""
        if self._connection is not None:
            self._connection.close()
            self._connection = None
        try:
            self._process.wait(timeout=30)
        except subprocess.TimeoutExpired:
            self._process.kill()
            self._process.wait()


def serve(fd: int) -> None:
    """The worker's loop: import Great Expectations and build its context first, then answer until the pipe
    closes."""
    connection = Connection(fd)
    try:
        _context()
    except Exception:  # noqa: BLE001 - reported with the first request, where a check can fail on it
        failed_start = traceback.format_exc()
    else:
        failed_start = None
    while True:
        try:
            spec, frame, names = connection.recv()
        except EOFError:
            break
        if failed_start:
            connection.send(("error", failed_start, own_peak_mib()))
            continue
        try:
            answer = ("ok", suite_results(spec, frame, names), own_peak_mib())
        except Exception:  # noqa: BLE001 - a traceback pickles, an arbitrary exception may not
            answer = ("error", traceback.format_exc(), own_peak_mib())
        del frame
        connection.send(answer)
    # the run waits for this process at its end: leave without the interpreter's teardown of Great Expectations,
    # pandas and scipy (~1 s), which frees nothing the exit does not
    sys.stdout.flush()
    sys.stderr.flush()
    os._exit(0)
