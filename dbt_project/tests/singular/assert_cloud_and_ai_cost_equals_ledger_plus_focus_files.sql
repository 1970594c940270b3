-- One view of cloud and AI loses and invents nothing: per day, fct_cloud_and_ai_cost_daily's billed total equals
-- the AI ledger's (fct_ai_usage_daily) plus the FOCUS files' (stg_focus_files__costs, every row, whether allocated
-- or not). Returns the days that differ by more than a millionth of a dollar (the mart rounds each row's sum once).
{{ config(meta={'dagster': {'ref': {'name': 'fct_cloud_and_ai_cost_daily'}}}) }}

with

mart as (

    select usage_date, sum(billed_cost_usd) as billed
    from {{ ref('fct_cloud_and_ai_cost_daily') }}
    group by usage_date

),

sources as (

    select usage_date, sum(billed) as billed
    from (
        select usage_date, billed_cost_usd as billed from {{ ref('fct_ai_usage_daily') }}
        union all
        select charge_date as usage_date, billed_cost as billed from {{ ref('stg_focus_files__costs') }}
    ) as both_sources
    group by usage_date

)

select
    coalesce(mart.usage_date, sources.usage_date) as usage_date,
    mart.billed as mart_billed,
    sources.billed as sources_billed
from mart
full outer join sources on sources.usage_date = mart.usage_date
where abs(coalesce(mart.billed, 0) - coalesce(sources.billed, 0)) > 0.000001
