-- One row per unit of engineering output: a merged pull request, a resolved ticket, a deployment.
--
-- Who and which team:
--   pull request : the author's GitHub login -> person (identities.github) -> their team; an unknown author counts
--                  for the repository's owning team as person 'unallocated'; bot authors are left out.
--   ticket       : the assignee's Jira account id (identities.jira), else their visible email -> person -> team;
--                  otherwise the Jira project's owning team as person 'unallocated'.
--   deployment   : the repository's owning team (team-level output, no person).
-- Output nobody owns is kept under team 'unallocated'.
with

pull_requests as (

    select * from {{ ref('stg_github__pull_requests') }}
    where not is_bot

),

tickets as (

    select * from {{ ref('stg_jira__issues') }}

),

deployments as (

    select * from {{ ref('stg_github__deployments') }}

),

identities as (

    select * from {{ ref('stg_org__identities') }}

),

people as (

    select * from {{ ref('stg_org__people') }}

),

repositories as (

    select * from {{ ref('stg_org__team_repositories') }}

),

jira_projects as (

    select * from {{ ref('stg_org__team_jira_projects') }}

),

pull_request_events as (

    select
        'pull_request' as output_type,
        pull_requests.pr_key as output_id,
        pull_requests.merged_date as output_date,
        people.email as person_email,
        coalesce(people.team_id, repositories.team_id, 'unallocated') as team_id,
        1 as prs_merged,
        pull_requests.lines_added,
        pull_requests.lines_deleted,
        0 as tickets_closed,
        {{ dbt.cast('0', dbt.type_float()) }} as story_points,
        0 as deployments,
        0 as successful_deployments
    from pull_requests
    left join identities
        on identities.tool = 'github'
        and identities.external_id = pull_requests.author_login
    left join people
        on people.email = identities.email
    left join repositories
        on repositories.repository = pull_requests.repository

),

ticket_events as (

    select
        'ticket' as output_type,
        tickets.issue_key as output_id,
        tickets.resolved_date as output_date,
        coalesce(by_account.email, by_email.email) as person_email,
        coalesce(by_account.team_id, by_email.team_id, jira_projects.team_id, 'unallocated') as team_id,
        0 as prs_merged,
        0 as lines_added,
        0 as lines_deleted,
        1 as tickets_closed,
        {{ dbt.cast('coalesce(tickets.story_points, 0)', dbt.type_float()) }} as story_points,
        0 as deployments,
        0 as successful_deployments
    from tickets
    left join identities
        on identities.tool = 'jira'
        and identities.external_id = tickets.assignee_account_id
    left join people as by_account
        on by_account.email = identities.email
    left join people as by_email
        on by_email.email = tickets.assignee_email
    left join jira_projects
        on jira_projects.jira_project_key = tickets.project_key

),

deployment_events as (

    select
        'deployment' as output_type,
        {{ dbt.cast('deployments.deployment_id', dbt.type_string()) }} as output_id,
        deployments.deploy_date as output_date,
        cast(null as {{ dbt.type_string() }}) as person_email,
        coalesce(repositories.team_id, 'unallocated') as team_id,
        0 as prs_merged,
        0 as lines_added,
        0 as lines_deleted,
        0 as tickets_closed,
        {{ dbt.cast('0', dbt.type_float()) }} as story_points,
        1 as deployments,
        case when deployments.is_success then 1 else 0 end as successful_deployments
    from deployments
    left join repositories
        on repositories.repository = deployments.repository

)

select * from pull_request_events
union all
select * from ticket_events
union all
select * from deployment_events
