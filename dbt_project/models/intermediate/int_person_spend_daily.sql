{{
    config(
        materialized='incremental',
        incremental_strategy=append_strategy(),
        pre_hook="{{ delete_window('usage_date') }}",
        on_schema_change='fail',
    )
}}
-- One row per day x person x team: the ledger's person lines summed (every cost type), kept incrementally like the
-- ledger (a run replaces its window's days). What the per-person marts and the feature attribution read instead of
-- the whole ledger.
select
    usage_date,
    person_email,
    team_id,
    {{ money('sum(billed_cost_usd)') }} as billed_cost_usd,
    -- any line with a positive billed cost: the person was an active (paying) developer that day
    max(case when billed_cost_usd > 0 then 1 else 0 end) = 1 as has_positive_line
from {{ ref('fct_ai_usage_daily') }}
where principal_type = 'person'
{% if is_incremental() %}
    and usage_date between {{ window_start() }} and {{ window_end() }}
{% endif %}
group by usage_date, person_email, team_id
