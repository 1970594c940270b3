{{
    config(
        materialized='incremental',
        incremental_strategy=append_strategy(),
        pre_hook="{{ delete_window('usage_date') }}",
        on_schema_change='fail',
    )
}}
-- One row per day x provider x tool x team x project x environment: the ledger's lines summed, kept incrementally
-- like the ledger (a run replaces its window's days). What fct_cloud_and_ai_cost_daily (for its AI half) and
-- fct_budget_status read instead of every ledger line: both are rebuilt whole on every run.
select
    usage_date,
    provider,
    tool,
    team_id,
    project_id,
    environment,
    sum(billed_cost_usd) as billed_cost_usd,
    -- list cost, or the billed cost where no list price is known
    sum(coalesce(list_cost_usd, billed_cost_usd)) as list_or_billed_cost_usd,
    count(*) as line_count
from {{ ref('fct_ai_usage_daily') }}
{% if is_incremental() %}
where usage_date between {{ window_start() }} and {{ window_end() }}
{% endif %}
group by usage_date, provider, tool, team_id, project_id, environment
