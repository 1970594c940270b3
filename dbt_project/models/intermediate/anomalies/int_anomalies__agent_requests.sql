{{
    config(
        materialized='incremental',
        incremental_strategy=append_strategy(),
        pre_hook="{{ delete_window_sessions('usage_date') }}",
        on_schema_change='fail',
    )
}}
-- One row per agent model request (answered or failed) with its session's owner and an estimated cost: the helper
-- of the per-request rules (retry_loop, forgotten_agent, verbose_prompt).
--
-- A request's cost is what the telemetry reported for it; where it reported none (GenAI spans), the session's
-- remaining cost (fct_agent_sessions.cost_usd minus what was reported, i.e. the price book's figure) shared among those
-- requests in proportion to their tokens. So the requests of a session add up to the session's cost_usd, and no
-- price lookup is repeated here. Activity at list price, not billed money (as fct_agent_sessions).
--
-- Incremental like fct_agent_sessions (macros/sessions.sql): a run rebuilds the requests of every session with a
-- request in its window, all of them, since a request's share depends on its whole session.
with

-- read three times on an incremental run (macros/sessions.sql): recomputed where read, not buffered whole on DuckDB
all_requests as {{ cte_inlined() }} (

    select * from {{ ref('stg_agent_telemetry__requests') }}

),

{% if is_incremental() %}
{{ window_sessions_cte('all_requests') }}
{% endif %}

requests as (

    select * from all_requests
    {% if is_incremental() %}
    where {{ is_window_session_request('all_requests') }}
    {% endif %}

),

sessions as (

    select * from {{ ref('fct_agent_sessions') }}
    {% if is_incremental() %}
    where session_key in (select session_key from window_sessions)
    {% endif %}

),

sized as (

    select
        requests.event_key,
        requests.session_key,
        requests.usage_date,
        requests.event_time_unix_nano,
        requests.model_ref,
        requests.is_error,
        requests.is_request,
        requests.reported_cost_usd,
        -- the prompt as sent: uncached input plus what was read from and written to the cache
        coalesce(requests.input_tokens, 0) + coalesce(requests.cache_read_tokens, 0)
            + coalesce(requests.cache_write_tokens, 0) as prompt_tokens,
        coalesce(requests.input_tokens, 0) + coalesce(requests.cache_read_tokens, 0)
            + coalesce(requests.cache_write_tokens, 0) + coalesce(requests.output_tokens, 0) as total_tokens
    from requests

),

unreported as (

    select
        session_key,
        sum(case when reported_cost_usd is null then total_tokens else 0 end) as unreported_tokens
    from sized
    group by session_key

)

select
    sized.event_key,
    sized.session_key,
    sessions.session_id,
    sessions.tool,
    sessions.principal_id,
    sessions.principal_type,
    sessions.team_id,
    sized.usage_date,
    sized.event_time_unix_nano,
    sized.model_ref,
    sized.is_error,
    sized.is_request,
    sized.prompt_tokens,
    sized.total_tokens,
    {{ money(
        "case
            when sized.reported_cost_usd is not null then sized.reported_cost_usd
            when unreported.unreported_tokens > 0
                then (sessions.cost_usd - sessions.reported_cost_usd) * sized.total_tokens / unreported.unreported_tokens
            else 0
        end"
    ) }} as cost_usd
from sized
inner join sessions
    on sessions.session_key = sized.session_key
left join unreported
    on unreported.session_key = sized.session_key
