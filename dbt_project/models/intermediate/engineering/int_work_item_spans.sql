-- One row per work item a person carried (a resolved ticket they were assigned, a pull request they merged), with
-- the days it was in flight and the feature (epic) it belongs to. Used to share a person's daily AI cost across
-- their work; see fct_feature_costs for the method.
--   ticket       : in flight from created to resolved, at most work_item_max_days days; feature = its epic.
--   pull request : in flight from opened to merged, at most work_item_max_days days; feature = the epic of a ticket
--                  it names (the first in key order that has one).
-- Items without an epic belong to feature '(no epic)'; items without a known person are left out here.
-- last_changed_date: the last day whose load could change the item's row (a ticket: resolved; a pull request: merged,
-- or a later day on which a ticket it names was resolved, which can give it an epic). int_person_feature_cost_daily
-- rebuilds the days of the items that changed in a run's window.
-- A table: int_person_feature_cost_daily reads it twice a run and its tests once each (a year of a large
-- organisation's tickets and pull requests is millions of items).
{{ config(materialized='table') }}
{%- set max_days = var('work_item_max_days') | int %}

with

events as (

    select * from {{ ref('int_engineering_output_events') }}
    where person_email is not null and output_type in ('ticket', 'pull_request')

),

tickets as (

    select * from {{ ref('stg_jira__issues') }}

),

pull_requests as (

    select * from {{ ref('stg_github__pull_requests') }}

),

links as (

    select * from {{ ref('stg_github__pull_request_issue_links') }}

),

pull_request_epics as (

    -- min() skips the tickets without an epic; every named ticket counts for when the pull request last changed
    select
        links.pr_key,
        min(tickets.epic_key) as epic_key,
        max(tickets.resolved_date) as last_ticket_resolved_date
    from links
    inner join tickets on tickets.issue_key = links.issue_key
    group by links.pr_key

),

items as (

    select
        events.output_type as item_type,
        events.output_id as item_id,
        events.person_email,
        events.team_id,
        tickets.created_date as started_date,
        tickets.resolved_date as finished_date,
        tickets.epic_key,
        tickets.resolved_date as last_changed_date
    from events
    inner join tickets on tickets.issue_key = events.output_id
    where events.output_type = 'ticket'

    union all

    select
        events.output_type,
        events.output_id,
        events.person_email,
        events.team_id,
        pull_requests.created_date,
        pull_requests.merged_date,
        pull_request_epics.epic_key,
        case
            when pull_request_epics.last_ticket_resolved_date > pull_requests.merged_date
                then pull_request_epics.last_ticket_resolved_date
            else pull_requests.merged_date
        end
    from events
    inner join pull_requests on pull_requests.pr_key = events.output_id
    left join pull_request_epics on pull_request_epics.pr_key = events.output_id
    where events.output_type = 'pull_request'

)

select
    item_type,
    item_id,
    person_email,
    team_id,
    case
        when started_date is null or started_date < {{ dbt.dateadd('day', -(max_days - 1), 'finished_date') }}
            then cast({{ dbt.dateadd('day', -(max_days - 1), 'finished_date') }} as date)
        else started_date
    end as span_start,
    finished_date as span_end,
    coalesce(epic_key, '(no epic)') as feature_key,
    last_changed_date
from items
