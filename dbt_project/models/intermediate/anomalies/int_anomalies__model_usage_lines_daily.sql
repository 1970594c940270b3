{{
    config(
        materialized='incremental',
        incremental_strategy=append_strategy(),
        pre_hook="{{ delete_window('usage_date') }}",
        on_schema_change='fail',
    )
}}
-- One row per day x entity x model x the team its lines belong to: int_usage_attributed's model-specific lines
-- summed to what int_anomalies__model_usage_daily needs (the entity as defined there), kept incrementally like the
-- ledger (a run replaces its window's days), so that model reads a few rows per day instead of every line.
with

lines as (

    select * from {{ ref('int_usage_attributed') }}
    where model_ref <> '(none)'
    {% if is_incremental() %}
        and usage_date between {{ window_start() }} and {{ window_end() }}
    {% endif %}

)

select
    usage_date,
    case when api_key_id is not null then 'api_key' else 'team_tool' end as entity_type,
    case
        when api_key_id is not null then api_key_id
        else {{ dbt.concat(['team_id', "'/'", 'tool']) }}
    end as entity_id,
    model_ref,
    team_id as line_team_id,
    provider,
    tool,
    api_key_id,
    sum(billed_cost) as billed_cost,
    sum(token_count) as token_count
from lines
group by 1, 2, 3, 4, 5, 6, 7, 8
