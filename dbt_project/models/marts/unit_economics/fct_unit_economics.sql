-- One row per team (and '(all teams)') x period type (week, month, sprint) x period: AI spend against output.
--
-- ai_cost_usd is the team's billed AI spend (fct_team_spend_daily, services and unallocated principals included);
-- output comes from fct_engineering_output_daily. Ratios are null, never zero or an error, when their denominator is
-- zero (a team with spend and no merged pull request has no cost per PR). Active developers are people with any AI
-- spend in the period. previous_* are the same team's figures for the period just before (null if it had no row).
-- A team with fewer members in the directory than var('min_group_size') is suppressed: its figures are null and
-- is_suppressed is true, so no individual is singled out in finance-facing numbers.
{%- set length = var('sprint_length_days') | int %}
{%- set periods = [('week', 'week_start'), ('month', 'month_start'), ('sprint', 'sprint_start')] %}

with

dates as (

    select * from {{ ref('dim_dates') }}

),

team_spend as (

    select usage_date as day, team_id, billed_cost_usd as ai_cost_usd
    from {{ ref('fct_team_spend_daily') }}

),

output as (

    select
        output_date as day,
        team_id,
        sum(prs_merged) as prs_merged,
        sum(tickets_closed) as tickets_closed,
        sum(story_points) as story_points,
        sum(successful_deployments) as successful_deployments
    from {{ ref('fct_engineering_output_daily') }}
    group by output_date, team_id

),

person_spend as (

    select usage_date as day, team_id, person_email
    from {{ ref('int_person_spend_daily') }}
    where has_positive_line

),

team_sizes as (

    select team_id, count(*) as member_count from {{ ref('dim_people') }} group by team_id

),

team_days as (

    select
        coalesce(team_spend.day, output.day) as day,
        coalesce(team_spend.team_id, output.team_id) as team_id,
        coalesce(team_spend.ai_cost_usd, 0) as ai_cost_usd,
        coalesce(output.prs_merged, 0) as prs_merged,
        coalesce(output.tickets_closed, 0) as tickets_closed,
        coalesce(output.story_points, 0) as story_points,
        coalesce(output.successful_deployments, 0) as successful_deployments
    from team_spend
    full outer join output
        on output.day = team_spend.day
        and output.team_id = team_spend.team_id

),

totals as (

    {% for period, column in periods %}
    {% for level in ['team', 'org'] %}
    select
        '{{ period }}' as period_type,
        dates.{{ column }} as period_start,
        {% if level == 'team' %}team_days.team_id{% else %}'(all teams)'{% endif %} as team_id,
        sum(team_days.ai_cost_usd) as ai_cost_usd,
        sum(team_days.prs_merged) as prs_merged,
        sum(team_days.tickets_closed) as tickets_closed,
        sum(team_days.story_points) as story_points,
        sum(team_days.successful_deployments) as successful_deployments
    from team_days
    inner join dates on dates.date_day = team_days.day
    group by dates.{{ column }}{% if level == 'team' %}, team_days.team_id{% endif %}
    {% if not loop.last %}union all{% endif %}
    {% endfor %}
    {% if not loop.last %}union all{% endif %}
    {% endfor %}

),

active as (

    {% for period, column in periods %}
    {% for level in ['team', 'org'] %}
    select
        '{{ period }}' as period_type,
        dates.{{ column }} as period_start,
        {% if level == 'team' %}person_spend.team_id{% else %}'(all teams)'{% endif %} as team_id,
        count(distinct person_spend.person_email) as active_developers
    from person_spend
    inner join dates on dates.date_day = person_spend.day
    group by dates.{{ column }}{% if level == 'team' %}, person_spend.team_id{% endif %}
    {% if not loop.last %}union all{% endif %}
    {% endfor %}
    {% if not loop.last %}union all{% endif %}
    {% endfor %}

),

measured as (

    select
        totals.*,
        coalesce(active.active_developers, 0) as active_developers,
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
    from totals
    left join active
        on active.period_type = totals.period_type
        and active.period_start = totals.period_start
        and active.team_id = totals.team_id
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
