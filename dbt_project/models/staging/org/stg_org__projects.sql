select project_id, project_name, team_id from {{ source('org', 'projects') }}
