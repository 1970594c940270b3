-- One row per team x month: how much of the team's AI spend the cost-per-feature method could attribute.
-- ai_cost_usd = attributed_to_epics_usd + attributed_no_epic_usd + unattributed_person_usd + non_person_usd.
with

shares as (

    select * from {{ ref('int_person_feature_cost_daily') }}

),

team_spend as (

    select * from {{ ref('fct_team_spend_daily') }}

),

dates as (

    select * from {{ ref('dim_dates') }}

),

person_side as (

    select
        shares.team_id,
        dates.month_start,
        sum(case when shares.feature_key not in ('(no epic)', '(unattributed)') then shares.ai_cost_usd else 0 end)
            as attributed_to_epics_usd,
        sum(case when shares.feature_key = '(no epic)' then shares.ai_cost_usd else 0 end) as attributed_no_epic_usd,
        sum(case when shares.feature_key = '(unattributed)' then shares.ai_cost_usd else 0 end)
            as unattributed_person_usd
    from shares
    inner join dates on dates.date_day = shares.usage_date
    group by shares.team_id, dates.month_start

),

team_side as (

    select team_id, usage_month as month_start, sum(billed_cost_usd) as ai_cost_usd
    from team_spend
    group by team_id, usage_month

)

select
    {{ surrogate_key(['team_side.team_id', 'team_side.month_start']) }} as attribution_key,
    team_side.team_id,
    team_side.month_start,
    {{ money('team_side.ai_cost_usd') }} as ai_cost_usd,
    {{ money('coalesce(person_side.attributed_to_epics_usd, 0)') }} as attributed_to_epics_usd,
    {{ money('coalesce(person_side.attributed_no_epic_usd, 0)') }} as attributed_no_epic_usd,
    {{ money('coalesce(person_side.unattributed_person_usd, 0)') }} as unattributed_person_usd,
    {{ money('team_side.ai_cost_usd - coalesce(person_side.attributed_to_epics_usd, 0)
              - coalesce(person_side.attributed_no_epic_usd, 0) - coalesce(person_side.unattributed_person_usd, 0)') }}
        as non_person_usd,
    {{ rounded_ratio('coalesce(person_side.attributed_to_epics_usd, 0) + coalesce(person_side.attributed_no_epic_usd, 0)',
                         'team_side.ai_cost_usd', 4) }} as attribution_rate
from team_side
left join person_side
    on person_side.team_id = team_side.team_id
    and person_side.month_start = team_side.month_start
