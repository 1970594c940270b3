-- Conservation: every agent request's tokens (stg_agent_telemetry__requests, input + output + cache read + cache
-- write) land in exactly one session of fct_agent_sessions. Returns the groups whose totals differ.
-- A build without a window compares the whole history per tool. A run with a window (the daily schedule) compares the
-- sessions it rebuilt, each whole and one by one: those with a request in the window, with all of their requests
-- (macros/sessions.sql). The sessions it kept were compared when they were built, and comparing a year of requests
-- again cost ~1.5 s of a daily build at 10,000 developers (20M requests); the window's sessions are read from the
-- first day one of them has a request on, so the session key (an md5) is computed for those days' requests only.
{{ config(meta={'dagster': {'ref': {'name': 'fct_agent_sessions'}}}) }}
{%- set windowed = has_run_window() %}
{%- set group_by = ['tool', 'session_key'] if windowed else ['tool'] %}

with

requests as {{ cte_inlined() }} (

    select * from {{ ref('stg_agent_telemetry__requests') }}

),

{% if windowed %}
{{ window_sessions_cte('requests') }}
{% endif %}

request_tokens as (

    select
        {{ group_by | join(', ') }},
        sum(coalesce(input_tokens, 0) + coalesce(output_tokens, 0) + coalesce(cache_read_tokens, 0)
            + coalesce(cache_write_tokens, 0)) as total_tokens
    from requests
    {% if windowed %}
    where {{ is_window_session_request('requests') }}
    {% endif %}
    group by {{ group_by | join(', ') }}

),

session_tokens as (

    select {{ group_by | join(', ') }}, sum(total_tokens) as total_tokens
    from {{ ref('fct_agent_sessions') }}
    {% if windowed %}
    where session_key in (select session_key from window_sessions)
    {% endif %}
    group by {{ group_by | join(', ') }}

)

select
    {% for column in group_by %}coalesce(session_tokens.{{ column }}, request_tokens.{{ column }}) as {{ column }},
    {% endfor -%}
    coalesce(session_tokens.total_tokens, 0) as session_total_tokens,
    coalesce(request_tokens.total_tokens, 0) as request_total_tokens
from session_tokens
full outer join request_tokens
    on {% for column in group_by %}session_tokens.{{ column }} = request_tokens.{{ column }}{% if not loop.last %}
    and {% endif %}{% endfor %}
where coalesce(session_tokens.total_tokens, 0) <> coalesce(request_tokens.total_tokens, 0)
