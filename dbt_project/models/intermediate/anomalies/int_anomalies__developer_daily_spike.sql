{{
    config(
        materialized='incremental',
        incremental_strategy=append_strategy(),
        pre_hook="{{ delete_rebuilt_periods('period_start', 'day', var('anomaly_baseline_days') | int) }}",
        on_schema_change='fail',
    )
}}
-- Rule developer_daily_spike: one row per person x day whose spend is a spike.
--
-- A person's day is their billed usage that day (the ledger's person rows without seat fees and shared costs, which
-- are fixed charges, not behaviour). Their baseline is the median of their ACTIVE days (days with spend) in the
-- var('anomaly_baseline_days') days before the tested day (never the tested day itself). Someone with fewer than
-- var('anomaly_spike_min_history_days') such days (a new person, someone back from leave) is compared with their
-- team's median person-day over the same window instead. A finding when the day is above var('anomaly_spike_ratio')
-- x the baseline (strictly) and at least var('anomaly_spike_min_usd') (inclusive: the floor that keeps tiny numbers
-- quiet). No baseline at all (a new team's first days): no finding. The warehouse's own first days are not tested: a
-- day needs at least var('anomaly_spike_min_history_days') days of data before it (else everyone looks new).
--
-- Incremental (macros/periods.sql): a run tests the days of its window and the days whose baseline holds them,
-- reading the ledger from var('anomaly_baseline_days') days before the window; the first build tests every day.
{%- set window_days = var('anomaly_baseline_days') | int %}

with

-- scans of the ledger, read by several parts below: recomputed where read rather than buffered whole on DuckDB
-- (cte_inlined, see docs/warehouses.md)
usage as {{ cte_inlined() }} (

    select * from {{ ref('fct_ai_usage_daily') }}

),

ledger as {{ cte_inlined() }} (

    select * from usage
    where principal_type = 'person'
        and cost_type not in ('seat', 'shared')
        {% if is_incremental() %}
        and usage_date >= {{ rebuilt_data_start('day', window_days) }}
        {% endif %}

),

-- the ledger's first day (read from the table itself: on an incremental run the ledger CTE above holds only the
-- days the run needs)
data_start as (

    select min(usage_date) as first_day from {{ ref('fct_ai_usage_daily') }}

),

sessions as (

    select * from {{ ref('fct_agent_sessions') }}

),

-- one row per person and active day; the person's team that day is the team that owns most of their spend
person_team_days as (

    select
        principal_id,
        usage_date,
        team_id,
        max(team_name) as team_name,
        max(person_name) as person_name,
        sum(billed_cost_usd) as team_spend
    from ledger
    group by principal_id, usage_date, team_id

),

person_days as (

    select
        principal_id,
        usage_date,
        max(person_name) as person_name,
        max(case when team_rank = 1 then team_id end) as team_id,
        max(case when team_rank = 1 then team_name end) as team_name,
        sum(team_spend) as spend
    from (
        select
            person_team_days.*,
            row_number() over (
                partition by principal_id, usage_date order by team_spend desc, team_id
            ) as team_rank
        from person_team_days
    ) as ranked
    group by principal_id, usage_date
    having sum(team_spend) > 0

),

-- the person-days this run tests (all of them on the first build); person_days also holds their baselines' days
tested_days as (

    select * from person_days
    {% if is_incremental() %}
    where {{ is_rebuilt_period('usage_date', 'day', window_days) }}
    {% endif %}

),

own_history as (

    select
        tested.principal_id,
        tested.usage_date,
        count(history.usage_date) as history_days,
        {{ median('history.spend') }} as own_median
    from tested_days as tested
    inner join person_days as history
        on history.principal_id = tested.principal_id
        and history.usage_date < tested.usage_date
        and history.usage_date >= cast({{ dbt.dateadd('day', -window_days, 'tested.usage_date') }} as date)
    group by tested.principal_id, tested.usage_date

),

with_own as (

    select
        tested_days.*,
        coalesce(own_history.history_days, 0) as history_days,
        own_history.own_median
    from tested_days
    left join own_history
        on own_history.principal_id = tested_days.principal_id
        and own_history.usage_date = tested_days.usage_date

),

-- the team's median person-day in the same window, for the team-days where someone lacks history
team_history as (

    select
        needed.team_id,
        needed.usage_date,
        {{ median('history.spend') }} as team_median
    from (
        select distinct team_id, usage_date
        from with_own
        where history_days < {{ var('anomaly_spike_min_history_days') }}
    ) as needed
    inner join person_days as history
        on history.team_id = needed.team_id
        and history.usage_date < needed.usage_date
        and history.usage_date >= cast({{ dbt.dateadd('day', -window_days, 'needed.usage_date') }} as date)
    group by needed.team_id, needed.usage_date

),

scored as (

    select
        with_own.*,
        case
            when with_own.history_days >= {{ var('anomaly_spike_min_history_days') }} then 'own'
            else 'team'
        end as baseline_source,
        case
            when with_own.history_days >= {{ var('anomaly_spike_min_history_days') }} then with_own.own_median
            else team_history.team_median
        end as baseline
    from with_own
    left join team_history
        on team_history.team_id = with_own.team_id
        and team_history.usage_date = with_own.usage_date

),

flagged as (

    select scored.*
    from scored
    cross join data_start
    where scored.usage_date >= cast({{ dbt.dateadd('day', var('anomaly_spike_min_history_days'), 'data_start.first_day') }} as date)
        and baseline > 0
        and spend >= {{ var('anomaly_spike_min_usd') }}
        and spend > {{ var('anomaly_spike_ratio') }} * baseline

),

-- what the day was spent on: its biggest model, and the person's most expensive agent session started that day
flagged_ledger as (

    select ledger.*
    from ledger
    inner join flagged
        on flagged.principal_id = ledger.principal_id
        and flagged.usage_date = ledger.usage_date

),

top_models as (

    {{ top_contributor('flagged_ledger', ['principal_id', 'usage_date'], 'model_ref', 'billed_cost_usd', 'model_spend') }}

),

flagged_sessions as (

    select sessions.*
    from sessions
    inner join flagged
        on flagged.principal_id = sessions.principal_id
        and flagged.usage_date = sessions.session_date

),

top_sessions as (

    {{ top_contributor(
        'flagged_sessions', ['principal_id', 'session_date'], 'session_id', 'cost_usd', 'cost_usd',
        carry=[('duration_minutes', 'duration_minutes')], aggregate=false
    ) }}

),

described as (

    select
        flagged.*,
        {{ dbt.concat([
            'top_models.model_ref', "' '", percent_text(safe_divide('top_models.model_spend', 'flagged.spend'))
        ]) }} as top_model_text,
        case when top_sessions.session_id is not null then {{ dbt.concat([
            "'session '", 'substr(top_sessions.session_id, 1, 8)',
            "' '", one_decimal_text('top_sessions.duration_minutes / 60.0'), "'h '",
            usd_text('top_sessions.cost_usd'), "' at list price'"
        ]) }} end as top_session_text
    from flagged
    left join top_models
        on top_models.principal_id = flagged.principal_id
        and top_models.usage_date = flagged.usage_date
    left join top_sessions
        on top_sessions.principal_id = flagged.principal_id
        and top_sessions.session_date = flagged.usage_date

)

select
    'developer_daily_spike' as rule,
    'person' as entity_type,
    principal_id as entity_id,
    coalesce(person_name, principal_id) as entity_name,
    team_id,
    'day' as period_type,
    usage_date as period_start,
    usage_date as period_end,
    {{ money('spend') }} as observed,
    {{ money('baseline') }} as baseline,
    {{ money('baseline') }} as expected_usd,
    {{ money('spend') }} as actual_usd,
    case
        when top_session_text is null then top_model_text
        else {{ dbt.concat(['top_model_text', "'; '", 'top_session_text']) }}
    end as top_contributors,
    {{ dbt.concat([
        'coalesce(person_name, principal_id)', text_literal("'s AI spend on "), date_text('usage_date'), "' was '", usd_text('spend'),
        "', '", one_decimal_text('spend / baseline'), "'x '",
        "case when baseline_source = 'own' then " ~ dbt.concat([
            "'their " ~ window_days ~ "-day median of '", usd_text('baseline'),
            "' ('", integer_text('history_days'), "' active days)'"
        ]) ~ " else " ~ dbt.concat([
            "'the median person-day of their team ('", 'coalesce(team_name, team_id)', "') of '", usd_text('baseline'),
            "', as they have only '", integer_text('history_days'), "' active days of history'"
        ]) ~ " end",
        "'; '", 'top_model_text', "' of it'",
        "case when top_session_text is null then '' else " ~ dbt.concat(["'; largest agent session: '", 'top_session_text']) ~ " end"
    ]) }} as sentence
from described
