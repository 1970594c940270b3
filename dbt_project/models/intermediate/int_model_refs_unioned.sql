-- One row per provider x model id seen in usage, with the price-list model it resolves to (null: unpriced).
with

refs as (

    select * from {{ ref('stg_anthropic__model_refs') }}
    union all
    select * from {{ ref('stg_openai__model_refs') }}
    union all
    select * from {{ ref('stg_cursor__model_refs') }}
    union all
    select * from {{ ref('stg_copilot__model_refs') }}

)

select
    provider,
    model_ref,
    price_provider,
    price_model_id,
    price_model_name,
    price_model_id is not null as is_known_model
from refs
