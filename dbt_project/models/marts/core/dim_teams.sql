-- One row per team in the org directory, plus the 'unallocated' owner of spend nobody could be matched to.
with

teams as (

    select * from {{ ref('stg_org__teams') }}

)

select team_id, team_name, cost_center, false as is_unallocated from teams
union all
select 'unallocated', 'Unallocated', cast(null as {{ dbt.type_string() }}), true
