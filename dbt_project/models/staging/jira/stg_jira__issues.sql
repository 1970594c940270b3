-- One row per resolved Jira issue. The epic is the parent when the parent sits one level up (hierarchy level 1).
with

source as (

    select * from {{ source('jira', 'issues') }}

)

select
    issue_key,
    upper(project_key) as project_key,
    summary,
    issue_type,
    resolution,
    created_at,
    cast(created_at as date) as created_date,
    resolved_at,
    resolved_date,
    assignee_account_id,
    lower(assignee_email) as assignee_email,
    assignee_name,
    parent_key,
    case when parent_hierarchy_level = 1 then parent_key end as epic_key,
    case when parent_hierarchy_level = 1 then parent_summary end as epic_name,
    story_points,
    sprint_id,
    sprint_name,
    sprint_start,
    sprint_end
from source
