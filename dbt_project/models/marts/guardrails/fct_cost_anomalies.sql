{{ config(materialized='table') }}
-- One row per flagged period of an anomaly finding: the twelve rules of models/intermediate/anomalies in one table,
-- with the feedback people gave (seed anomaly_feedback) and the figures an alert needs. A finding (finding_id) is an
-- episode: consecutive flagged periods of one rule and entity; its first period has is_new (alerts fire on it only),
-- first_seen_date .. last_seen_date is its interval so far.
--
-- A table rebuilt on every run from the rules' flagged periods (few rows): an episode can start before any run's
-- window, so episodes are grouped here over the whole history. The heavy rules themselves are incremental (a run
-- re-tests the periods of its window and those whose baseline holds it; macros/periods.sql).
{%- set rule_columns = [
    'finding_id', 'rule', 'entity_type', 'entity_id', 'entity_name', 'team_id', 'period_type', 'period_start',
    'period_end', 'first_seen_date', 'last_seen_date', 'is_new', 'observed', 'baseline', 'expected_usd', 'actual_usd',
    'top_contributors', 'sentence',
] %}

with

findings as (

    select {{ rule_columns | join(', ') }} from {{ ref('int_anomalies__rule_findings') }}
    union all
    select {{ rule_columns | join(', ') }} from {{ ref('int_anomalies__statistical') }}

),

feedback as (

    select * from {{ ref('anomaly_feedback') }}

),

teams as (

    select * from {{ ref('dim_teams') }}

),

figured as (

    select
        findings.*,
        coalesce(teams.team_id, 'unallocated') as owning_team_id,
        coalesce(teams.team_name, 'Unallocated') as owning_team_name,
        {{ safe_divide('findings.observed', 'findings.baseline') }} as ratio,
        findings.actual_usd - findings.expected_usd as impact_usd,
        {{ safe_divide('findings.actual_usd - findings.expected_usd', 'findings.expected_usd') }} as impact_pct,
        feedback.feedback
    from findings
    left join teams
        on teams.team_id = findings.team_id
    left join feedback
        on feedback.finding_id = findings.finding_id

)

select
    {{ dbt.concat(['finding_id', "'|'", date_text('period_start')]) }} as finding_period_id,
    finding_id,
    rule,
    entity_type,
    entity_id,
    entity_name,
    owning_team_id as team_id,
    owning_team_name as team_name,
    period_type,
    period_start,
    period_end,
    first_seen_date,
    last_seen_date,
    is_new,
    {{ money('observed') }} as observed,
    {{ money('baseline') }} as baseline,
    cast(round(cast(ratio as decimal(38, 9)), 4) as decimal(18, 4)) as ratio,
    {{ money('expected_usd') }} as expected_usd,
    {{ money('actual_usd') }} as actual_usd,
    {{ money('impact_usd') }} as impact_usd,
    cast(round(cast(impact_pct as decimal(38, 9)), 4) as decimal(18, 4)) as impact_pct,
    case
        when ratio >= {{ var('anomaly_severity_high_ratio') }} or impact_usd >= {{ var('anomaly_severity_high_usd') }}
            then 'high'
        when ratio >= {{ var('anomaly_severity_medium_ratio') }} or impact_usd >= {{ var('anomaly_severity_medium_usd') }}
            then 'medium'
        else 'low'
    end as severity,
    top_contributors,
    sentence,
    feedback,
    coalesce(feedback in ('expected', 'planned'), false) as is_suppressed
from figured
