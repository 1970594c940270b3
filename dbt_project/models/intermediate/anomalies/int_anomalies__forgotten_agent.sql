{{
    config(
        materialized='incremental',
        incremental_strategy=append_strategy(),
        pre_hook="{{ delete_window_session_findings() }}",
        on_schema_change='fail',
    )
}}
-- Rule forgotten_agent: one row per agent session that ran overnight or on a weekend (fct_agent_sessions'
-- runs_overnight / on_weekend) AND lasted more than var('anomaly_forgotten_agent_hours') hours (strictly). observed is
-- the duration in hours, baseline the threshold; the expected cost is what the session's requests cost in its first
-- var('anomaly_forgotten_agent_hours') hours (had someone stopped it then), the actual cost all of it.
--
-- Incremental like retry_loop (macros/sessions.sql): a session's finding depends on its own row and requests only,
-- so a run tests again the sessions with a request in its window and keeps the others' findings (rebuilt whole, it
-- read a year of sessions and requests every run: 1.1 s of a daily build's node time at 10,000 developers).
{%- set hours = var('anomaly_forgotten_agent_hours') %}

with

sessions as (

    select * from {{ ref('int_anomalies__session_base') }}
    {% if is_incremental() %}
    where {{ is_window_session_key('session_key') }}
    {% endif %}

),

requests as (

    select * from {{ ref('int_anomalies__agent_requests') }}
    {% if is_incremental() %}
    where {{ is_window_session_key('session_key') }}
    {% endif %}

),

flagged as (

    select *
    from sessions
    where (runs_overnight or on_weekend)
        and duration_minutes > {{ hours }} * 60

),

-- the requests' cost within the first hours of the session, and after
split_costs as (

    select
        flagged.session_key,
        min(requests.event_time_unix_nano) as first_ns,
        count(*) as events
    from flagged
    inner join requests
        on requests.session_key = flagged.session_key
    group by flagged.session_key

),

costs as (

    select
        split_costs.session_key,
        sum(
            case
                when requests.event_time_unix_nano < split_costs.first_ns + {{ hours }} * 3600000000000
                    then requests.cost_usd
                else 0
            end
        ) as early_cost
    from split_costs
    inner join requests
        on requests.session_key = split_costs.session_key
    group by split_costs.session_key

)

select
    {{ session_finding(
        'forgotten_agent',
        observed='flagged.duration_minutes / 60.0',
        baseline=hours,
        expected_usd='coalesce(costs.early_cost, 0)',
        top_contributors=[
            "'session '", 'substr(flagged.session_id, 1, 8)', "' '", one_decimal_text('flagged.duration_minutes / 60.0'),
            "'h; '", integer_text('flagged.requests'), "' requests'"
        ],
        sentence=[
            "' ('", 'flagged.primary_model_ref', "') ran '", one_decimal_text('flagged.duration_minutes / 60.0'),
            "' hours from '", date_text('flagged.session_date'), "' to '", date_text('flagged.ended_date'), "' ('",
            "case when flagged.runs_overnight and flagged.on_weekend then 'overnight, on a weekend' "
                ~ "when flagged.runs_overnight then 'overnight' else 'on a weekend' end",
            "'): '", integer_text('flagged.requests'), "' requests, '", usd_text('flagged.cost_usd'),
            "' at list price, '", usd_text('flagged.cost_usd - coalesce(costs.early_cost, 0)'),
            "' of it after its first " ~ hours ~ " hours - an agent left running?'"
        ]
    ) }}
from flagged
left join costs
    on costs.session_key = flagged.session_key
