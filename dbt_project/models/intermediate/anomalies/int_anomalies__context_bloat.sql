{{ config(materialized='table') }}
-- Rule context_bloat: one row per agent session whose per-turn cost grew until its last turn cost at least
-- var('anomaly_context_bloat_ratio') x its first (inclusive: exactly 5x fires), over at least
-- var('anomaly_context_bloat_min_turns') turns, for a session that cost at least var('anomaly_context_bloat_min_usd')
-- (inclusive). Turn costs are fct_agent_sessions' first_turn_cost_usd / last_turn_cost_usd (a turn is a prompt; its
-- requests' cost). The expected cost is every turn at the first turn's cost (the context reset or compacted), the
-- actual the session's cost.
with

sessions as (

    select * from {{ ref('int_anomalies__session_base') }}

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
    {{ session_finding(
        'context_bloat',
        observed='flagged.last_turn_cost_usd',
        baseline='flagged.first_turn_cost_usd',
        expected_usd='flagged.first_turn_cost_usd * flagged.turns',
        top_contributors=[
            integer_text('flagged.turns'), "' turns; last turn '", usd_text('flagged.last_turn_cost_usd'),
            "'; cache reads '", percent_text('flagged.cache_read_ratio'), "' of prompt tokens'"
        ],
        sentence=[
            "' started '", date_text('flagged.session_date'), "' grew turn by turn: its last turn cost '",
            usd_text('flagged.last_turn_cost_usd'), "', '",
            one_decimal_text('flagged.last_turn_cost_usd / flagged.first_turn_cost_usd'),
            "'x its first ('", usd_text('flagged.first_turn_cost_usd'), "'), over '", integer_text('flagged.turns'),
            "' turns costing '", usd_text('flagged.cost_usd'),
            "' at list price; had each turn cost what the first did it would have been '",
            usd_text('flagged.first_turn_cost_usd * flagged.turns'), "' (reset or compact the context)'"
        ]
    ) }}
from flagged
