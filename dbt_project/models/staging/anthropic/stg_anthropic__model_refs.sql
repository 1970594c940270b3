-- One row per model id seen in Anthropic usage, with the genai-prices model it resolves to (null if unknown).
select
    provider,
    model_ref,
    price_provider,
    price_model_id,
    price_model_name
from {{ source('anthropic', 'model_refs') }}
