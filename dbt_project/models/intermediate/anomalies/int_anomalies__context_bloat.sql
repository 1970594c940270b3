{{ config(materialized='table') }}
-- Rule context_bloat: one row per agent session whose per-turn cost grew until its last turn cost at least
-- var('anomaly_context_bloat_ratio') x its first (inclusive: exactly 5x fires), over at least
-- var('anomaly_context_bloat_min_turns') turns, for a session that cost at least var('anomaly_context_bloat_min_usd')
-- (inclusive). Turn costs are fct_agent_sessions' first_turn_cost_usd / last_turn_cost_usd (a turn is a prompt; its
-- requests' cost). The expected cost is every turn at the first turn's cost (the context reset or compacted), the
-- actual the session's cost.
with

sessions as (

    select * from {{ ref('fct_agent_sessions') }}

),

people as (

    select * from {{ ref('dim_people') }}

),

flagged as (

    select *
    from sessions
    where turns >= {{ var('anomaly_context_bloat_min_turns') }}
        and first_turn_cost_usd > 0
        and last_turn_cost_usd >= {{ var('anomaly_context_bloat_ratio') }} * first_turn_cost_usd
        and cost_usd >= {{ var('anomaly_context_bloat_min_usd') }}

)

select
    'context_bloat' as rule,
    'session' as entity_type,
    flagged.session_id as entity_id,
    {{ dbt.concat(['flagged.tool', "' session '", 'flagged.session_id']) }} as entity_name,
    flagged.team_id,
    'session' as period_type,
    flagged.session_date as period_start,
    flagged.ended_date as period_end,
    {{ money('flagged.last_turn_cost_usd') }} as observed,
    {{ money('flagged.first_turn_cost_usd') }} as baseline,
    {{ money('flagged.first_turn_cost_usd * flagged.turns') }} as expected_usd,
    {{ money('flagged.cost_usd') }} as actual_usd,
    {{ dbt.concat([
        'flagged.primary_model_ref', "'; '", integer_text('flagged.turns'), "' turns; last turn '",
        usd_text('flagged.last_turn_cost_usd'), "'; cache reads '", percent_text('flagged.cache_read_ratio'),
        "' of prompt tokens'"
    ]) }} as top_contributors,
    {{ dbt.concat([
        'coalesce(people.person_name, flagged.principal_id)', "'''s '", 'flagged.tool', "' session '",
        'substr(flagged.session_id, 1, 8)', "' started '", date_text('flagged.session_date'), "' grew turn by turn: its last turn cost '",
        usd_text('flagged.last_turn_cost_usd'), "', '", one_decimal_text('flagged.last_turn_cost_usd / flagged.first_turn_cost_usd'),
        "'x its first ('", usd_text('flagged.first_turn_cost_usd'), "'), over '", integer_text('flagged.turns'),
        "' turns costing '", usd_text('flagged.cost_usd'), "' at list price; had each turn cost what the first did it would have been '",
        usd_text('flagged.first_turn_cost_usd * flagged.turns'), "' (reset or compact the context)'"
    ]) }} as sentence
from flagged
left join people
    on people.person_email = flagged.person_email
