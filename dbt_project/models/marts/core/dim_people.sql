-- One row per person in the org directory.
with

people as (

    select * from {{ ref('stg_org__people') }}

),

teams as (

    select * from {{ ref('stg_org__teams') }}

)

select
    people.email as person_email,
    people.full_name as person_name,
    people.team_id,
    teams.team_name
from people
left join teams on teams.team_id = people.team_id
