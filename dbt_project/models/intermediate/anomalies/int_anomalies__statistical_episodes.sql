{{ config(materialized='table') }}
-- Rule statistical, its findings: everything the rules above have no words for. One row per team x provider x day
-- whose billed spend is far above its own robust baseline, with its episode (int_anomalies__statistical adds what
-- the day was spent on; a table of its own so that the optimizer knows how few rows join the ledger there).
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
    union distinct
    select team_id, usage_date from confirmed_days

),

-- the entities with a finding of this rule confirmed 'real': the first pass only serves to find those findings, and
-- an entity's episodes depend on its own series alone, so the first pass tests these entities only (usually none:
-- it then costs nothing). A finding_id is 'statistical:team_provider:<team_id>/<provider>:<first day>': the entity's
-- findings are the ids that start with everything before the day.
confirmed_entities as (

    select distinct entities.team_id, entities.provider
    from (
        select
            team_id,
            provider,
            {{ dbt.concat(["'statistical:team_provider:'", 'team_id', "'/'", 'provider', "':'"]) }} as finding_prefix
        from entities
    ) as entities
    inner join feedback
        on feedback.feedback = 'real'
        and substr(feedback.finding_id, 1, {{ dbt.length('entities.finding_prefix') }}) = entities.finding_prefix

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
    {%- if pass == 'first' %}
    inner join confirmed_entities
        on confirmed_entities.team_id = tested.team_id
        and confirmed_entities.provider = tested.provider
    {%- endif %}
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

{{ anomaly_episode_ctes(pass ~ '_flagged', pass ~ '_episodes') }}{{ ',' if pass == 'first' }}

{% if pass == 'first' %}
-- days of this rule's own episodes confirmed real: out of the final pass's training data
excluded_final as (

    select team_id, usage_date from excluded_first
    union distinct
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

select
    finding_id,
    rule,
    entity_type,
    entity_id,
    team_id,
    team_name,
    provider,
    period_start,
    period_end,
    is_weekend,
    spend,
    training_days,
    median_spend,
    mad_spend,
    first_seen_date,
    last_seen_date,
    is_new
from final_episodes
