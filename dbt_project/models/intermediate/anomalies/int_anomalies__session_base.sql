{{ config(materialized='view') }}
-- One row per agent session (fct_agent_sessions, all of its columns) with its owner's name from the directory: what
-- the session rules (expensive_session, forgotten_agent, context_bloat, retry_loop) flag from, so that each of them
-- holds only its own condition and words. person_name is null when the principal is not a directory person (a
-- service, an unknown user): the rules' sentences then name the principal (macro session_finding).
-- A view: each rule's filter reaches fct_agent_sessions' scan, and no run writes a year of sessions again (a table
-- cost the daily run ~2 s at 10,000 developers with a year of telemetry, 1.5M sessions).
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
