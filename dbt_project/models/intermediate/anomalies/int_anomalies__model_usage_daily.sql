{{ config(materialized='table') }}
-- One row per day x entity x model: the model-level usage the model-mix rules (model_share_jump, new_model) read.
--
-- The entity is the API key the provider reports (entity_type 'api_key', entity_id the provider's key id, named by
-- the directory's account name when it has one); usage without a key (Cursor, Copilot) belongs to its team's tool
-- (entity_type 'team_tool', entity_id '<team_id>/<tool>'). The entity's team is the one that owns most of its billed
-- spend over the whole history (a key's team, whatever a day's person owning it). Lines that are not model-specific
-- (model_ref '(none)': seats, code execution) are left out.
with

-- the model-specific lines, summed per day x entity x model x line team (incremental)
entities as (

    select * from {{ ref('int_anomalies__model_usage_lines_daily') }}

),

accounts as (

    select * from {{ ref('stg_org__provider_accounts') }}
    where account_kind = 'api_key'

),

teams as (

    select * from {{ ref('dim_teams') }}

),

owners as (

    select entity_type, entity_id, line_team_id as team_id
    from (
        {{ top_contributor('entities', ['entity_type', 'entity_id'], 'line_team_id', 'billed_cost', 'billed_cost') }}
    ) as top_teams

),

daily as (

    select
        usage_date,
        entity_type,
        entity_id,
        max(api_key_id) as api_key_id,
        max(provider) as provider,
        max(tool) as tool,
        model_ref,
        sum(billed_cost) as billed_cost_usd,
        sum(token_count) as token_count
    from entities
    group by usage_date, entity_type, entity_id, model_ref

)

select
    daily.usage_date,
    cast({{ dbt.date_trunc('week', 'daily.usage_date') }} as date) as usage_week,
    daily.entity_type,
    daily.entity_id,
    case
        when daily.entity_type = 'api_key' then {{ dbt.concat([
            'daily.provider', "' key '", 'coalesce(accounts.account_name, daily.api_key_id)'
        ]) }}
        else {{ dbt.concat(['coalesce(teams.team_name, owners.team_id)', "' team on '", 'daily.tool']) }}
    end as entity_name,
    owners.team_id,
    daily.provider,
    daily.tool,
    daily.model_ref,
    {{ money('daily.billed_cost_usd') }} as billed_cost_usd,
    daily.token_count
from daily
inner join owners
    on owners.entity_type = daily.entity_type
    and owners.entity_id = daily.entity_id
left join accounts
    on accounts.provider = daily.provider
    and accounts.account_id = daily.api_key_id
left join teams
    on teams.team_id = owners.team_id
