"""The few lines `make run` ends with: last week's spend by team and by model, and where to look next."""

from __future__ import annotations

import datetime as dt

from orchestration.resources import Warehouse, warehouse_kind, warehouse_path

MARTS = [
    ("marts.fct_ai_usage_daily", "the allocated ledger: day x provider x model x person/service x team x project x token type"),
    ("marts.fct_team_spend_daily", "spend per team per day (billed and list), for finance"),
    ("marts.fct_allocation_coverage_daily", "share of billed spend with an owning team, per provider per day"),
    ("marts.fct_ai_spend_by_period", "the finance table: day/week/month x team x tool x model family/tier x use case"),
    ("marts.fct_cost_reconciliation_daily", "each provider's bill vs the ledger and vs list prices, per day"),
    ("marts.fct_agent_sessions", "one row per coding-agent session (activity and cost at list price)"),
    ("marts.fct_cost_anomalies / fct_budget_status", "findings in plain sentences; budgets on track, watch or over"),
    ("marts.fct_recommendations", "idle seats, premium models on small work, cache and context savings"),
    ("marts.fct_cloud_and_ai_cost_daily", "cloud FOCUS exports and the AI ledger in one view"),
    ("marts.dim_teams / dim_projects / dim_people / dim_models", "the dimensions"),
]


def last_week(end: dt.date) -> tuple[dt.date, dt.date]:
    """The 7 days before `end` (exclusive), inclusive bounds."""
    return end - dt.timedelta(days=7), end - dt.timedelta(days=1)


def spend_tables(client, first: dt.date, last: dt.date) -> tuple[list[tuple], list[tuple], tuple]:
    """Last week's spend by team and by model, and allocation coverage, through dlt's SQL client (any warehouse)."""
    by_team = client.execute_sql(
        """
        select team_name, sum(billed_cost_usd) as billed, sum(list_cost_usd) as list
        from marts.fct_team_spend_daily where usage_date between %s and %s
        group by team_name order by billed desc
        """, first, last)
    by_model = client.execute_sql(
        """
        select provider, model_name, sum(billed_cost_usd) as billed, sum(token_count) as tokens
        from marts.fct_ai_usage_daily where usage_date between %s and %s
        group by provider, model_name order by billed desc
        """, first, last)
    coverage = client.execute_sql(
        """
        select sum(billed_cost_usd), sum(allocated_billed_cost_usd), sum(unpriced_token_count)
        from marts.fct_allocation_coverage_daily where usage_date between %s and %s
        """, first, last)[0]
    return by_team, by_model, coverage


def print_summary(end: dt.date) -> None:
    first, last = last_week(end)
    print("\n" + "=" * 78)
    with Warehouse.from_env().pipeline("summary", "marts").sql_client() as client:
        by_team, by_model, coverage = spend_tables(client, first, last)
    total = sum(float(r[1] or 0) for r in by_team)
    print(f"AI spend {first} .. {last} (billed, USD): ${total:,.2f}\n")
    print(f"  {'team':<22}{'billed':>14}{'share':>9}")
    for team, billed, _ in by_team:
        print(f"  {team:<22}{float(billed or 0):>14,.2f}{float(billed or 0) / total if total else 0:>9.1%}")
    print(f"\n  {'model':<34}{'billed':>14}{'tokens':>18}")
    for provider, model, billed, tokens in by_model[:10]:
        print(f"  {(provider + ' ' + model)[:33]:<34}{float(billed or 0):>14,.2f}{int(tokens or 0):>18,}")
    billed, allocated, unpriced = (float(v or 0) for v in coverage)
    print(f"\n  allocation coverage: {allocated / billed if billed else 0:.1%} of billed spend has an owning team; "
          f"unpriced tokens: {int(unpriced):,}")
    if warehouse_kind() == "duckdb":
        print(f"\nWarehouse: {warehouse_path()}")
    else:
        print(f"\nWarehouse: the '{warehouse_kind()}' target (see dbt_project/profiles.yml)")
    print("Marts:")
    for name, what in MARTS:
        print(f"  {name:<52} {what}")
    print("Dagster UI on the same warehouse: make dev  (then http://127.0.0.1:3000)")
    print("=" * 78)
