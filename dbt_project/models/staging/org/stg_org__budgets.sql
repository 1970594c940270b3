-- One row per soft budget of the org directory's `budgets`: a team's (project_id null) or one of its projects' dollars
-- per month, for the months valid_from .. valid_to (both inclusive, as first days; null = open). Informs, never blocks.
select
    budget_id,
    team_id,
    project_id,
    case when project_id is null then 'team' else 'project' end as budget_scope,
    {{ money('usd_per_month') }} as usd_per_month,
    cast(valid_from as date) as valid_from_month,
    cast(valid_to as date) as valid_to_month
from {{ source('org', 'budgets') }}
