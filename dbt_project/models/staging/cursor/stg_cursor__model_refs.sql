-- One row per model name seen in Cursor usage events, with the genai-prices model it resolves to (null if unknown:
-- Cursor's own models such as 'auto' and 'composer-1' have no public list price).
select
    provider,
    model_ref,
    price_provider,
    price_model_id,
    price_model_name
from {{ source('cursor', 'model_refs') }}
