-- One row per model Copilot billed premium requests for. Copilot bills requests, not tokens: no list price applies
-- (price columns null); dim_models still classifies the model (vendor, family, tier) from the catalog.
select distinct
    'copilot' as provider,
    replace(lower(trim(model)), ' ', '-') as model_ref,
    cast(null as {{ dbt.type_string() }}) as price_provider,
    cast(null as {{ dbt.type_string() }}) as price_model_id,
    cast(null as {{ dbt.type_string() }}) as price_model_name
from {{ source('copilot', 'premium_requests') }}
where model is not null
