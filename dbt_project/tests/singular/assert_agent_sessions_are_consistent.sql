-- fct_agent_sessions' columns agree with each other: a session ends after it starts, has at least one turn and one
-- model, its turn costs fit in its cost, its token types add up to its total, every failed attempt counts as a retry,
-- a session crossing midnight runs overnight, and the unpriced flag matches the unpriced tokens.
-- Returns the sessions that break any of these (with the first rule they break).
{{ config(meta={'dagster': {'ref': {'name': 'fct_agent_sessions'}}}) }}

with

sessions as (

    select * from {{ ref('fct_agent_sessions') }}

),

checked as (

    select
        session_key,
        case
            when ended_at < started_at or ended_date < session_date then 'ends before it starts'
            when turns < 1 or model_count < 1 then 'no turn or no model'
            when requests + error_requests < 1 then 'no request'
            when first_turn_cost_usd > max_turn_cost_usd or last_turn_cost_usd > max_turn_cost_usd
                then 'a turn costs more than the most expensive turn'
            when max_turn_cost_usd > cost_usd then 'a turn costs more than the session'
            when input_tokens + output_tokens + cache_read_tokens + cache_write_tokens <> total_tokens
                then 'token types do not add up to the total'
            when retries < error_requests then 'a failed attempt is not counted as a retry'
            when crosses_midnight and not runs_overnight then 'crosses midnight but not flagged overnight'
            when has_unpriced_tokens <> (unpriced_token_count > 0) then 'unpriced flag disagrees with the tokens'
        end as broken_rule
    from sessions

)

select session_key, broken_rule
from checked
where broken_rule is not null
