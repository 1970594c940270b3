{{
    config(
        materialized='incremental',
        incremental_strategy=append_strategy(),
        pre_hook="{{ delete_window('usage_date') }}",
        on_schema_change='fail',
    )
}}
-- One row per day x team (including 'unallocated'): the finance-facing daily spend table. Incremental like the
-- ledger: a run replaces its window's days (a day's row depends on that day's ledger rows only).
with

usage as (

    select * from {{ ref('fct_ai_usage_daily') }}
    {% if is_incremental() %}
    where usage_date between {{ window_start() }} and {{ window_end() }}
    {% endif %}

)

select
    {{ surrogate_key(['usage_date', 'team_id']) }} as team_day_key,
    usage_date,
    usage_week,
    usage_month,
    team_id,
    max(team_name) as team_name,
    {{ money('sum(billed_cost_usd)') }} as billed_cost_usd,
    {{ money('sum(list_cost_usd)') }} as list_cost_usd,
    sum(token_count) as token_count,
    sum(unpriced_token_count) as unpriced_token_count,
    count(distinct case when principal_type = 'person' then person_email end) as active_people
from usage
group by usage_date, usage_week, usage_month, team_id
