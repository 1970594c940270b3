{{
    config(
        materialized='incremental',
        incremental_strategy=append_strategy(),
        pre_hook="{% if is_incremental() %}delete from {{ this }} where output_date >= {{ window_start() }}{% endif %}",
        on_schema_change='fail',
    )
}}
-- One row per day x team x person: pull requests merged, lines changed, tickets closed, story points, and (on the
-- team's own row, person '(team)') deployments. Output of people not in the directory is person 'unallocated'.
-- Incremental: a run rebuilds the days from its window's first on. Not only to its last: a deployment counts on the
-- day it succeeded, which can be after the day it was created (and loaded).
with

events as (

    select * from {{ ref('int_engineering_output_events') }}
    {% if is_incremental() %}
    where output_date >= {{ window_start() }}
    {% endif %}

),

keyed as (

    select
        *,
        case
            when person_email is not null then {{ person_label('person_email') }}
            when output_type = 'deployment' then '(team)'
            else 'unallocated'
        end as person_key
    from events

)

select
    {{ surrogate_key(['output_date', 'team_id', 'person_key']) }} as output_key,
    output_date,
    team_id,
    person_key,
    max({{ person_label('person_email') }}) as person_email,
    sum(prs_merged) as prs_merged,
    sum(lines_added) as lines_added,
    sum(lines_deleted) as lines_deleted,
    sum(tickets_closed) as tickets_closed,
    sum(story_points) as story_points,
    sum(deployments) as deployments,
    sum(successful_deployments) as successful_deployments
from keyed
group by output_date, team_id, person_key
