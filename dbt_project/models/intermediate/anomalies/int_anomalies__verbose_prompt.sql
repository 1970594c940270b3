{{
    config(
        materialized='incremental',
        incremental_strategy=append_strategy(),
        pre_hook="{{ delete_retested_session_days() }}",
        on_schema_change='fail',
    )
}}
-- depends_on: {{ ref('int_anomalies__session_base') }}
-- Rule verbose_prompt: one row per user (person, unknown user or service) x agent tool x day whose cost per answered
-- request is above var('anomaly_verbose_prompt_ratio') x (strictly) the median of its daily cost per request over its
-- active days in the var('anomaly_baseline_days') days before (at least var('anomaly_verbose_prompt_min_history_days')
-- such days; never the tested day), when the day cost at least var('anomaly_verbose_prompt_min_usd') (inclusive).
-- Costs per request come from int_anomalies__agent_requests (activity at list price). The provider usage reports
-- carry no request counts, so API keys are not measured here: the agents' telemetry is. A user-day with a request of a
-- session the session rules flagged (expensive_session, forgotten_agent, context_bloat, retry_loop) gets no finding
-- here: that session already explains the day (one alert per cause).
--
-- Incremental: a day's finding depends on the user's requests of that day and of the days before, and on whether
-- the day's sessions were flagged (a session rule reads that session alone). A run rebuilds whole the sessions with a
-- request in its window (int_anomalies__agent_requests), from the first day one of them has a request on
-- (a session left running since the day before changes that day too), so it tests again every day from that one
-- whose baseline reaches no later than the window (macros/sessions.sql) and keeps the other days' findings.
{%- set window_days = var('anomaly_baseline_days') | int %}

with

requests as (

    select * from {{ ref('int_anomalies__agent_requests') }}
    where is_request
    {% if is_incremental() %}
        and usage_date >= cast({{ dbt.dateadd('day', -window_days, window_sessions_first_day()) }} as date)
    {% endif %}

),

people as (

    select * from {{ ref('dim_people') }}

),

flagged_sessions as (

    {% for rule in ['expensive_session', 'forgotten_agent', 'context_bloat', 'retry_loop'] -%}
    select entity_id as session_id from {{ ref('int_anomalies__' ~ rule) }}
    {% if not loop.last %}union distinct {% endif %}
    {%- endfor %}

),

explained_days as (

    select distinct requests.principal_id, requests.tool, requests.usage_date
    from requests
    inner join flagged_sessions
        on flagged_sessions.session_id = requests.session_id

),

user_days as (

    select
        principal_id,
        tool,
        usage_date,
        max(team_id) as team_id,
        count(*) as requests,
        sum(cost_usd) as cost,
        sum(cost_usd) / count(*) as cost_per_request
    from requests
    group by principal_id, tool, usage_date

),

history as (

    select
        tested.principal_id,
        tested.tool,
        tested.usage_date,
        count(*) as history_days,
        {{ median('earlier.cost_per_request') }} as median_cost_per_request
    from user_days as tested
    inner join user_days as earlier
        on earlier.principal_id = tested.principal_id
        and earlier.tool = tested.tool
        and earlier.usage_date < tested.usage_date
        and earlier.usage_date >= cast({{ dbt.dateadd('day', -window_days, 'tested.usage_date') }} as date)
    {% if is_incremental() %}
    where {{ is_session_day_retested('tested.usage_date', window_days) }}
    {% endif %}
    group by tested.principal_id, tested.tool, tested.usage_date

),

flagged as (

    select
        user_days.*,
        history.history_days,
        history.median_cost_per_request
    from user_days
    inner join history
        on history.principal_id = user_days.principal_id
        and history.tool = user_days.tool
        and history.usage_date = user_days.usage_date
    left join explained_days
        on explained_days.principal_id = user_days.principal_id
        and explained_days.tool = user_days.tool
        and explained_days.usage_date = user_days.usage_date
    where explained_days.principal_id is null
        and history.history_days >= {{ var('anomaly_verbose_prompt_min_history_days') }}
        and history.median_cost_per_request > 0
        and user_days.cost >= {{ var('anomaly_verbose_prompt_min_usd') }}
        and user_days.cost_per_request > {{ var('anomaly_verbose_prompt_ratio') }} * history.median_cost_per_request

),

-- the requests of the flagged days, for what the day was spent on
flagged_requests as (

    select requests.*
    from requests
    inner join flagged
        on flagged.principal_id = requests.principal_id
        and flagged.tool = requests.tool
        and flagged.usage_date = requests.usage_date

),

-- the day's model and session that cost the most
top_models as (

    {{ top_contributor('flagged_requests', ['principal_id', 'tool', 'usage_date'], 'model_ref', 'cost_usd', 'cost') }}

),

top_sessions as (

    {{ top_contributor('flagged_requests', ['principal_id', 'tool', 'usage_date'], 'session_id', 'cost_usd', 'cost') }}

)

select
    'verbose_prompt' as rule,
    'user_tool' as entity_type,
    {{ dbt.concat(['flagged.principal_id', "'/'", 'flagged.tool']) }} as entity_id,
    {{ dbt.concat(['coalesce(people.person_name, flagged.principal_id)', "' on '", 'flagged.tool']) }} as entity_name,
    flagged.team_id,
    'day' as period_type,
    flagged.usage_date as period_start,
    flagged.usage_date as period_end,
    {{ money('flagged.cost_per_request') }} as observed,
    {{ money('flagged.median_cost_per_request') }} as baseline,
    {{ money('flagged.median_cost_per_request * flagged.requests') }} as expected_usd,
    {{ money('flagged.cost') }} as actual_usd,
    {{ dbt.concat([
        'top_models.model_ref', "' '", percent_text(safe_divide('top_models.cost', 'flagged.cost')),
        "'; session '", 'substr(top_sessions.session_id, 1, 8)', "' '",
        percent_text(safe_divide('top_sessions.cost', 'flagged.cost'))
    ]) }} as top_contributors,
    {{ dbt.concat([
        'coalesce(people.person_name, flagged.principal_id)', text_literal("'s "), 'flagged.tool', "' requests on '",
        date_text('flagged.usage_date'), "' cost '", usd_text('flagged.cost_per_request'), "' each ('",
        integer_text('flagged.requests'), "' requests, '", usd_text('flagged.cost'), "' at list price), '",
        one_decimal_text('flagged.cost_per_request / flagged.median_cost_per_request'),
        "'x their " ~ window_days ~ "-day median of '", usd_text('flagged.median_cost_per_request'),
        "' a request - longer prompts or a bigger context?'"
    ]) }} as sentence
from flagged
left join top_models
    on top_models.principal_id = flagged.principal_id
    and top_models.tool = flagged.tool
    and top_models.usage_date = flagged.usage_date
left join top_sessions
    on top_sessions.principal_id = flagged.principal_id
    and top_sessions.tool = flagged.tool
    and top_sessions.usage_date = flagged.usage_date
left join people
    on people.person_email = flagged.principal_id
