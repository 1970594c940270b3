"""Every dbt model as a Dagster asset; `dbt build` so that dbt tests run as asset checks.

A partition range becomes one dbt invocation with `--vars {min_date, max_date}` (the window plus the restatement
lookback); incremental facts rebuild exactly those days.
"""


import json
import os
from typing import Any, Iterator, Mapping, Optional, Sequence

from dagster import AssetExecutionContext, AssetKey, BackfillPolicy
from dagster_dbt import DagsterDbtTranslator, DagsterDbtTranslatorSettings, DbtCliResource, dbt_assets

from ingestion import settings
from orchestration.partitions import daily_partitions, dbt_vars
from orchestration.resources import Warehouse, dbt_project, ensure_dbt_manifest


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
    dbt_window = dbt_vars(window.start, window.end, settings.lookback_days())
    context.log.info(f"dbt build for {dbt_window['min_date']}..{dbt_window['max_date']}")
    os.environ.update(warehouse.dbt_env())  # profiles.yml reads the target and the DuckDB path from the environment
    yield from dbt.cli(["build", "--vars", json.dumps(dbt_window)], context=context).stream()
