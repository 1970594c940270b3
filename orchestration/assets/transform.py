"""Every dbt model as a Dagster asset; `dbt build` so that dbt tests run as asset checks.

A partition range becomes one dbt invocation whose window (the partitions plus the restatement lookback) dbt reads
from the environment (FINOPS_MIN_DATE/FINOPS_MAX_DATE, see dbt_project/macros/run_window.sql); incremental facts
rebuild exactly those days.
"""


import datetime as dt
import json
import os
import shutil
from pathlib import Path
from typing import Any, Iterator, Mapping, Optional, Sequence

from dagster import AssetExecutionContext, AssetKey, BackfillPolicy, Output
from dagster_dbt import DagsterDbtTranslator, DagsterDbtTranslatorSettings, DbtCliResource, dbt_assets

from ingestion import settings
from orchestration import pending_exports
from orchestration.changed_days import narrowed_window
from orchestration.partitions import DBT_BUILD, daily_partitions, dbt_window, dbt_window_env
from orchestration.resources import Warehouse, dbt_project, ensure_dbt_manifest, environment, keep_partial_parse


class LayerTranslator(DagsterDbtTranslator):
    """Asset keys <layer>/<model> and groups by folder: staging, intermediate, and marts by domain."""

    def get_asset_key(self, dbt_resource_props: Mapping[str, Any]) -> AssetKey:
        if dbt_resource_props["resource_type"] == "source":
            return super().get_asset_key(dbt_resource_props)
        return AssetKey([self._layer(dbt_resource_props), dbt_resource_props["name"]])

    def get_group_name(self, dbt_resource_props: Mapping[str, Any]) -> Optional[str]:
        fqn = dbt_resource_props.get("fqn", [])
        if dbt_resource_props["resource_type"] == "seed":
            return "marts_core"
        if len(fqn) > 2 and fqn[1] == "marts":
            return f"marts_{fqn[2]}"
        return self._layer(dbt_resource_props)

    def get_owners(self, dbt_resource_props: Mapping[str, Any]) -> Sequence[str]:
        # an owner set in a model's yml (meta: {dagster: {owners: [...]}}) wins; the data team owns the rest
        return super().get_owners(dbt_resource_props) or ["team:finops"]

    @staticmethod
    def _layer(props: Mapping[str, Any]) -> str:
        if props["resource_type"] == "seed":
            return "marts"  # reference tables (model_catalog) are built into the marts schema beside the dims
        fqn = props.get("fqn", [])
        return fqn[1] if len(fqn) > 2 else "models"


@dbt_assets(
    manifest=ensure_dbt_manifest(),
    project=dbt_project,
    dagster_dbt_translator=LayerTranslator(settings=DagsterDbtTranslatorSettings(
        enable_asset_checks=True,
        # source tests stay observations: a dbt op that checked the raw tables itself would be exempt from waiting
        # on the raw tables' blocking Great Expectations checks (orchestration/checks.py), which cover the same keys
        enable_source_tests_as_checks=False,
        # a dlt resource lands its quarantine table beside its data: both dbt sources are the same Dagster asset
        enable_duplicate_source_asset_keys=True,
    )),
    partitions_def=daily_partitions,
    backfill_policy=BackfillPolicy.single_run(),
)
def ai_finops_dbt_assets(context: AssetExecutionContext, dbt: DbtCliResource, warehouse: Warehouse) -> Iterator:
    window = context.partition_time_window
    lookback = settings.lookback_days()
    full_window = dbt_window(window.start, window.end, lookback)
    # the lookback's days that came back from the loads as they were built are not rebuilt (changed_days.py)
    narrowed = narrowed_window(warehouse, full_window, window.start.date(), lookback, dbt_project.manifest_path)
    run_window = narrowed.window
    unchanged = dt.date.fromisoformat(run_window["min_date"]) - dt.timedelta(days=1)
    context.log.info(f"dbt build for {run_window['min_date']}..{run_window['max_date']}"
                     + (f" ({full_window['min_date']}..{unchanged} unchanged since the last build)"
                        if run_window != full_window else ""))
    os.environ.update(warehouse.dbt_env())  # profiles.yml reads the target and the DuckDB path from the environment
    runs_kept = dbt_runs_kept()  # a bad setting fails here, before dbt runs, not while a build's error propagates
    # before dbt runs: a build that fails halfway may have changed some of the days (pending_exports.py)
    pending_exports.mark(warehouse, [pending_exports.FOCUS], dt.date.fromisoformat(run_window["min_date"]),
                         dt.date.fromisoformat(run_window["max_date"]))
    invocation = None
    try:
        # FINOPS_MART_FIGURES: each mart logs its row count and spend once built (dbt_project/macros/mart_figures.sql)
        with environment({**dbt_window_env(run_window), FIGURES_ENV: "1", **dbt_artifacts_env()}):  # dbt inherits it
            invocation = dbt.cli(DBT_BUILD, context=context)
            figures: dict[str, dict[str, Any]] = {}
            # Dagster stores each event as it is yielded, while dbt goes on building (on SQLite storage the 336 asset
            # events of a daily build at L took 12 s once dbt had finished); dbt reports a model before its children
            for raw in invocation.stream_raw_events():
                logged = mart_figures_logged(raw.raw_event)
                if logged:
                    figures[logged[0]] = logged[1]
                    continue
                node = raw.raw_event["data"].get("node_info", {}).get("unique_id")
                for event in raw.to_default_asset_events(
                        manifest=invocation.manifest, dagster_dbt_translator=invocation.dagster_dbt_translator,
                        context=context, target_path=invocation.target_path, project=invocation.project):
                    if isinstance(event, Output) and node in figures:
                        event = event.with_metadata({**event.metadata, **figures.pop(node)})
                    yield event
        # only a build of every model that succeeded: a failed one, or one of a few models picked in the UI, leaves
        # its days to the next run (in a run of a few, `context.assets_def` is their subset: the whole definition
        # is this function's own name)
        if set(context.selected_asset_keys) >= set(ai_finops_dbt_assets.keys):
            narrowed.recorded(warehouse)
    finally:
        if invocation is not None:
            keep_partial_parse(invocation.target_path)
            removed = prune_run_folders(invocation.target_path, runs_kept)
            if removed:
                context.log.info(f"removed {len(removed)} older dbt run folder(s) beside {invocation.target_path.name}")


FIGURES_ENV = "FINOPS_MART_FIGURES"
FIGURES_PREFIX = "finops-mart-figures "


def mart_figures_logged(raw_event: Mapping[str, Any]) -> Optional[tuple[str, dict[str, Any]]]:
    """(the node's unique id, its figures) when a dbt log event is a mart's figures line (macros/mart_figures.sql),
    else None. A line that does not read as figures is not taken for them: the figures are a courtesy."""
    info, data = raw_event.get("info", {}), raw_event.get("data", {})
    message = info.get("msg") or ""
    node = (data.get("node_info") or {}).get("unique_id")
    if info.get("name") != "JinjaLogInfo" or not message.startswith(FIGURES_PREFIX) or not node:
        return None
    try:
        figures = json.loads(message[len(FIGURES_PREFIX):])
    except ValueError:
        return None
    if not isinstance(figures, dict) or not all(isinstance(v, (int, float)) for v in figures.values()):
        return None
    return node, figures


def dbt_artifacts_env() -> dict[str, str]:
    """dbt's JSON artifacts (manifest.json, written as the build starts and again as it ends, and run_results.json)
    are not written into a scheduled build's run folder unless `DBT_WRITE_JSON` (dbt's own setting) asks for them.
    Nothing reads them there: dagster-dbt reads the build's events as dbt streams them, each node's result is in
    Dagster's event log and in the folder's dbt.log, and the project's manifest is the one parsed beside the
    definitions. Writing them took ~0.6 s of a daily build at L by dbt's own log (the manifest as the build starts,
    ~0.4 s; it and run_results.json as it ends, ~0.2-0.3 s)."""
    return {} if os.environ.get("DBT_WRITE_JSON", "").strip() else {"DBT_WRITE_JSON": "false"}


DEFAULT_DBT_RUNS_KEPT = 30


def dbt_runs_kept() -> int:
    """How many of the dbt asset's run folders (compiled SQL and dbt.log: ~20 MB each) are kept, the
    newest run's included (`FINOPS_DBT_RUNS_KEPT`). dagster-dbt gives every invocation a folder of its own and never
    removes one."""
    value = os.environ.get("FINOPS_DBT_RUNS_KEPT", "").strip()
    if not value:
        return DEFAULT_DBT_RUNS_KEPT
    if not value.isdigit():
        raise ValueError(f"FINOPS_DBT_RUNS_KEPT must be a whole number of run folders, not {value!r}")
    return int(value)


def prune_run_folders(current: Path, kept: int) -> list[Path]:
    """Remove this op's older run folders beside `current` (dagster-dbt names them `<op>-<run id>-<random>`) so
    that `kept` remain: `current` (always, even with 0) and the most recently modified others. Other ops' folders
    and dbt's own files in the target directory are left alone. Returns what it removed."""
    op_name = current.name.split("-", 1)[0]
    siblings = [path for path in current.parent.glob(f"{op_name}-*")
                if path.is_dir() and path.resolve() != current.resolve()]
    siblings.sort(key=_modified, reverse=True)
    removed = []
    for path in siblings[max(kept - 1, 0):]:  # the current run is one of the `kept`
        shutil.rmtree(path, ignore_errors=True)
        removed.append(path)
    return removed


def _modified(path: Path) -> float:
    """When a run folder was last written: dbt appends to its dbt.log throughout a build, so a build still running
    in another process sorts among the newest and is never pruned while fewer than `kept` runs overlap."""
    times = []
    for candidate in (path, path / "dbt.log"):
        try:
            times.append(candidate.stat().st_mtime)
        except OSError:  # no log yet, or removed meanwhile by another run's pruning (rmtree ignores it)
            pass
    return max(times, default=0.0)
