{{ config(materialized='table') }}
-- Rule statistical: everything the rules above have no words for. One row per team x provider x day whose billed
-- spend is far above its own robust baseline.
--
-- The baseline: the median and the MAD (median absolute deviation from that median) of the entity's daily spend on
-- the var('anomaly_baseline_days') days before the tested day that are of the same kind (weekdays against weekdays,
-- Saturdays and Sundays against weekend days: the week's seasonality, kept simple), days without spend counting as 0
-- from the entity's first day of spend on. Kept out of that training data, as elementary's users asked for: the tested
-- day itself; every day the other rules flagged for the team (day and session findings, int_anomalies__rule_findings);
-- every day of a finding - of any rule, this one included - that the feedback seed (anomaly_feedback) confirms 'real'.
-- A confirmed statistical finding needs this rule's own result, so the rule runs twice: a first pass finds the
-- episodes the feedback names, the final pass trains without their days.
--
-- A finding when all three trip: the rise above the median is beyond var('anomaly_statistical_k_mad') x MAD
-- (strictly), the day is at least var('anomaly_statistical_min_rise_pct') above the median (inclusive; 0.5 = +50%),
-- and the rise in dollars is at least max(var('anomaly_statistical_min_usd'), var('anomaly_statistical_floor_pct') x
-- the median) (inclusive: a floor that grows with the entity's usual spend, as CloudZero's). At least
-- var('anomaly_statistical_min_training_days') training days are needed. A team-day the other rules already flagged
-- (a day or session finding) gets no statistical finding: it has been said.
{%- set window_days = var('anomaly_baseline_days') | int %}

with

usage as (

    select * from {{ ref('fct_ai_usage_daily') }}

),

dates as (

    select * from {{ ref('dim_dates') }}

),

rule_findings as (

    select * from {{ ref('int_anomalies__rule_findings') }}

),

feedback as (

    select * from {{ ref('anomaly_feedback') }}

),

bounds as (

    select max(usage_date) as last_day from {{ ref('int_anomalies__team_provider_daily') }}

),

entity_days as (

    select team_id, provider, usage_date, team_name, spend from {{ ref('int_anomalies__team_provider_daily') }}

),

entities as (

    select team_id, provider, max(team_name) as team_name, min(usage_date) as first_day
    from entity_days
    group by team_id, provider

),

-- every day of every entity from its first day of spend, 0 where it spent nothing
series as (

    select
        entities.team_id,
        entities.team_name,
        entities.provider,
        dates.date_day as usage_date,
        dates.is_weekend,
        coalesce(entity_days.spend, 0) as spend
    from entities
    cross join bounds
    inner join dates
        on dates.date_day between entities.first_day and bounds.last_day
    left join entity_days
        on entity_days.team_id = entities.team_id
        and entity_days.provider = entities.provider
        and entity_days.usage_date = dates.date_day

),

-- team-days the other rules flagged (day and session findings): kept out of training, and not reported again
rule_days as (

    select distinct rule_findings.team_id, dates.date_day as usage_date
    from rule_findings
    inner join dates
        on dates.date_day between rule_findings.period_start and rule_findings.period_end
    where rule_findings.period_type in ('day', 'session')

),

-- team-days of the other rules' findings confirmed real (any period type)
confirmed_days as (

    select distinct rule_findings.team_id, dates.date_day as usage_date
    from rule_findings
    inner join feedback
        on feedback.finding_id = rule_findings.finding_id
    inner join dates
        on dates.date_day between rule_findings.first_seen_date and rule_findings.last_seen_date
    where feedback.feedback = 'real'

),

excluded_first as (

    select team_id, usage_date from rule_days
    union
    select team_id, usage_date from confirmed_days

),

{% for pass in ['first', 'final'] %}
{%- set excluded = 'excluded_' ~ pass %}

{{ pass }}_training as (

    select
        tested.team_id,
        tested.provider,
        tested.usage_date,
        history.spend
    from series as tested
    inner join series as history
        on history.team_id = tested.team_id
        and history.provider = tested.provider
        and history.is_weekend = tested.is_weekend
        and history.usage_date < tested.usage_date
        and history.usage_date >= cast({{ dbt.dateadd('day', -window_days, 'tested.usage_date') }} as date)
    left join {{ excluded }} as excluded
        on excluded.team_id = history.team_id
        and excluded.usage_date = history.usage_date
    where excluded.team_id is null

),

{{ pass }}_medians as (

    select team_id, provider, usage_date, count(*) as training_days, {{ median('spend') }} as median_spend
    from {{ pass }}_training
    group by team_id, provider, usage_date

),

{{ pass }}_deviations as (

    select
        {{ pass }}_medians.team_id,
        {{ pass }}_medians.provider,
        {{ pass }}_medians.usage_date,
        {{ median('abs(' ~ pass ~ '_training.spend - ' ~ pass ~ '_medians.median_spend)') }} as mad_spend
    from {{ pass }}_medians
    inner join {{ pass }}_training
        on {{ pass }}_training.team_id = {{ pass }}_medians.team_id
        and {{ pass }}_training.provider = {{ pass }}_medians.provider
        and {{ pass }}_training.usage_date = {{ pass }}_medians.usage_date
    group by {{ pass }}_medians.team_id, {{ pass }}_medians.provider, {{ pass }}_medians.usage_date

),

{{ pass }}_flagged as (

    select
        'statistical' as rule,
        'team_provider' as entity_type,
        {{ dbt.concat(['series.team_id', "'/'", 'series.provider']) }} as entity_id,
        series.team_id,
        series.team_name,
        series.provider,
        series.usage_date as period_start,
        series.usage_date as period_end,
        series.is_weekend,
        series.spend,
        medians.training_days,
        medians.median_spend,
        deviations.mad_spend
    from series
    inner join {{ pass }}_medians as medians
        on medians.team_id = series.team_id
        and medians.provider = series.provider
        and medians.usage_date = series.usage_date
    inner join {{ pass }}_deviations as deviations
        on deviations.team_id = series.team_id
        and deviations.provider = series.provider
        and deviations.usage_date = series.usage_date
    -- a team-day another rule already flagged has been said: no statistical finding (and no episode) on it
    left join rule_days
        on rule_days.team_id = series.team_id
        and rule_days.usage_date = series.usage_date
    where rule_days.team_id is null
        and medians.training_days >= {{ var('anomaly_statistical_min_training_days') }}
        and series.spend - medians.median_spend > {{ var('anomaly_statistical_k_mad') }} * deviations.mad_spend
        and series.spend >= (1 + {{ var('anomaly_statistical_min_rise_pct') }}) * medians.median_spend
        and series.spend - medians.median_spend >= {{ var('anomaly_statistical_min_usd') }}
        and series.spend - medians.median_spend >= {{ var('anomaly_statistical_floor_pct') }} * medians.median_spend

),

{{ anomaly_episode_ctes(pass ~ '_flagged', pass ~ '_episodes') }},

{% if pass == 'first' %}
-- days of this rule's own episodes confirmed real: out of the final pass's training data
excluded_final as (

    select team_id, usage_date from excluded_first
    union
    select first_episodes.team_id, dates.date_day as usage_date
    from first_episodes
    inner join feedback
        on feedback.finding_id = first_episodes.finding_id
    inner join dates
        on dates.date_day between first_episodes.first_seen_date and first_episodes.last_seen_date
    where feedback.feedback = 'real'

),
{% endif %}
{% endfor %}

-- what the day was spent on: its biggest model and principal
contributors as (

    select
        usage.team_id,
        usage.provider,
        usage.usage_date,
        usage.model_ref,
        usage.principal_id,
        max(coalesce(usage.person_name, usage.principal_id)) as principal_name,
        sum(usage.billed_cost_usd) as spend
    from usage
    -- a semi join: the few flagged days are the build side (an inner join let DuckDB hash the whole ledger)
    where exists (
        select 1 from final_episodes
        where final_episodes.team_id = usage.team_id
            and final_episodes.provider = usage.provider
            and final_episodes.period_start = usage.usage_date
    )
    group by usage.team_id, usage.provider, usage.usage_date, usage.model_ref, usage.principal_id

),

{{ top_model_and_principal_ctes('contributors', ['team_id', 'provider', 'usage_date'], 'spend', 'spend') }},

reported as (

    select * from final_episodes

)

select
    reported.finding_id,
    reported.rule,
    reported.entity_type,
    reported.entity_id,
    {{ dbt.concat(['coalesce(reported.team_name, reported.team_id)', "' on '", 'reported.provider']) }} as entity_name,
    reported.team_id,
    'day' as period_type,
    reported.period_start,
    reported.period_end,
    {{ money('reported.spend') }} as observed,
    {{ money('reported.median_spend') }} as baseline,
    {{ money('reported.median_spend') }} as expected_usd,
    {{ money('reported.spend') }} as actual_usd,
    {{ dbt.concat([
        "case when top_models.model_ref = '(none)' then 'not model-specific' else top_models.model_ref end", "' '",
        percent_text(safe_divide('top_models.spend', 'reported.spend')), "'; '",
        'top_principals.principal_name', "' '", percent_text(safe_divide('top_principals.spend', 'reported.spend'))
    ]) }} as top_contributors,
    {{ dbt.concat([
        "'The '", 'reported.provider', "' spend of '", 'coalesce(reported.team_name, reported.team_id)', "' on '",
        date_text('reported.period_start'), "' was '", usd_text('reported.spend'), "' against a typical '",
        usd_text('reported.median_spend'),
        "case when reported.is_weekend then ' for a weekend day' else ' for a weekday' end",
        "' (median of '", integer_text('reported.training_days'), "' such days in the " ~ window_days ~ " before, MAD '",
        usd_text('reported.mad_spend'), "'): '", usd_text('reported.spend - reported.median_spend'), "' above'",
        "case when reported.median_spend > 0 then " ~ dbt.concat([
            "' (+'", percent_text('(reported.spend - reported.median_spend) / reported.median_spend'), "')'"
        ]) ~ " else '' end",
        "'; top: '", "case when top_models.model_ref = '(none)' then 'not model-specific' else top_models.model_ref end", "' '", percent_text(safe_divide('top_models.spend', 'reported.spend')),
        "', '", 'top_principals.principal_name', "' '", percent_text(safe_divide('top_principals.spend', 'reported.spend'))
    ]) }} as sentence,
    reported.first_seen_date,
    reported.last_seen_date,
    reported.is_new,
    reported.training_days,
    {{ money('reported.mad_spend') }} as mad_usd
from reported
left join top_models
    on top_models.team_id = reported.team_id
    and top_models.provider = reported.provider
    and top_models.usage_date = reported.period_start
left join top_principals
    on top_principals.team_id = reported.team_id
    and top_principals.provider = reported.provider
    and top_principals.usage_date = reported.period_start
