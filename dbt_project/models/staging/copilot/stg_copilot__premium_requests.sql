-- One row per day x scope (organization or user) x model x SKU of premium request usage: requests made (gross),
-- covered by the plan's allowance (discount), billed (net), and the net dollars. The model is kept as GitHub names it
-- ('Claude Opus 4.1') and as a model ref in the usage metrics' spelling ('claude-opus-4.1').
with

deduplicated as (

    {{ latest_rows(source('copilot', 'premium_requests')) }}

)

select
    row_key as premium_row_id,
    bucket_date as usage_date,
    scope,
    lower(user_login) as user_login,
    product,
    sku,
    model as model_name,
    replace(lower(trim(model)), ' ', '-') as model_ref,
    unit_type,
    gross_quantity,
    discount_quantity,
    net_quantity,
    price_per_unit,
    {{ money('gross_amount') }} as gross_amount_usd,
    {{ money('net_amount') }} as billed_cost
from deduplicated
