{{
    config(
        materialized='incremental',
        incremental_strategy=append_strategy(),
        pre_hook="{{ delete_rebuilt_periods('period_start', 'week', 1) }}",
        on_schema_change='fail',
    )
}}
-- Rule premium_share: one row per team x week in which premium-tier models (dim_models.model_tier = 'premium', from
-- the model_catalog seed) took more than var('anomaly_premium_share') of the team's billed spend (strictly; all of its
-- spend is the denominator, as the premium_share metric), that share rose on the week before (a team with no spend the
-- week before counts as a rise), and the week's premium spend is at least var('anomaly_premium_share_min_usd')
-- (inclusive). The current week counts to date. A week is tested only when the week before lies wholly inside the
-- ledger's history. Incremental: a run rebuilds the weeks overlapping its window and the week after (whose
-- baseline it is); bounds are the whole ledger's.
with

usage as (

    select * from {{ ref('fct_ai_usage_daily') }}
    {% if is_incremental() %}
    where usage_date >= {{ rebuilt_data_start('week', 1) }}
    {% endif %}

),

models as (

    select * from {{ ref('dim_models') }}

),

bounds as (

    select min(usage_date) as first_day, max(usage_date) as last_day from {{ ref('fct_ai_usage_daily') }}

),

tiered as (

    select
        usage.usage_week,
        usage.usage_date,
        usage.team_id,
        usage.team_name,
        usage.model_ref,
        usage.principal_id,
        coalesce(usage.person_name, usage.principal_id) as principal_name,
        usage.billed_cost_usd,
        coalesce(models.model_tier, 'unclassified') = 'premium' as is_premium
    from usage
    left join models
        on models.provider = usage.provider
        and models.model_ref = usage.model_ref

),

team_weeks as (

    select
        usage_week,
        team_id,
        max(team_name) as team_name,
        max(usage_date) as last_day,
        sum(billed_cost_usd) as spend,
        sum(case when is_premium then billed_cost_usd else 0 end) as premium_spend
    from tiered
    group by usage_week, team_id

),

shares as (

    select
        current_week.*,
        {{ safe_divide('current_week.premium_spend', 'current_week.spend') }} as premium_share,
        {{ safe_divide('previous_week.premium_spend', 'previous_week.spend') }} as previous_share
    from team_weeks as current_week
    cross join bounds
    left join team_weeks as previous_week
        on previous_week.team_id = current_week.team_id
        and previous_week.usage_week = cast({{ dbt.dateadd('day', -7, 'current_week.usage_week') }} as date)
    where cast({{ dbt.dateadd('day', -7, 'current_week.usage_week') }} as date) >= bounds.first_day
        {% if is_incremental() %}
        and {{ is_rebuilt_period('current_week.usage_week', 'week', 1) }}
        {% endif %}

),

flagged as (

    select
        shares.*,
        case
            when cast({{ dbt.dateadd('day', 6, 'usage_week') }} as date) < bounds.last_day
                then cast({{ dbt.dateadd('day', 6, 'usage_week') }} as date)
            else bounds.last_day
        end as period_end
    from shares
    cross join bounds
    where premium_spend >= {{ var('anomaly_premium_share_min_usd') }}
        and premium_share > {{ var('anomaly_premium_share') }}
        and (previous_share is null or premium_share > previous_share)

),

-- the premium model and the principal that spent most on premium models that week
flagged_premium as (

    select tiered.*
    from tiered
    inner join flagged
        on flagged.team_id = tiered.team_id
        and flagged.usage_week = tiered.usage_week
    where tiered.is_premium

),

{{ top_model_and_principal_ctes('flagged_premium', ['team_id', 'usage_week'], 'billed_cost_usd', 'spend') }},

described as (

    select
        flagged.*,
        {{ dbt.concat([
            'top_models.model_ref', "' '", percent_text(safe_divide('top_models.spend', 'flagged.spend')), "'; '",
            'top_principals.principal_name', "' '", percent_text(safe_divide('top_principals.spend', 'flagged.spend'))
        ]) }} as top_contributors
    from flagged
    left join top_models
        on top_models.team_id = flagged.team_id
        and top_models.usage_week = flagged.usage_week
    left join top_principals
        on top_principals.team_id = flagged.team_id
        and top_principals.usage_week = flagged.usage_week

)

select
    'premium_share' as rule,
    'team' as entity_type,
    team_id as entity_id,
    coalesce(team_name, team_id) as entity_name,
    team_id,
    'week' as period_type,
    usage_week as period_start,
    period_end,
    {{ money('premium_share') }} as observed,
    {{ money('previous_share') }} as baseline,
    {{ money('coalesce(previous_share, 0) * spend') }} as expected_usd,
    {{ money('premium_spend') }} as actual_usd,
    top_contributors,
    {{ dbt.concat([
        "'Premium-tier models took '", percent_text('premium_share'), "' of the AI spend of '", 'coalesce(team_name, team_id)',
        "' in the week of '", date_text('usage_week'),
        "' ('", usd_text('premium_spend'), "' of '", usd_text('spend'), "'), '",
        "case when previous_share is null then 'with no spend the week before' else "
            ~ dbt.concat(["'up from '", percent_text('previous_share'), "' the week before'"]) ~ " end",
        "'; top: '", 'top_contributors'
    ]) }} as sentence
from described
