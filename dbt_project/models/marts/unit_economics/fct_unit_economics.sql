-- One row per team (and '(all teams)') x period type (week, month, sprint) x period: AI spend against output.
--
-- ai_cost_usd is the team's billed AI spend (fct_team_spend_daily, services and unallocated principals included);
-- output comes from fct_engineering_output_daily. Ratios are null, never zero or an error, when their denominator is
-- zero (a team with spend and no merged pull request has no cost per PR). Active developers are people with any AI
-- spend in the period. previous_* are the same team's figures for the period just before (null if it had no row).
-- A team with fewer members in the directory than var('min_group_size') is suppressed: its figures are null and
-- is_suppressed is true, so no individual is singled out in finance-facing numbers.
-- The sums per team and period are kept incrementally (int_team_period_totals); a table rebuilt whole every run from
-- them, so that the suppression follows the directory of today in every period.
{%- set length = var('sprint_length_days') | int %}

with

period_totals as (

    select * from {{ ref('int_team_period_totals') }}

),

team_sizes as (

    select team_id, count(*) as member_count from {{ ref('dim_people') }} group by team_id

),

measured as (

    select
        totals.*,
        case
            when totals.period_type = 'week' then cast({{ dbt.dateadd('day', 6, 'totals.period_start') }} as date)
            when totals.period_type = 'month'
                then cast({{ dbt.dateadd('day', -1, dbt.dateadd('month', 1, 'totals.period_start')) }} as date)
            else cast({{ dbt.dateadd('day', length - 1, 'totals.period_start') }} as date)
        end as period_end,
        case
            when totals.period_type = 'week' then cast({{ dbt.dateadd('day', -7, 'totals.period_start') }} as date)
            when totals.period_type = 'month' then cast({{ dbt.dateadd('month', -1, 'totals.period_start') }} as date)
            else cast({{ dbt.dateadd('day', -length, 'totals.period_start') }} as date)
        end as expected_previous_start,
        coalesce(team_sizes.member_count, 0) as member_count,
        totals.team_id not in ('(all teams)', 'unallocated')
            and coalesce(team_sizes.member_count, 0) < {{ var('min_group_size') | int }} as is_suppressed
    from period_totals as totals
    left join team_sizes
        on team_sizes.team_id = totals.team_id

),

ratios as (

    select
        *,
        {{ rounded_ratio('ai_cost_usd', 'prs_merged', 2) }} as cost_per_pr,
        {{ rounded_ratio('ai_cost_usd', 'tickets_closed', 2) }} as cost_per_ticket,
        {{ rounded_ratio('ai_cost_usd', 'story_points', 2) }} as cost_per_story_point,
        {{ rounded_ratio('ai_cost_usd', 'successful_deployments', 2) }} as cost_per_deployment,
        {{ rounded_ratio('ai_cost_usd', 'active_developers', 2) }} as cost_per_active_developer
    from measured

),

with_previous as (

    select
        ratios.*,
        lag(period_start) over (partition by team_id, period_type order by period_start) as previous_start,
        lag(ai_cost_usd) over (partition by team_id, period_type order by period_start) as lag_ai_cost_usd,
        lag(cost_per_pr) over (partition by team_id, period_type order by period_start) as lag_cost_per_pr,
        lag(cost_per_ticket) over (partition by team_id, period_type order by period_start) as lag_cost_per_ticket,
        lag(cost_per_active_developer) over (partition by team_id, period_type order by period_start)
            as lag_cost_per_active_developer
    from ratios

),

final as (

    select
        {{ surrogate_key(['team_id', 'period_type', 'period_start']) }} as unit_economics_key,
        team_id,
        period_type,
        period_start,
        period_end,
        is_suppressed,
        case when is_suppressed then null else {{ money('ai_cost_usd') }} end as ai_cost_usd,
        case when is_suppressed then null else prs_merged end as prs_merged,
        case when is_suppressed then null else tickets_closed end as tickets_closed,
        case when is_suppressed then null else story_points end as story_points,
        case when is_suppressed then null else successful_deployments end as successful_deployments,
        case when is_suppressed then null else active_developers end as active_developers,
        case when is_suppressed then null else cost_per_pr end as cost_per_pr,
        case when is_suppressed then null else cost_per_ticket end as cost_per_ticket,
        case when is_suppressed then null else cost_per_story_point end as cost_per_story_point,
        case when is_suppressed then null else cost_per_deployment end as cost_per_deployment,
        case when is_suppressed then null else cost_per_active_developer end as cost_per_active_developer,
        case when not is_suppressed and previous_start = expected_previous_start then {{ money('lag_ai_cost_usd') }} end
            as previous_ai_cost_usd,
        case when not is_suppressed and previous_start = expected_previous_start then lag_cost_per_pr end
            as previous_cost_per_pr,
        case when not is_suppressed and previous_start = expected_previous_start
            then {{ rounded_ratio('cost_per_pr - lag_cost_per_pr', 'lag_cost_per_pr', 4) }} end
            as cost_per_pr_change,
        case when not is_suppressed and previous_start = expected_previous_start
            then {{ rounded_ratio('cost_per_ticket - lag_cost_per_ticket', 'lag_cost_per_ticket', 4) }} end
            as cost_per_ticket_change,
        case when not is_suppressed and previous_start = expected_previous_start
            then {{ rounded_ratio('cost_per_active_developer - lag_cost_per_active_developer',
                                      'lag_cost_per_active_developer', 4) }} end
            as cost_per_active_developer_change
    from with_previous

)

select * from final
