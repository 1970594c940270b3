-- The unit-economics numerator is the spend mart: for every team (not suppressed) and month, and for the whole
-- organisation, ai_cost_usd equals fct_team_spend_daily's billed cost for the same team and month. Teams below
-- min_group_size are suppressed (their figures null) and left out.
{{ config(meta={'dagster': {'ref': {'name': 'fct_unit_economics'}}}) }}

with

unit_economics as (

    select team_id, period_start, ai_cost_usd
    from {{ ref('fct_unit_economics') }}
    where period_type = 'month' and not is_suppressed

),

spend as (

    select team_id, usage_month as period_start, sum(billed_cost_usd) as ai_cost_usd
    from {{ ref('fct_team_spend_daily') }}
    group by team_id, usage_month

    union all

    select '(all teams)', usage_month, sum(billed_cost_usd)
    from {{ ref('fct_team_spend_daily') }}
    group by usage_month

),

suppressed as (

    -- teams below min_group_size: their figures are null on purpose, so they are not compared
    select distinct team_id
    from {{ ref('fct_unit_economics') }}
    where is_suppressed

),

compared as (

    select
        coalesce(unit_economics.team_id, spend.team_id) as team_id,
        coalesce(unit_economics.period_start, spend.period_start) as period_start,
        unit_economics.ai_cost_usd as unit_economics_cost,
        spend.ai_cost_usd as spend_mart_cost
    from unit_economics
    full outer join spend
        on spend.team_id = unit_economics.team_id
        and spend.period_start = unit_economics.period_start

)

select *
from compared
where
    team_id not in (select team_id from suppressed)
    -- a team-month missing on either side counts as $0 there
    and abs(coalesce(unit_economics_cost, 0) - coalesce(spend_mart_cost, 0)) > 0.0001
