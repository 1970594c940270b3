{{
    config(
        materialized='incremental',
        incremental_strategy=append_strategy(),
        pre_hook="{% if is_incremental() %}delete from {{ this }} where {{ is_rebuilt_unit_period('period_type', 'period_start') }}{% endif %}",
        on_schema_change='fail',
    )
}}
-- One row per team (and '(all teams)') x period type (week, month, sprint) x period: the team's billed AI spend
-- (fct_team_spend_daily), its output (fct_engineering_output_daily) and its active developers (people with AI spend,
-- int_person_spend_daily), summed from their days. fct_unit_economics adds the ratios, the period before and the
-- directory's suppression of small teams.
--
-- Incremental: a run rebuilds, of each period type, the period holding its window's first day and every later one
-- (macros/periods.sql, is_rebuilt_unit_period), from all of their days; its inputs change on no earlier day.
-- Summed again over the year every day, this cost ~0.5-0.7 s of a daily build at 10,000 developers (2.4M
-- person-days, their active developers counted distinct six ways), and grew with the history.
{%- set periods = [('week', 'week_start'), ('month', 'month_start'), ('sprint', 'sprint_start')] %}

with

dates as (

    select * from {{ ref('dim_dates') }}
    {% if is_incremental() %}
    where {{ is_in_rebuilt_unit_period('date_day') }}
    {% endif %}

),

team_spend as (

    select usage_date as day, team_id, billed_cost_usd as ai_cost_usd
    from {{ ref('fct_team_spend_daily') }}
    {% if is_incremental() %}
    where {{ is_in_rebuilt_unit_period('usage_date') }}
    {% endif %}

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
    {% if is_incremental() %}
    where {{ is_in_rebuilt_unit_period('output_date') }}
    {% endif %}
    group by output_date, team_id

),

person_spend as (

    select usage_date as day, team_id, person_email
    from {{ ref('int_person_spend_daily') }}
    where has_positive_line
    {% if is_incremental() %}
        and {{ is_in_rebuilt_unit_period('usage_date') }}
    {% endif %}

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

)

select
    totals.period_type,
    totals.period_start,
    totals.team_id,
    totals.ai_cost_usd,
    totals.prs_merged,
    totals.tickets_closed,
    totals.story_points,
    totals.successful_deployments,
    coalesce(active.active_developers, 0) as active_developers
from totals
left join active
    on active.period_type = totals.period_type
    and active.period_start = totals.period_start
    and active.team_id = totals.team_id
{% if is_incremental() %}
-- the days read reach back to the earliest of the three periods: a week or sprint that began before its own
-- type's first rebuilt period is partly read, and kept as built instead
where {{ is_rebuilt_unit_period('totals.period_type', 'totals.period_start') }}
{% endif %}
