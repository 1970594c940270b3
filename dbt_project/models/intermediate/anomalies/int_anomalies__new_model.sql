{{ config(materialized='table') }}
-- Rule new_model: one row per API key (or, without a key, team's tool) x model, on the first day the model appears
-- for it - a model alias or a tool's default resolving to a new model is caught on day one, before any weekly share
-- moves. Only for an entity that had usage at least var('anomaly_new_model_min_history_days') days before that day
-- (a new key's first models are not news; nor is anything in the ledger's first days), and when the new model cost at
-- least var('anomaly_new_model_min_usd') that day (inclusive). The entity is '<key or team/tool>/<model>'
-- (entity_type api_key_model / team_tool_model): each pair has one first day, hence one finding.
{%- set window_days = var('anomaly_baseline_days') | int %}

with

usage as (

    select * from {{ ref('int_anomalies__model_usage_daily') }}
    where billed_cost_usd > 0 or token_count > 0

),

entity_starts as (

    select entity_type, entity_id, min(usage_date) as first_day
    from usage
    group by entity_type, entity_id

),

model_starts as (

    select entity_type, entity_id, model_ref, min(usage_date) as first_day
    from usage
    group by entity_type, entity_id, model_ref

),

new_models as (

    select
        model_starts.entity_type,
        model_starts.entity_id,
        model_starts.model_ref,
        model_starts.first_day
    from model_starts
    inner join entity_starts
        on entity_starts.entity_type = model_starts.entity_type
        and entity_starts.entity_id = model_starts.entity_id
    where entity_starts.first_day
        <= cast({{ dbt.dateadd('day', -(var('anomaly_new_model_min_history_days') | int), 'model_starts.first_day') }} as date)

),

first_days as (

    select
        new_models.*,
        max(usage.entity_name) as entity_name,
        max(usage.team_id) as team_id,
        sum(case when usage.model_ref = new_models.model_ref then usage.billed_cost_usd else 0 end) as model_spend,
        sum(usage.billed_cost_usd) as entity_spend
    from new_models
    inner join usage
        on usage.entity_type = new_models.entity_type
        and usage.entity_id = new_models.entity_id
        and usage.usage_date = new_models.first_day
    group by new_models.entity_type, new_models.entity_id, new_models.model_ref, new_models.first_day

),

flagged as (

    select *
    from first_days
    where model_spend >= {{ var('anomaly_new_model_min_usd') }}

),

-- what the entity used before: its main model over the trailing window, and that model's share of the window
previous_usage as (

    select
        flagged.entity_type,
        flagged.entity_id,
        flagged.model_ref as new_model_ref,
        usage.model_ref,
        usage.billed_cost_usd
    from flagged
    inner join usage
        on usage.entity_type = flagged.entity_type
        and usage.entity_id = flagged.entity_id
        and usage.usage_date < flagged.first_day
        and usage.usage_date >= cast({{ dbt.dateadd('day', -window_days, 'flagged.first_day') }} as date)

),

previous_models as (

    {{ top_contributor(
        'previous_usage', ['entity_type', 'entity_id', 'new_model_ref'], 'model_ref', 'billed_cost_usd', 'spend',
        total_as='total_spend'
    ) }}

),

described as (

    select
        flagged.*,
        previous_models.model_ref as previous_model_ref,
        {{ safe_divide('previous_models.spend', 'previous_models.total_spend') }} as previous_model_share
    from flagged
    left join previous_models
        on previous_models.entity_type = flagged.entity_type
        and previous_models.entity_id = flagged.entity_id
        and previous_models.new_model_ref = flagged.model_ref

)

select
    'new_model' as rule,
    {{ dbt.concat(['entity_type', "'_model'"]) }} as entity_type,
    {{ dbt.concat(['entity_id', "'/'", 'model_ref']) }} as entity_id,
    {{ dbt.concat(['entity_name', "': '", 'model_ref']) }} as entity_name,
    team_id,
    'day' as period_type,
    first_day as period_start,
    first_day as period_end,
    {{ money('model_spend') }} as observed,
    {{ money('0') }} as baseline,
    {{ money('0') }} as expected_usd,
    {{ money('model_spend') }} as actual_usd,
    {{ dbt.concat([
        'model_ref', "' '", percent_text(safe_divide('model_spend', 'entity_spend')), "' of the day'",
        "case when previous_model_ref is null then '' else " ~ dbt.concat([
            "'; before: '", 'previous_model_ref', "' '", percent_text('previous_model_share')
        ]) ~ " end"
    ]) }} as top_contributors,
    {{ dbt.concat([
        "'The '", 'entity_name', "' used '", 'model_ref', "' for the first time on '", date_text('first_day'),
        "': '", usd_text('model_spend'), "' of its '", usd_text('entity_spend'), "' that day'",
        "case when previous_model_ref is null then '' else " ~ dbt.concat([
            "'; over the " ~ window_days ~ " days before, '", 'previous_model_ref', "' had '",
            percent_text('previous_model_share'), "' of its spend'"
        ]) ~ " end",
        "' (a new default or alias?)'"
    ]) }} as sentence
from described
