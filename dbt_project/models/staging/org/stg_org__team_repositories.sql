-- One row per GitHub repository the directory assigns to a team (owner/name, lower case).
select lower(repository) as repository, team_id from {{ source('org', 'team_repositories') }}
