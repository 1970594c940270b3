{#- a table, rebuilt whole on every run like the mart that reads it (providers restate whole months of their FOCUS
    exports): its five data tests and the mart read it once computed, instead of each recomputing the tag parsing and
    the directory joins of a view (~0.2 s a read over a year of files at L, ~1 s for the column checks) -#}
{{ config(materialized='table') }}
-- One row per FOCUS cost row (stg_focus_files__costs), with the team, project and environment that own it.
--
-- Precedence (the allocation rules are the tags, as configured in staging's focus_tag_*_keys vars):
--   1. team tag: the row's team tag names a team of the org directory (its id, or its name when no other team has
--      that name; case-insensitive) -> that team. The project is the project tag's when it names a directory project
--      (whatever that project's team), else 'unallocated'.
--   2. project tag: no valid team tag (none, or one the directory does not know) and the project tag names a
--      directory project -> that project and the project's team.
--   (3. the row's sub-account mapped to a team in the org directory: not applied. The directory maps AI providers'
--      accounts only (stg_org__provider_accounts: Anthropic workspaces and keys, OpenAI projects and keys); it has
--      no cloud sub-account mapping yet, so this rule would always miss.)
--   4. otherwise 'unallocated' (team and project): shared costs such as an untagged NAT gateway, credits, and tags
--      the directory does not know. Such rows are kept, never dropped.
-- Environment: the env tag normalised: prod / production / prd -> prod, staging / stage / stg -> staging,
-- dev / development -> dev (case-insensitive); anything else, or no tag, -> 'unknown'.
-- Money keeps its sign: credits and adjustments stay negative, so every charge day adds up to the files' own total.
with

costs as (

    select * from {{ ref('stg_focus_files__costs') }}

),

teams as (

    select team_id, team_name from {{ ref('stg_org__teams') }}

),

projects as (

    select project_id, project_name, team_id from {{ ref('stg_org__projects') }}

),

-- tags match ids case-insensitively (one team per lower-cased id, should two ids differ only by case), and names
-- when exactly one team (project) has that name: a lookup never multiplies a cost row
team_ids as (

    select lower(team_id) as team_id_key, min(team_id) as team_id
    from teams
    group by lower(team_id)

),

project_ids as (

    select lower(project_id) as project_id_key, min(project_id) as project_id
    from projects
    group by lower(project_id)

),

team_names as (

    select lower(team_name) as team_name_key, min(team_id) as team_id
    from teams
    group by lower(team_name)
    having count(*) = 1

),

project_names as (

    select lower(project_name) as project_name_key, min(project_id) as project_id
    from projects
    group by lower(project_name)
    having count(*) = 1

),

matched as (

    select
        costs.*,
        coalesce(team_by_id.team_id, team_names.team_id) as tagged_team_id,
        coalesce(project_by_id.project_id, project_names.project_id) as tagged_project_id,
        lower(trim(costs.tag_environment)) as environment_tag
    from costs
    left join team_ids as team_by_id
        on team_by_id.team_id_key = lower(trim(costs.tag_team))
    left join team_names
        on team_names.team_name_key = lower(trim(costs.tag_team))
    left join project_ids as project_by_id
        on project_by_id.project_id_key = lower(trim(costs.tag_project))
    left join project_names
        on project_names.project_name_key = lower(trim(costs.tag_project))

),

allocated as (

    select
        matched.*,
        case
            when matched.tagged_team_id is not null then 'team_tag'
            when matched.tagged_project_id is not null then 'project_tag'
            else 'unallocated'
        end as allocation_rule,
        coalesce(matched.tagged_team_id, tagged_project.team_id, 'unallocated') as team_id,
        coalesce(matched.tagged_project_id, 'unallocated') as project_id,
        case
            when matched.environment_tag in ('prod', 'production', 'prd') then 'prod'
            when matched.environment_tag in ('staging', 'stage', 'stg') then 'staging'
            when matched.environment_tag in ('dev', 'development') then 'dev'
            else 'unknown'
        end as environment
    from matched
    left join projects as tagged_project
        on tagged_project.project_id = matched.tagged_project_id

),

final as (

    select
        cost_row_id,
        charge_date,
        provider_name,
        billing_account_id,
        sub_account_id,
        sub_account_name,
        service_category,
        service_subcategory,
        service_name,
        charge_category,
        charge_description,
        resource_id,
        tag_team,
        tag_project,
        tag_environment,
        team_id,
        project_id,
        environment,
        allocation_rule,
        team_id <> 'unallocated' as is_allocated,
        coalesce(charge_category in ('Credit', 'Adjustment'), false) as is_credit_or_adjustment,
        billed_cost,
        effective_cost,
        list_cost
    from allocated

)

select * from final
