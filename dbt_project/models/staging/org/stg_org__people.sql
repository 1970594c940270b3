select lower(email) as email, full_name, team_id from {{ source('org', 'people') }}
