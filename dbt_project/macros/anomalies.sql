{#- Helpers of the anomaly rules (models/intermediate/anomalies, marts.fct_cost_anomalies): figures as the text of a
    sentence, the same digits on every engine (decimals cast to text; no engine-specific number formatting), and the
    episode grouping every rule shares. -#}

{#- Dollars as text: '$412' from $100 up, else with cents ('$65.40', '$0.82'); 'n/a' for null. The text helpers never
    return null, so that a sentence is never null. -#}
{% macro usd_text(expr) -%}
    coalesce({{ dbt.concat(["'$'", "case when abs(" ~ money(expr) ~ ") >= 100 then cast(cast(round(" ~ money(expr) ~ ", 0) as decimal(38, 0)) as " ~ dbt.type_string() ~ ") else cast(cast(round(" ~ money(expr) ~ ", 2) as decimal(38, 2)) as " ~ dbt.type_string() ~ ") end"]) }}, 'n/a')
{%- endmacro %}

{#- A number to one decimal place as text ('6.3'). -#}
{% macro one_decimal_text(expr) -%}
    coalesce(cast(cast(round(cast({{ expr }} as decimal(38, 9)), 1) as decimal(38, 1)) as {{ dbt.type_string() }}), 'n/a')
{%- endmacro %}

{#- A whole number as text ('5000000'). -#}
{% macro integer_text(expr) -%}
    coalesce(cast(cast(round(cast({{ expr }} as decimal(38, 9)), 0) as decimal(38, 0)) as {{ dbt.type_string() }}), 'n/a')
{%- endmacro %}

{#- A share (0.92) as a percentage ('92%'). -#}
{% macro percent_text(expr) -%}
    case when ({{ expr }}) is null then 'n/a' else {{ dbt.concat([integer_text('100 * (' ~ expr ~ ')'), "'%'"]) }} end
{%- endmacro %}

{#- A date as ISO text ('2026-11-24'). -#}
{% macro date_text(expr) -%}
    coalesce(cast(cast({{ expr }} as date) as {{ dbt.type_string() }}), 'n/a')
{%- endmacro %}

{#- Consecutive flagged periods of one rule and entity form one episode: a period that starts the day after the
    previous flagged period ended continues it (days, weeks, months alike); a gap starts a new one. Emits CTEs (to put
    after other CTEs, comma included) over `relation` (one row per flagged period: rule, entity_type, entity_id,
    period_start, period_end); the last one, `<name>`, adds to each row:
      first_seen_date  the episode's first day      last_seen_date  its last flagged day so far
      is_new           the row is the episode's first period (alerts fire on it only)
      finding_id       rule:entity_type:entity_id:first_seen_date - stable while the episode lasts -#}
{% macro anomaly_episode_ctes(relation, name='episodes') -%}
    {{ name }}__marked as (

        select
            {{ relation }}.*,
            case
                when lag(period_end) over (
                    partition by rule, entity_type, entity_id order by period_start
                ) is null then 1
                when period_start > cast({{ dbt.dateadd('day', 1, "lag(period_end) over (partition by rule, entity_type, entity_id order by period_start)") }} as date) then 1
                else 0
            end as starts_episode
        from {{ relation }}

    ),

    {{ name }}__numbered as (

        select
            {{ name }}__marked.*,
            sum(starts_episode) over (
                partition by rule, entity_type, entity_id order by period_start
                rows between unbounded preceding and current row
            ) as episode_number
        from {{ name }}__marked

    ),

    {{ name }}__spans as (

        select
            {{ name }}__numbered.*,
            min(period_start) over (partition by rule, entity_type, entity_id, episode_number) as first_seen_date,
            max(period_end) over (partition by rule, entity_type, entity_id, episode_number) as last_seen_date
        from {{ name }}__numbered

    ),

    {{ name }} as (

        select
            {{ name }}__spans.*,
            starts_episode = 1 as is_new,
            {{ dbt.concat(['rule', "':'", 'entity_type', "':'", 'entity_id', "':'", date_text('first_seen_date')]) }}
                as finding_id
        from {{ name }}__spans

    )
{%- endmacro %}

{#- The team_weekly_change / team_monthly_change rules: a team's billed spend in a period (to date) against the same
    days of the period before. grain: 'week' or 'month'. See the two models for the rule's words. -#}
{% macro team_period_change(grain, pct, min_usd) -%}
{%- set rule = 'team_weekly_change' if grain == 'week' else 'team_monthly_change' -%}
with

usage as (

    select * from {{ ref('fct_ai_usage_daily') }}

),

bounds as (

    select min(usage_date) as first_day, max(usage_date) as last_day from usage

),

periods as (

    select distinct {{ 'usage_week' if grain == 'week' else 'usage_month' }} as period_start from usage

),

spans as (

    select
        periods.period_start,
        bounds.first_day,
        bounds.last_day,
        {%- if grain == 'week' %}
        cast({{ dbt.dateadd('day', 6, 'periods.period_start') }} as date) as natural_end,
        cast({{ dbt.dateadd('day', -7, 'periods.period_start') }} as date) as previous_start
        {%- else %}
        cast({{ dbt.dateadd('day', -1, dbt.dateadd('month', 1, 'periods.period_start')) }} as date) as natural_end,
        cast({{ dbt.dateadd('month', -1, 'periods.period_start') }} as date) as previous_start
        {%- endif %}
    from periods
    cross join bounds

),

windows as (

    select
        period_start,
        period_end,
        natural_end,
        previous_start,
        {%- if grain == 'week' %}
        cast({{ dbt.dateadd('day', -7, 'period_end') }} as date) as previous_end
        {%- else %}
        -- the same number of days from the start of the month before, never beyond its end
        case
            when cast({{ dbt.dateadd('day', dbt.datediff('period_start', 'period_end', 'day'), 'previous_start') }} as date)
                < period_start
                then cast({{ dbt.dateadd('day', dbt.datediff('period_start', 'period_end', 'day'), 'previous_start') }} as date)
            else cast({{ dbt.dateadd('day', -1, 'period_start') }} as date)
        end as previous_end
        {%- endif %}
    from (
        select
            spans.*,
            case when natural_end < last_day then natural_end else last_day end as period_end
        from spans
    ) as ended
    -- the period before must lie wholly inside the ledger's history
    where previous_start >= first_day

),

team_days as (

    select team_id, max(team_name) as team_name, usage_date, sum(billed_cost_usd) as spend
    from usage
    group by team_id, usage_date

),

team_periods as (

    select
        windows.period_start,
        windows.period_end,
        windows.natural_end,
        windows.previous_start,
        windows.previous_end,
        team_days.team_id,
        max(team_days.team_name) as team_name,
        sum(case when team_days.usage_date >= windows.period_start then team_days.spend else 0 end) as observed,
        sum(case when team_days.usage_date <= windows.previous_end then team_days.spend else 0 end) as baseline
    from windows
    inner join team_days
        on team_days.usage_date between windows.previous_start and windows.period_end
        and (team_days.usage_date >= windows.period_start or team_days.usage_date <= windows.previous_end)
    group by
        windows.period_start, windows.period_end, windows.natural_end, windows.previous_start, windows.previous_end,
        team_days.team_id

),

flagged as (

    select *
    from team_periods
    where baseline > 0
        and observed - baseline >= {{ min_usd }}
        and observed > (1 + {{ pct }}) * baseline

),

-- what rose most: the model and the principal (person, service, pool) with the largest increase
contributions as (

    select
        flagged.team_id,
        flagged.period_start,
        usage.model_ref,
        usage.principal_id,
        max(coalesce(usage.person_name, usage.principal_id)) as principal_name,
        sum(case when usage.usage_date >= flagged.period_start then usage.billed_cost_usd else 0 end)
            - sum(case when usage.usage_date <= flagged.previous_end then usage.billed_cost_usd else 0 end) as rise
    from flagged
    inner join usage
        on usage.team_id = flagged.team_id
        and usage.usage_date between flagged.previous_start and flagged.period_end
        and (usage.usage_date >= flagged.period_start or usage.usage_date <= flagged.previous_end)
    group by flagged.team_id, flagged.period_start, usage.model_ref, usage.principal_id

),

model_rises as (

    select team_id, period_start, model_ref, sum(rise) as rise,
        row_number() over (partition by team_id, period_start order by sum(rise) desc, model_ref) as rise_rank
    from contributions
    group by team_id, period_start, model_ref

),

principal_rises as (

    select team_id, period_start, principal_id, max(principal_name) as principal_name, sum(rise) as rise,
        row_number() over (partition by team_id, period_start order by sum(rise) desc, principal_id) as rise_rank
    from contributions
    group by team_id, period_start, principal_id

),

described as (

    select
        flagged.*,
        {{ dbt.concat([
            "case when model_rises.model_ref = '(none)' then 'not model-specific' else model_rises.model_ref end",
            "' +'", usd_text('model_rises.rise'), "'; '",
            'principal_rises.principal_name', "' +'", usd_text('principal_rises.rise')
        ]) }} as top_contributors
    from flagged
    left join model_rises
        on model_rises.team_id = flagged.team_id
        and model_rises.period_start = flagged.period_start
        and model_rises.rise_rank = 1
    left join principal_rises
        on principal_rises.team_id = flagged.team_id
        and principal_rises.period_start = flagged.period_start
        and principal_rises.rise_rank = 1

)

select
    '{{ rule }}' as rule,
    'team' as entity_type,
    team_id as entity_id,
    coalesce(team_name, team_id) as entity_name,
    team_id,
    '{{ grain }}' as period_type,
    period_start,
    period_end,
    {{ money('observed') }} as observed,
    {{ money('baseline') }} as baseline,
    {{ money('baseline') }} as expected_usd,
    {{ money('observed') }} as actual_usd,
    top_contributors,
    {{ dbt.concat([
        'coalesce(team_name, team_id)', "' spent '", usd_text('observed'),
        "' in the " ~ grain ~ " of '", date_text('period_start'),
        "case when period_end < natural_end then " ~ dbt.concat(["' (to '", date_text('period_end'), "')'"]) ~ " else '' end",
        "', +'", percent_text('(observed - baseline) / baseline'),
        "' on the same days of the " ~ grain ~ " before ('", usd_text('baseline'), "'); biggest rises: '",
        'top_contributors'
    ]) }} as sentence
from described
{%- endmacro %}
