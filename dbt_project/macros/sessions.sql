{#- Incremental agent sessions. A run rebuilds every session with a request in its window (min_date..max_date) from
    ALL of that session's requests, those before or after the window included (a session left running overnight is
    never cut in two); fct_agent_sessions and int_anomalies__agent_requests keep the rest as built.

    window_sessions_cte(requests): the CTE `window_sessions` (comma included), the sessions with a request in the
    window, over `requests` (a CTE of stg_agent_telemetry__requests' rows).
    is_window_session_request(requests): a filter on `requests` keeping those sessions' requests, read from the first
    day any of them has a request on. That day is found on the tool and the session id the key hashes, so that the
    key (an md5) is computed for the requests from that day on, not for a year of them (22M requests at 10,000
    developers: 38 s against ~1 s). `requests` should be `cte_inlined()`, so that each read's filters reach the raw
    table's scan. -#}
{% macro window_sessions_cte(requests) -%}
    window_sessions as (

        select distinct tool, agent_session_id, session_key
        from {{ requests }}
        where usage_date between {{ window_start() }} and {{ window_end() }}

    ),
{%- endmacro %}

{% macro is_window_session_request(requests) -%}
    (session_key in (select session_key from window_sessions)
        and usage_date >= (
            select min(earlier.usage_date)
            from {{ requests }} as earlier
            inner join window_sessions
                on window_sessions.tool = earlier.tool
                and window_sessions.agent_session_id = earlier.agent_session_id
        ))
{%- endmacro %}

{#- The pre-hook's delete of what such a run rebuilds: rows of the window's sessions, and rows dated in the window
    (a session whose requests are gone since, as a provider's restated day). `date_column`: the row's day. -#}
{% macro delete_window_sessions(date_column) -%}
    {%- if is_incremental() -%}
        delete from {{ this }}
        where {{ date_column }} between {{ window_start() }} and {{ window_end() }}
            or session_key in (
                select session_key
                from {{ ref('stg_agent_telemetry__requests') }}
                where usage_date between {{ window_start() }} and {{ window_end() }}
            )
    {%- endif -%}
{%- endmacro %}

{#- For the rules that read int_anomalies__agent_requests: the sessions with a request in the window, as its rows
    dated in the window name them (it was rebuilt for them before the rule runs). -#}
{% macro is_window_session_key(column) -%}
    {{ column }} in (
        select session_key
        from {{ ref('int_anomalies__agent_requests') }}
        where usage_date between {{ window_start() }} and {{ window_end() }}
    )
{%- endmacro %}

{#- The pre-hook's delete of a session rule's findings that a run tests again: those of the sessions with a request
    in the window (a finding names its session by tool and session id: entity_name) and those dated in the window (a
    session whose requests are gone since). -#}
{% macro delete_window_session_findings() -%}
    {%- if is_incremental() -%}
        delete from {{ this }}
        where period_start between {{ window_start() }} and {{ window_end() }}
            or entity_name in (
                select {{ dbt.concat(['tool', "' session '", 'session_id']) }}
                from {{ ref('int_anomalies__agent_requests') }}
                where usage_date between {{ window_start() }} and {{ window_end() }}
            )
    {%- endif -%}
{%- endmacro %}

{#- Rules whose findings reach across sessions and days (verbose_prompt, expensive_session). A run rebuilt the
    sessions with a request in its window (fct_agent_sessions, int_anomalies__agent_requests) from their first day:
    window_sessions_first_day() is the first day a session still running into the window started on (a session left
    running since the day before changes that day too), or the window's first day. Found from the sessions' own
    spans (started before the window, ended in it or after), not from which of them has a request in the window: a
    span over the window without a request in it can only make that day earlier (a few more days tested again), and
    the spans are a filtered scan of the sessions where the requests were a semi-join over a year of them (0.13-0.20 s
    against 0.005 s at 10,000 developers, evaluated by each statement that tests the day). A day's finding depends on
    that day and the `lookback` days before it (its baseline), so the run tests again the days from that first day
    whose baseline reaches no later than the window's last day (the upper bound subtracts from the column, as
    is_rebuilt_period does). -#}
{% macro window_sessions_first_day() -%}
    coalesce(
        (
            select min(session_date)
            from {{ ref('int_anomalies__session_base') }}
            where session_date < {{ window_start() }}
                and ended_date >= {{ window_start() }}
        ),
        {{ window_start() }}
    )
{%- endmacro %}

{#- The pre-hook's delete of what such a run tests again: the findings dated on a day is_session_day_retested
    names (the rule's baseline of var('anomaly_baseline_days') days). -#}
{% macro delete_retested_session_days() -%}
    {%- if is_incremental() -%}
        delete from {{ this }}
        where {{ is_session_day_retested('period_start', var('anomaly_baseline_days') | int) }}
    {%- endif -%}
{%- endmacro %}

{% macro is_session_day_retested(column, lookback) -%}
    ({{ column }} >= {{ window_sessions_first_day() }}
        and cast({{ dbt.dateadd('day', -lookback, column) }} as date) <= {{ window_end() }})
{%- endmacro %}
