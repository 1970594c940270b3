{{ config(materialized='table') }}
-- One row per agent session (fct_agent_sessions, all of its columns) with its owner's name from the directory: what
-- the session rules (expensive_session, forgotten_agent, context_bloat, retry_loop) flag from, so that each of them
-- holds only its own condition and words. person_name is null when the principal is not a directory person (a
-- service, an unknown user): the rules' sentences then name the principal (macro session_finding).
with

sessions as (

    select * from {{ ref('fct_agent_sessions') }}

),

people as (

    select * from {{ ref('dim_people') }}

)

select
    sessions.*,
    people.person_name
from sessions
left join people
    on people.person_email = sessions.person_email
