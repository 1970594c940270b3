{{
    config(
        materialized='incremental',
        incremental_strategy=append_strategy(),
        pre_hook="{{ delete_window('usage_date') }}",
        on_schema_change='fail',
    )
}}
-- One row per day x team x provider with billed spend: the ledger summed to the statistical rule's grain, kept
-- incrementally like the ledger (a run replaces its window's days), so the statistical rule and the team weekly /
-- monthly change rules read a few rows per day instead of the whole ledger.
select
    usage_date,
    team_id,
    provider,
    max(team_name) as team_name,
    {{ money('sum(billed_cost_usd)') }} as spend
from {{ ref('fct_ai_usage_daily') }}
{% if is_incremental() %}
where usage_date between {{ window_start() }} and {{ window_end() }}
{% endif %}
group by usage_date, team_id, provider
