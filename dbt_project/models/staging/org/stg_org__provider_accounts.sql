-- One row per provider account (API key, workspace, project) the directory assigns to a project/team/person.
select
    provider,
    account_kind,
    account_id,
    account_name,
    project_id,
    team_id,
    lower(email) as email,
    environment,
    use_case
from {{ source('org', 'provider_accounts') }}
