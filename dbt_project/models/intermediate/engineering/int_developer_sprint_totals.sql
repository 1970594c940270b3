{{
    config(
        materialized='incremental',
        incremental_strategy=append_strategy(),
        pre_hook="{% if is_incremental() %}delete from {{ this }} where sprint_end >= {{ window_start() }}{% endif %}",
        on_schema_change='fail',
    )
}}
-- One row per person x sprint with any AI spend or output: the person's own AI cost (service keys excluded) and what
-- they merged and resolved, summed from their days. fct_developer_unit_economics adds the directory's name and team.
-- Incremental: a run rebuilds the sprints from the one holding its window's first day on, reading the days from that
-- sprint's first. Its inputs change on no earlier day: the person-days keep the ledger's window, and the engineering
-- output rebuilds the days from the window's first on. Not only to the window's last sprint, for the same reason.
{%- set first_day = sprint_day(window_start()) %}
with

dates as (

    select * from {{ ref('dim_dates') }}
    {% if is_incremental() %}
    where date_day >= {{ first_day }}
    {% endif %}

),

spend as (

    select usage_date as day, person_email, sum(billed_cost_usd) as ai_cost_usd
    from {{ ref('int_person_spend_daily') }}
    {% if is_incremental() %}
    where usage_date >= {{ first_day }}
    {% endif %}
    group by usage_date, person_email

),

output as (

    select
        output_date as day,
        person_email,
        sum(prs_merged) as prs_merged,
        sum(lines_added + lines_deleted) as lines_changed,
        sum(tickets_closed) as tickets_closed,
        sum(story_points) as story_points
    from {{ ref('fct_engineering_output_daily') }}
    where person_email is not null
    {% if is_incremental() %}
        and output_date >= {{ first_day }}
    {% endif %}
    group by output_date, person_email

),

person_days as (

    select
        coalesce(spend.day, output.day) as day,
        coalesce(spend.person_email, output.person_email) as person_email,
        coalesce(spend.ai_cost_usd, 0) as ai_cost_usd,
        coalesce(output.prs_merged, 0) as prs_merged,
        coalesce(output.lines_changed, 0) as lines_changed,
        coalesce(output.tickets_closed, 0) as tickets_closed,
        coalesce(output.story_points, 0) as story_points
    from spend
    full outer join output
        on output.day = spend.day
        and output.person_email = spend.person_email

)

select
    person_days.person_email,
    dates.sprint_start,
    max(dates.sprint_end) as sprint_end,
    max(dates.sprint_name) as sprint_name,
    sum(person_days.ai_cost_usd) as ai_cost_usd,
    sum(person_days.prs_merged) as prs_merged,
    sum(person_days.lines_changed) as lines_changed,
    sum(person_days.tickets_closed) as tickets_closed,
    sum(person_days.story_points) as story_points,
    -- person_days holds one row per person and day (both sides are grouped by day and person), so counting rows
    -- counts days, without the distinct aggregate's hash set per sprint
    count(case when person_days.ai_cost_usd > 0 then 1 end) as days_with_ai_usage
from person_days
inner join dates on dates.date_day = person_days.day
group by person_days.person_email, dates.sprint_start
