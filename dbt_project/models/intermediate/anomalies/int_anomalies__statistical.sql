{{ config(materialized='table') }}
-- Rule statistical: its findings (int_anomalies__statistical_episodes, where the baseline and the thresholds are
-- explained) with what each day was spent on - its biggest model and principal - and a sentence.
{%- set window_days = var('anomaly_baseline_days') | int %}

with

usage as (

    select * from {{ ref('fct_ai_usage_daily') }}

),

episodes as (

    select * from {{ ref('int_anomalies__statistical_episodes') }}

),

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
    -- a semi join on a table: the few flagged days are the build side, never the ledger
    where exists (
        select 1 from episodes
        where episodes.team_id = usage.team_id
            and episodes.provider = usage.provider
            and episodes.period_start = usage.usage_date
    )
    group by usage.team_id, usage.provider, usage.usage_date, usage.model_ref, usage.principal_id

),

{{ top_model_and_principal_ctes('contributors', ['team_id', 'provider', 'usage_date'], 'spend', 'spend') }},

reported as (

    select * from episodes

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
