-- One row per person in the org directory.
with

people as (

    select * from {{ ref('stg_org__people') }}

),

teams as (

    select * from {{ ref('stg_org__teams') }}

)

select
    {{ person_label('people.email') }} as person_email,
    {{ person_label('people.email') if var('pseudonymize_people') | string | lower in ('true', '1', 'yes', 'on') else 'people.full_name' }} as person_name,
    people.team_id,
    teams.team_name
from people
left join teams on teams.team_id = people.team_id
