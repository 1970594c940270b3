{{
    config(
        materialized='incremental',
        incremental_strategy=append_strategy(),
        pre_hook="{{ delete_window_session_findings() }}",
        on_schema_change='fail',
    )
}}
-- Rule retry_loop: one row per agent session that re-sent near-identical requests in a burst, or kept failing.
--
-- A burst: at least var('anomaly_retry_burst_requests') answered requests of the session within
-- var('anomaly_retry_burst_minutes') minutes of the burst's first request (inclusive count: exactly 10 fires) whose
-- prompt tokens (input + cache read + cache write: the request as sent) are within var('anomaly_retry_token_tolerance')
-- (0.05 = 5%, inclusive) of that first request's. Or at least var('anomaly_retry_error_requests') failed attempts
-- (fct_agent_sessions.error_requests, inclusive) in the session. observed is the largest burst's request count (the
-- failed attempts when there is no burst), baseline the threshold it crossed. The expected cost leaves out the
-- burst's repeats (every request of the largest burst but its first); failed attempts cost nothing.
--
-- Incremental like fct_agent_sessions (macros/sessions.sql): a session's finding depends on its own requests only,
-- so a run tests again the sessions with a request in its window and keeps the others' findings.
{%- set window_ns = (var('anomaly_retry_burst_minutes') | int) * 60000000000 %}

with

requests as (

    select * from {{ ref('int_anomalies__agent_requests') }}
    {% if is_incremental() %}
    where {{ is_window_session_key('session_key') }}
    {% endif %}

),

sessions as (

    select * from {{ ref('int_anomalies__session_base') }}
    {% if is_incremental() %}
    where {{ is_window_session_key('session_key') }}
    {% endif %}

),

-- answered requests of sessions with enough of them to hold a burst (the pairs below grow with a session's square)
answered as (

    select requests.*
    from requests
    inner join sessions
        on sessions.session_key = requests.session_key
    where requests.is_request
        and requests.prompt_tokens > 0
        and sessions.requests >= {{ var('anomaly_retry_burst_requests') }}

),

-- every answered request as the first of a possible burst: the near-identical requests in the window after it
bursts as (

    select
        anchor.session_key,
        anchor.event_key,
        anchor.event_time_unix_nano,
        count(*) as burst_requests,
        sum(case when later.event_key <> anchor.event_key then later.cost_usd else 0 end) as repeat_cost,
        max(later.event_time_unix_nano) - anchor.event_time_unix_nano as burst_ns
    from answered as anchor
    inner join answered as later
        on later.session_key = anchor.session_key
        and later.event_time_unix_nano >= anchor.event_time_unix_nano
        and later.event_time_unix_nano < anchor.event_time_unix_nano + {{ window_ns }}
        and abs(later.prompt_tokens - anchor.prompt_tokens)
            <= {{ var('anomaly_retry_token_tolerance') }} * anchor.prompt_tokens
    group by anchor.session_key, anchor.event_key, anchor.event_time_unix_nano

),

largest_bursts as (

    select *
    from (
        select
            bursts.*,
            row_number() over (
                partition by session_key order by burst_requests desc, event_time_unix_nano, event_key
            ) as burst_rank
        from bursts
    ) as ranked
    where burst_rank = 1

),

flagged as (

    select
        sessions.*,
        coalesce(largest_bursts.burst_requests, 0) as burst_requests,
        coalesce(largest_bursts.repeat_cost, 0) as repeat_cost,
        largest_bursts.burst_ns,
        coalesce(largest_bursts.burst_requests, 0) >= {{ var('anomaly_retry_burst_requests') }} as has_burst
    from sessions
    left join largest_bursts
        on largest_bursts.session_key = sessions.session_key
    where coalesce(largest_bursts.burst_requests, 0) >= {{ var('anomaly_retry_burst_requests') }}
        or sessions.error_requests >= {{ var('anomaly_retry_error_requests') }}

)

select
    {{ session_finding(
        'retry_loop',
        observed='case when flagged.has_burst then flagged.burst_requests else flagged.error_requests end',
        baseline='case when flagged.has_burst then ' ~ var('anomaly_retry_burst_requests')
            ~ ' else ' ~ var('anomaly_retry_error_requests') ~ ' end',
        expected_usd='flagged.cost_usd - case when flagged.has_burst then flagged.repeat_cost else 0 end',
        top_contributors=[
            "'largest burst '", integer_text('flagged.burst_requests'), "' requests; '",
            integer_text('flagged.error_requests'), "' failed attempts; '", integer_text('flagged.retries'), "' retries'"
        ],
        sentence=[
            "' on '", date_text('flagged.session_date'), "' '",
            "case when flagged.has_burst then " ~ dbt.concat([
                "'sent '", integer_text('flagged.burst_requests'), "' near-identical requests in '",
                one_decimal_text('flagged.burst_ns / 60000000000.0'), "' minutes ('", usd_text('flagged.repeat_cost'),
                "' at list price for the repeats)'",
                "case when flagged.error_requests > 0 then " ~ dbt.concat([
                    "' and '", integer_text('flagged.error_requests'), "' failed attempts'"
                ]) ~ " else '' end"
            ]) ~ " else " ~ dbt.concat([
                "'failed '", integer_text('flagged.error_requests'), "' times ('", integer_text('flagged.retries'),
                "' retries)'"
            ]) ~ " end",
            "' - a retry loop?'"
        ]
    ) }}
from flagged
