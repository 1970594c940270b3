"""The Dagster code location loads, and its graph is wired the way the README describes."""

from __future__ import annotations

from dagster import AssetKey, BackfillPolicy


def test_definitions_load_with_lineage_from_dlt_to_dbt():
    from orchestration.definitions import DAILY_JOB_NAME, defs

    graph = defs.resolve_asset_graph()
    keys = {k.to_user_string() for k in graph.get_all_asset_keys()}
    for expected in ["raw/anthropic/usage_messages", "raw/anthropic/cost_report", "raw/openai/usage_completions",
                     "raw/openai/costs", "raw/org_directory/provider_accounts", "raw/pricing/model_prices",
                     "staging/stg_anthropic__usage_messages", "marts/fct_ai_usage_daily",
                     "marts/fct_team_spend_daily", "marts/fct_allocation_coverage_daily"]:
        assert expected in keys
    # dbt sources point at the dlt assets: staging depends on raw
    staging = graph.get(AssetKey(["staging", "stg_anthropic__usage_messages"]))
    assert AssetKey(["raw", "anthropic", "usage_messages"]) in staging.parent_keys
    stg_prices = graph.get(AssetKey(["staging", "stg_pricing__model_prices"]))
    assert AssetKey(["raw", "pricing", "model_prices"]) in stg_prices.parent_keys

    groups = {graph.get(k).group_name for k in graph.get_all_asset_keys()}
    assert {"ingest_anthropic", "ingest_openai", "ingest_github", "ingest_jira", "ingest_org_directory",
            "ingest_pricing", "ingest_cursor", "ingest_copilot", "ingest_agent_telemetry", "ingest_focus_files",
            "staging", "intermediate", "marts_spend", "marts_core", "marts_unit_economics", "marts_agents",
            "marts_quality"} <= groups
    # the file sources feed their staging models like the APIs do
    assert AssetKey(["raw", "agent_telemetry", "agent_requests"]) in graph.get(
        AssetKey(["staging", "stg_agent_telemetry__requests"])).parent_keys
    assert AssetKey(["raw", "focus_files", "focus_costs"]) in graph.get(
        AssetKey(["staging", "stg_focus_files__costs"])).parent_keys

    # dbt tests are asset checks, including the billed-cost conservation invariant on the ledger
    checks = {c.to_user_string() for c in graph.asset_check_keys}
    assert any(c.startswith("marts/fct_ai_usage_daily:sums_match") for c in checks)
    assert any(c.startswith("marts/fct_ai_usage_daily:primary_key") for c in checks)
    assert any(c.startswith("marts/fct_ai_usage_daily:column_checks") for c in checks)
    assert "marts/fct_unit_economics:assert_unit_economics_spend_equals_team_spend" in checks

    job = defs.resolve_job_def(DAILY_JOB_NAME)
    assert job.partitions_def is not None
    # a backfill range is one run (one dlt load per source, one dbt build): every asset must agree, or Dagster
    # silently falls back to one run per partition (it did once the export assets had no policy)
    assert job.backfill_policy == BackfillPolicy.single_run()
    schedule = defs.resolve_schedule_def(f"{DAILY_JOB_NAME}_schedule")
    assert schedule.cron_schedule == "0 6 * * *"


def test_every_asset_says_what_it_is_and_who_owns_it():
    """The UI is read by people who did not write the code: no asset without a description and an owner."""
    from orchestration.definitions import defs

    graph = defs.resolve_asset_graph()
    nodes = list(graph.asset_nodes)
    assert [n.key.to_user_string() for n in nodes if not n.description] == []
    assert [n.key.to_user_string() for n in nodes if not n.owners] == []
    # the dbt models default to the data team; the dlt landings to the platform team
    assert graph.get(AssetKey(["marts", "fct_team_spend_daily"])).owners == ["team:finops"]
    assert graph.get(AssetKey(["raw", "anthropic", "usage_messages"])).owners == ["team:data-platform"]
    # the model catalog seed sits with the dimensions it classifies
    assert graph.get(AssetKey(["marts", "model_catalog"])).group_name == "marts_core"
    assert AssetKey(["marts", "model_catalog"]) in graph.get(AssetKey(["marts", "dim_models"])).parent_keys
