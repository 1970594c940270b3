select team_id, team_name, cost_center from {{ source('org', 'teams') }}
