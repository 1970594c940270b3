-- One row per project in the org directory, plus 'unallocated'.
with

projects as (

    select * from {{ ref('stg_org__projects') }}

),

teams as (

    select * from {{ ref('stg_org__teams') }}

)

select
    projects.project_id,
    projects.project_name,
    projects.team_id,
    teams.team_name,
    false as is_unallocated
from projects
left join teams on teams.team_id = projects.team_id
union all
select 'unallocated', 'Unallocated', 'unallocated', 'Unallocated', true
