-- One row per day x product x SKU (x repository) of GitHub's billing usage report, with the Copilot lines classified:
-- 'seat' (Business / Enterprise seats, billed per day as fractions of a user-month), 'premium_requests', 'other'.
-- Other GitHub products (Actions, Packages, ...) stay here with is_copilot false; the AI ledger leaves them out.
with

deduplicated as (

    {{ latest_rows(source('copilot', 'billing_usage')) }}

)

select
    row_key as billing_row_id,
    bucket_date as usage_date,
    organization_name,
    repository_name,
    product,
    sku,
    unit_type,
    lower(product) = 'copilot' as is_copilot,
    case
        when lower(product) <> 'copilot' then 'other'
        when lower(unit_type) = 'usermonths' then 'seat'
        when lower(sku) like '%premium request%' then 'premium_requests'
        else 'other'
    end as cost_type,
    case
        when lower(sku) like '%enterprise%' then 'enterprise'
        when lower(sku) like '%business%' then 'business'
    end as plan_type,
    quantity,
    price_per_unit,
    {{ money('gross_amount') }} as gross_amount_usd,
    {{ money('discount_amount') }} as discount_amount_usd,
    {{ money('net_amount') }} as billed_cost
from deduplicated
