-- One row per fixed cost the directory configures (seats priced per holder, shared costs split among teams).
select
    fixed_cost_id,
    coalesce(fixed_cost_name, fixed_cost_id) as fixed_cost_name,
    cost_kind,
    provider,
    {{ money('usd_per_month') }} as usd_per_month,
    split_rule,
    cast(valid_from as date) as valid_from,
    cast(valid_to as date) as valid_to,
    environment
from {{ source('org', 'fixed_costs') }}
