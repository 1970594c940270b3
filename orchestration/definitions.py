"""The Dagster code location: ingestion and transformation assets, the daily job and its schedule."""

from __future__ import annotations

from dagster import (
    AssetSelection, Definitions, build_schedule_from_partitioned_job, define_asset_job, in_process_executor,
)
from dagster_dlt import DagsterDltResource

from orchestration.assets.ingest import (
    agent_telemetry_assets, anthropic_assets, copilot_assets, cursor_assets, focus_files_assets, github_assets,
    jira_assets, openai_assets, org_directory_assets, pricing_assets,
)
from orchestration.assets.alerts import alert_definitions
from orchestration.assets.brief import daily_brief
from orchestration.assets.exports import finance_export, focus_export
from orchestration.assets.transform import ai_finops_dbt_assets
from orchestration.checks import RawSuites, raw_table_checks
from orchestration.partitions import daily_partitions
from orchestration.resources import Warehouse, dbt_resource

DAILY_JOB_NAME = "ai_spend_daily"

# anomaly and budget alerts (asset alerts/notifications, WARN checks on the two marts), for the alert marts the dbt
# project has: registered as soon as marts.fct_cost_anomalies / marts.fct_budget_status exist
alert_assets, alert_checks = alert_definitions(ai_finops_dbt_assets.keys)

ai_spend_daily = define_asset_job(
    DAILY_JOB_NAME,
    selection=AssetSelection.all(),
    partitions_def=daily_partitions,
    description="Ingest every source for the partition window (plus the restatement lookback), then dbt build.",
)

defs = Definitions(
    assets=[org_directory_assets, pricing_assets, anthropic_assets, openai_assets, cursor_assets, copilot_assets,
            github_assets, jira_assets, agent_telemetry_assets, focus_files_assets, ai_finops_dbt_assets,
            focus_export, finance_export, daily_brief, *alert_assets],
    asset_checks=[*raw_table_checks, *alert_checks],
    jobs=[ai_spend_daily],
    schedules=[build_schedule_from_partitioned_job(ai_spend_daily, hour_of_day=6, minute_of_hour=0)],
    resources={"dlt": DagsterDltResource(), "dbt": dbt_resource(), "warehouse": Warehouse.from_env(),
               "raw_suites": RawSuites()},
    # one process: DuckDB allows a single writer, and dlt and dbt take turns on the same file
    executor=in_process_executor,
)
