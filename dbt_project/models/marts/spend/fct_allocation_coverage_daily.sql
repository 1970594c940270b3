{{
    config(
        materialized='incremental',
        incremental_strategy=append_strategy(),
        pre_hook="{{ delete_window('usage_date') }}",
        on_schema_change='fail',
    )
}}
-- One row per day x provider: how much of the billed spend has an owning team, and how many tokens are unpriced.
-- Incremental like the ledger: a run replaces its window's days (a day's row depends on that day's ledger rows only).
with

usage as (

    select * from {{ ref('fct_ai_usage_daily') }}
    {% if is_incremental() %}
    where usage_date between {{ window_start() }} and {{ window_end() }}
    {% endif %}

),

daily as (

    select
        usage_date,
        provider,
        {{ money('sum(billed_cost_usd)') }} as billed_cost_usd,
        {{ money('sum(case when is_allocated then billed_cost_usd else 0 end)') }} as allocated_billed_cost_usd,
        {{ money('sum(case when principal_type = \'person\' then billed_cost_usd else 0 end)') }}
            as person_billed_cost_usd,
        {{ money('sum(list_cost_usd)') }} as list_cost_usd,
        sum(token_count) as token_count,
        sum(unpriced_token_count) as unpriced_token_count
    from usage
    group by usage_date, provider

)

select
    {{ surrogate_key(['usage_date', 'provider']) }} as coverage_key,
    usage_date,
    provider,
    billed_cost_usd,
    allocated_billed_cost_usd,
    {{ money('billed_cost_usd - allocated_billed_cost_usd') }} as unallocated_billed_cost_usd,
    cast({{ safe_divide('allocated_billed_cost_usd', 'billed_cost_usd') }} as {{ dbt.type_float() }}) as allocation_coverage,
    person_billed_cost_usd,
    list_cost_usd,
    token_count,
    unpriced_token_count
from daily
