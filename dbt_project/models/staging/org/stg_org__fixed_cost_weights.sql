-- One row per team taking part in a shared cost, with its weight.
select
    fixed_cost_id,
    team_id,
    {{ money('weight') }} as weight
from {{ source('org', 'fixed_cost_weights') }}
