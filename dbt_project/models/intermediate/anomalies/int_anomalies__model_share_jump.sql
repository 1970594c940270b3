{{ config(materialized='table') }}
-- Rule model_share_jump (the silent model upgrade): one row per API key (or, without a key, team's tool) x week in
-- which one model's share of the entity's model spend rose by at least var('anomaly_model_share_jump') (0.30 = 30
-- points, inclusive) on the week before, with at least var('anomaly_model_share_min_usd') of spend in the week
-- (inclusive). Only the model that rose most is reported (one finding per entity and week). The entity must have had
-- spend the week before (a model it did not use then had a 0% share); the current week counts to date; a week is
-- tested only when the week before lies wholly inside the ledger's history.
with

usage as (

    select * from {{ ref('int_anomalies__model_usage_daily') }}

),

bounds as (

    select min(usage_date) as first_day, max(usage_date) as last_day from usage

),

model_weeks as (

    select
        usage_week,
        entity_type,
        entity_id,
        max(entity_name) as entity_name,
        max(team_id) as team_id,
        model_ref,
        sum(billed_cost_usd) as spend
    from usage
    group by usage_week, entity_type, entity_id, model_ref

),

entity_weeks as (

    select usage_week, entity_type, entity_id, sum(spend) as spend
    from model_weeks
    group by usage_week, entity_type, entity_id

),

-- every model the entity used in either week, with its share of each week
shares as (

    select
        coalesce(current_model.usage_week, cast({{ dbt.dateadd('day', 7, 'previous_model.usage_week') }} as date))
            as usage_week,
        coalesce(current_model.entity_type, previous_model.entity_type) as entity_type,
        coalesce(current_model.entity_id, previous_model.entity_id) as entity_id,
        coalesce(current_model.model_ref, previous_model.model_ref) as model_ref,
        coalesce(current_model.spend, 0) as spend,
        coalesce(previous_model.spend, 0) as previous_spend
    from model_weeks as current_model
    full outer join model_weeks as previous_model
        on previous_model.entity_type = current_model.entity_type
        and previous_model.entity_id = current_model.entity_id
        and previous_model.model_ref = current_model.model_ref
        and previous_model.usage_week = cast({{ dbt.dateadd('day', -7, 'current_model.usage_week') }} as date)

),

jumps as (

    select
        shares.*,
        current_entity.spend as entity_spend,
        previous_entity.spend as previous_entity_spend,
        shares.spend / current_entity.spend as share,
        shares.previous_spend / previous_entity.spend as previous_share
    from shares
    cross join bounds
    inner join entity_weeks as current_entity
        on current_entity.entity_type = shares.entity_type
        and current_entity.entity_id = shares.entity_id
        and current_entity.usage_week = shares.usage_week
    inner join entity_weeks as previous_entity
        on previous_entity.entity_type = shares.entity_type
        and previous_entity.entity_id = shares.entity_id
        and previous_entity.usage_week = cast({{ dbt.dateadd('day', -7, 'shares.usage_week') }} as date)
    where cast({{ dbt.dateadd('day', -7, 'shares.usage_week') }} as date) >= bounds.first_day
        and shares.usage_week <= bounds.last_day
        and current_entity.spend > 0
        and previous_entity.spend > 0

),

ranked as (

    select
        jumps.*,
        row_number() over (
            partition by entity_type, entity_id, usage_week order by share - previous_share desc, model_ref
        ) as rise_rank,
        row_number() over (
            partition by entity_type, entity_id, usage_week order by share - previous_share, model_ref
        ) as fall_rank
    from jumps

),

flagged as (

    select ranked.*
    from ranked
    where rise_rank = 1
        and entity_spend >= {{ var('anomaly_model_share_min_usd') }}
        and share - previous_share >= {{ var('anomaly_model_share_jump') }}

),

described as (

    select
        flagged.*,
        fallen.model_ref as fallen_model_ref,
        fallen.share as fallen_share,
        fallen.previous_share as fallen_previous_share,
        entities.entity_name,
        entities.team_id,
        case
            when cast({{ dbt.dateadd('day', 6, 'flagged.usage_week') }} as date) < bounds.last_day
                then cast({{ dbt.dateadd('day', 6, 'flagged.usage_week') }} as date)
            else bounds.last_day
        end as period_end
    from flagged
    cross join bounds
    inner join (
        select entity_type, entity_id, usage_week, max(entity_name) as entity_name, max(team_id) as team_id
        from model_weeks
        group by entity_type, entity_id, usage_week
    ) as entities
        on entities.entity_type = flagged.entity_type
        and entities.entity_id = flagged.entity_id
        and entities.usage_week = flagged.usage_week
    left join ranked as fallen
        on fallen.entity_type = flagged.entity_type
        and fallen.entity_id = flagged.entity_id
        and fallen.usage_week = flagged.usage_week
        and fallen.fall_rank = 1
        and fallen.model_ref <> flagged.model_ref

)

select
    'model_share_jump' as rule,
    entity_type,
    entity_id,
    entity_name,
    team_id,
    'week' as period_type,
    usage_week as period_start,
    period_end,
    {{ money('share') }} as observed,
    {{ money('previous_share') }} as baseline,
    {{ money('previous_share * entity_spend') }} as expected_usd,
    {{ money('spend') }} as actual_usd,
    {{ dbt.concat([
        'model_ref', "' '", percent_text('share'), "' (was '", percent_text('previous_share'), "')'",
        "case when fallen_model_ref is null then '' else " ~ dbt.concat([
            "'; '", 'fallen_model_ref', "' '", percent_text('fallen_share'), "' (was '", percent_text('fallen_previous_share'), "')'"
        ]) ~ " end"
    ]) }} as top_contributors,
    {{ dbt.concat([
        'model_ref', "' took '", percent_text('share'), "' of the spend of the '", 'entity_name',
        "' in the week of '", date_text('usage_week'), "' ('", usd_text('spend'), "' of '", usd_text('entity_spend'),
        "'), up from '", percent_text('previous_share'), "' the week before'",
        "case when fallen_model_ref is null then '' else " ~ dbt.concat([
            "', while '", 'fallen_model_ref', "' fell from '", percent_text('fallen_previous_share'), "' to '",
            percent_text('fallen_share')
        ]) ~ " end",
        "': a model changed under this '",
        "case when entity_type = 'api_key' then 'key' else 'tool' end",
        "' (a default or an alias?)'"
    ]) }} as sentence
from described
