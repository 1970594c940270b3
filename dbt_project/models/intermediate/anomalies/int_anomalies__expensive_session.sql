{{
    config(
        materialized='incremental',
        incremental_strategy=append_strategy(),
        pre_hook="{{ delete_retested_session_days() }}",
        on_schema_change='fail',
    )
}}
-- Rule expensive_session: one row per agent session (fct_agent_sessions) that cost more than
-- var('anomaly_session_cost_usd') or used more than var('anomaly_session_tokens') tokens (both strictly above).
-- Its baseline (and expected cost) is the median cost of the same tool's sessions started in the
-- var('anomaly_baseline_days') days before it (null when there were none). The session's cost is activity at list
-- price (the telemetry's own estimate, else the price book), as in fct_agent_sessions.
--
-- Incremental (macros/sessions.sql): whether a session is flagged depends on its own row, its baseline on the
-- sessions of the days before it. A run rebuilds whole the sessions with a request in its window, from the first day
-- one of them started on (window_sessions_first_day), so it tests again the sessions started from that day on whose
-- baseline reaches no later than the window, and keeps the other findings.
{%- set window_days = var('anomaly_baseline_days') | int %}

with

sessions as (

    select * from {{ ref('int_anomalies__session_base') }}

),

flagged as (

    select *
    from sessions
    where (cost_usd > {{ var('anomaly_session_cost_usd') }}
        or total_tokens > {{ var('anomaly_session_tokens') }})
    {% if is_incremental() %}
        and {{ is_session_day_retested('session_date', window_days) }}
    {% endif %}

),

typical as (

    select
        flagged.session_key,
        {{ median('history.cost_usd') }} as median_cost,
        count(*) as history_sessions
    from flagged
    inner join sessions as history
        on history.tool = flagged.tool
        and history.session_date < flagged.session_date
        and history.session_date >= cast({{ dbt.dateadd('day', -window_days, 'flagged.session_date') }} as date)
    group by flagged.session_key

)

select
    {{ session_finding(
        'expensive_session',
        observed='flagged.cost_usd',
        baseline='typical.median_cost',
        expected_usd='typical.median_cost',
        top_contributors=[
            integer_text('flagged.total_tokens'), "' tokens; '", integer_text('flagged.turns'), "' turns; '",
            one_decimal_text('flagged.duration_minutes / 60.0'), "'h'"
        ],
        sentence=[
            "' started '", date_text('flagged.session_date'), "' cost '", usd_text('flagged.cost_usd'),
            "' at list price ('", integer_text('flagged.total_tokens'), "' tokens, '", integer_text('flagged.turns'),
            "' turns, '", one_decimal_text('flagged.duration_minutes / 60.0'), "' hours, mostly '",
            'flagged.primary_model_ref', "')'",
            "case when typical.median_cost > 0 then " ~ dbt.concat([
                "', '", one_decimal_text('flagged.cost_usd / typical.median_cost'), "'x the median '", 'flagged.tool',
                "' session of the " ~ window_days ~ " days before ('", usd_text('typical.median_cost'), "')'"
            ]) ~ " else '' end"
        ]
    ) }}
from flagged
left join typical
    on typical.session_key = flagged.session_key
