{#- Helpers of the anomaly rules (models/intermediate/anomalies, marts.fct_cost_anomalies): figures as the text of a
    sentence, the same digits on every engine (decimals cast to text; no engine-specific number formatting), and the
    episode grouping every rule shares. -#}

{#- Dollars as text: '$412' from $100 up, else with cents ('$65.40', '$0.82'); 'n/a' for null. The text helpers never
    return null, so that a sentence is never null. -#}
{% macro usd_text(expr) -%}
    coalesce({{ dbt.concat(["'$'", "case when abs(" ~ money(expr) ~ ") >= 100 then cast(cast(round(" ~ money(expr) ~ ", 0) as " ~ type_decimal(38, 0) ~ ") as " ~ dbt.type_string() ~ ") else cast(cast(round(" ~ money(expr) ~ ", 2) as " ~ type_decimal(38, 2) ~ ") as " ~ dbt.type_string() ~ ") end"]) }}, 'n/a')
{%- endmacro %}

{#- A number to one decimal place as text ('6.3'). -#}
{% macro one_decimal_text(expr) -%}
    coalesce(cast(cast(round(cast({{ expr }} as decimal(38, 9)), 1) as {{ type_decimal(38, 1) }}) as {{ dbt.type_string() }}), 'n/a')
{%- endmacro %}

{#- A whole number as text ('5000000'). -#}
{% macro integer_text(expr) -%}
    coalesce(cast(cast(round(cast({{ expr }} as decimal(38, 9)), 0) as {{ type_decimal(38, 0) }}) as {{ dbt.type_string() }}), 'n/a')
{%- endmacro %}

{#- A share (0.92) as a percentage ('92%'). -#}
{% macro percent_text(expr) -%}
    case when ({{ expr }}) is null then 'n/a' else {{ dbt.concat([integer_text('100 * (' ~ expr ~ ')'), "'%'"]) }} end
{%- endmacro %}

{#- A date as ISO text ('2026-11-24'). -#}
{% macro date_text(expr) -%}
    coalesce(cast(cast({{ expr }} as date) as {{ dbt.type_string() }}), 'n/a')
{%- endmacro %}

{#- What cost the most in each group - the day's top model, the week's top principal: one row per group of
    `partition_by` (a list of `relation`'s columns) with its top `contributor`, the contributor's `measure` summed as
    `measure_as`, and each (aggregate expression, name) of `carry`. A tie goes to the contributor that sorts first, so
    every engine and run picks the same one. total_as: also the group's total over all its contributors (the share's
    denominator). aggregate=false when `relation` already has one row per contributor (then `carry` holds plain
    columns). -#}
{% macro top_contributor(relation, partition_by, contributor, measure, measure_as, carry=[], total_as=none, aggregate=true) -%}
    {%- set keys = partition_by | join(', ') -%}
    {%- set ranked_measure = 'sum(' ~ measure ~ ')' if aggregate else measure -%}
    select *
    from (
        select
            {{ keys }},
            {{ contributor }},
            {%- for expr, name in carry %}
            {{ expr }} as {{ name }},
            {%- endfor %}
            {{ ranked_measure }} as {{ measure_as }},
            {%- if total_as %}
            sum({{ ranked_measure }}) over (partition by {{ keys }}) as {{ total_as }},
            {%- endif %}
            row_number() over (partition by {{ keys }} order by {{ ranked_measure }} desc, {{ contributor }}) as contributor_rank
        from {{ relation }}
        {%- if aggregate %}
        group by {{ keys }}, {{ contributor }}
        {%- endif %}
    ) as ranked
    where contributor_rank = 1
{%- endmacro %}

{#- CTEs top_models and top_principals: the model and the principal (with its principal_name) that contributed the
    most `measure` to each group, as top_contributor - the pair a finding's top_contributors usually names. `relation`
    needs model_ref, principal_id and principal_name. -#}
{% macro top_model_and_principal_ctes(relation, partition_by, measure, measure_as) -%}
top_models as (

    {{ top_contributor(relation, partition_by, 'model_ref', measure, measure_as) }}

),

top_principals as (

    {{ top_contributor(
        relation, partition_by, 'principal_id', measure, measure_as, carry=[('max(principal_name)', 'principal_name')]
    ) }}

)
{%- endmacro %}

{#- The columns of a session rule (expensive_session, forgotten_agent, context_bloat, retry_loop), selected from its
    `flagged` CTE of int_anomalies__session_base rows: the session is the entity and the period, its cost the actual
    money. observed, baseline, expected_usd: SQL expressions (cast to money here). top_contributors and sentence: the
    dbt.concat parts that follow what every session finding starts with - the session's main model, and whose
    session it is ("Ana's claude_code session 1a2b3c4d"). -#}
{% macro session_finding(rule, observed, baseline, expected_usd, top_contributors, sentence) -%}
    '{{ rule }}' as rule,
    'session' as entity_type,
    flagged.session_id as entity_id,
    {{ dbt.concat(['flagged.tool', "' session '", 'flagged.session_id']) }} as entity_name,
    flagged.team_id,
    'session' as period_type,
    flagged.session_date as period_start,
    flagged.ended_date as period_end,
    {{ money(observed) }} as observed,
    {{ money(baseline) }} as baseline,
    {{ money(expected_usd) }} as expected_usd,
    {{ money('flagged.cost_usd') }} as actual_usd,
    {{ dbt.concat(['flagged.primary_model_ref', "'; '"] + top_contributors) }} as top_contributors,
    {{ dbt.concat([
        'coalesce(flagged.person_name, flagged.principal_id)', text_literal("'s "), 'flagged.tool', "' session '",
        'substr(flagged.session_id, 1, 8)'
    ] + sentence) }} as sentence
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
    days of the period before. grain: 'week' or 'month'. See the two models for the rule's words. Incremental (the
    models' config): a run rebuilds the periods overlapping its window and the period after (whose baseline it is). -#}
{% macro team_period_change(grain, pct, min_usd) -%}
{%- set rule = 'team_weekly_change' if grain == 'week' else 'team_monthly_change' -%}
with

-- the team-days come from the ledger summed per team x provider x day (int_anomalies__team_provider_daily, a few
-- rows a day); the ledger's lines are read once, only for the flagged teams' contributors
team_provider_days as (

    select * from {{ ref('int_anomalies__team_provider_daily') }}
    {% if is_incremental() %}
    where usage_date >= {{ rebuilt_data_start(grain, 1) }}
    {% endif %}

),

-- the whole ledger's first and last days, also on an incremental run
bounds as (

    select min(usage_date) as first_day, max(usage_date) as last_day
    from {{ ref('int_anomalies__team_provider_daily') }}

),

team_days as (

    select
        team_id,
        max(team_name) as team_name,
        usage_date,
        sum(spend) as spend
    from team_provider_days
    group by team_id, usage_date

),

periods as (

    select distinct period_start
    from (select cast({{ dbt.date_trunc(grain, 'usage_date') }} as date) as period_start from team_days) as days
    {% if is_incremental() %}
    where {{ is_rebuilt_period('period_start', grain, 1) }}
    {% endif %}

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
    inner join (
        select * from {{ ref('fct_ai_usage_daily') }}
        {% if is_incremental() %}
        where usage_date >= {{ rebuilt_data_start(grain, 1) }}
        {% endif %}
    ) as usage
        on usage.team_id = flagged.team_id
        and usage.usage_date between flagged.previous_start and flagged.period_end
        and (usage.usage_date >= flagged.period_start or usage.usage_date <= flagged.previous_end)
    group by flagged.team_id, flagged.period_start, usage.model_ref, usage.principal_id

),

{{ top_model_and_principal_ctes('contributions', ['team_id', 'period_start'], 'rise', 'rise') }},

described as (

    select
        flagged.*,
        {{ dbt.concat([
            "case when top_models.model_ref = '(none)' then 'not model-specific' else top_models.model_ref end",
            "' +'", usd_text('top_models.rise'), "'; '",
            'top_principals.principal_name', "' +'", usd_text('top_principals.rise')
        ]) }} as top_contributors
    from flagged
    left join top_models
        on top_models.team_id = flagged.team_id
        and top_models.period_start = flagged.period_start
    left join top_principals
        on top_principals.team_id = flagged.team_id
        and top_principals.period_start = flagged.period_start

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
