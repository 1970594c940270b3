-- One row per person (in the directory) x sprint with any AI spend or output: for team leads, not finance.
-- AI cost is the person's own usage (service keys excluded); output is what they merged and resolved.
with

dates as (

    select * from {{ ref('dim_dates') }}

),

people as (

    select * from {{ ref('dim_people') }}

),

spend as (

    select usage_date as day, person_email, sum(billed_cost_usd) as ai_cost_usd
    from {{ ref('int_person_spend_daily') }}
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

),

sprints as (

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
        -- person_days holds one row per person and day (both sides are grouped by day and person), so counting
        -- rows counts days, without the distinct aggregate's hash set per sprint
        count(case when person_days.ai_cost_usd > 0 then 1 end) as days_with_ai_usage
    from person_days
    inner join dates on dates.date_day = person_days.day
    group by person_days.person_email, dates.sprint_start

)

select
    {{ surrogate_key(['sprints.person_email', 'sprints.sprint_start']) }} as developer_sprint_key,
    sprints.person_email,
    people.person_name,
    people.team_id,
    people.team_name,
    sprints.sprint_name,
    sprints.sprint_start,
    sprints.sprint_end,
    {{ money('sprints.ai_cost_usd') }} as ai_cost_usd,
    sprints.prs_merged,
    sprints.lines_changed,
    sprints.tickets_closed,
    sprints.story_points,
    sprints.days_with_ai_usage,
    {{ rounded_ratio('sprints.ai_cost_usd', 'sprints.prs_merged', 2) }} as cost_per_pr,
    {{ rounded_ratio('sprints.ai_cost_usd', 'sprints.tickets_closed', 2) }} as cost_per_ticket,
    {{ rounded_ratio('sprints.ai_cost_usd', 'sprints.story_points', 2) }} as cost_per_story_point
from sprints
inner join people on people.person_email = sprints.person_email
