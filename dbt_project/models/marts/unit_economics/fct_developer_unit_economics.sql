-- One row per person (in the directory) x sprint with any AI spend or output: for team leads, not finance.
-- AI cost is the person's own usage (service keys excluded); output is what they merged and resolved. The sums are
-- kept incrementally by sprint (int_developer_sprint_totals); the name and team are the directory's today.
-- A view: a join of those totals with the directory that a query computes in well under a second (a year of 10,000
-- people is ~265k rows). As a table it was written again whole by every daily build (1.7-3.4 s of node time at L).
{{ config(materialized='view') }}
with

sprints as (

    select * from {{ ref('int_developer_sprint_totals') }}

),

people as (

    select * from {{ ref('dim_people') }}

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
