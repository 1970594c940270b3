-- One row per Jira project key the directory assigns to a team.
select upper(jira_project_key) as jira_project_key, team_id from {{ source('org', 'team_jira_projects') }}
