-- One row per allocated line with its owner: person (or service), team, project, environment, use case.
--
-- Precedence (first match wins), documented in README "Allocation rules":
--   person      : the provider user id mapped in the directory (identities; a Copilot login is a GitHub login:
--                 identities.github) > for Cursor, the directory person with the user's email > the API key's person
--   project     : the API key's project > the scope's project (Anthropic workspace / OpenAI project)
--   team        : the API key's explicit team > the person's team > the resolved project's team > the scope's team
--   environment : the API key's > the scope's > 'dev' for Cursor and Copilot (editors) > 'unknown'
--   use case    : the key's > the scope's > what the line knows itself (use_case_hint: Copilot premium requests'
--                 features, 'seat' for seat fees) > 'agent' for Cursor (its usage events are the editor's agent,
--                 chat and composer requests; tab completions are not among them) > 'api'
-- Anything left without a team is owned by 'unallocated' (never dropped): a Cursor email the directory does not
-- know keeps its spend there.
with

lines as (

    select * from {{ ref('int_usage_allocated') }}

),

accounts as (

    select * from {{ ref('stg_org__provider_accounts') }}

),

identities as (

    -- Cursor ids are emails, compared in lower case (identities.cursor maps an email Cursor knows to a person whose
    -- directory email differs)
    select
        email,
        tool,
        case when tool = 'cursor' then lower(external_id) else external_id end as external_id
    from {{ ref('stg_org__identities') }}

),

people as (

    select * from {{ ref('stg_org__people') }}

),

projects as (

    select * from {{ ref('stg_org__projects') }}

),

matched as (

    select
        lines.*,
        identity.email as identity_email,
        email_person.email as provider_email,
        key_account.account_id as matched_key_id,
        key_account.account_name as api_key_name,
        key_account.email as key_email,
        key_account.project_id as key_project_id,
        key_account.team_id as key_team_id,
        key_account.environment as key_environment,
        key_account.use_case as key_use_case,
        scope_account.account_id as matched_scope_id,
        scope_account.project_id as scope_project_id,
        scope_account.team_id as scope_team_id,
        scope_account.environment as scope_environment,
        scope_account.use_case as scope_use_case
    from lines
    left join identities as identity
        on identity.tool = case when lines.provider = 'copilot' then 'github' else lines.provider end
        and identity.external_id = lines.provider_user_id
    -- Cursor identifies people by email, the directory's own key
    left join people as email_person
        on lines.provider = 'cursor'
        and email_person.email = lines.provider_user_id
    left join accounts as key_account
        on key_account.provider = lines.provider
        and key_account.account_kind = 'api_key'
        and key_account.account_id = lines.api_key_id
    left join accounts as scope_account
        on scope_account.provider = lines.provider
        and scope_account.account_kind = lines.scope_kind
        and scope_account.account_id = lines.scope_id

),

resolved as (

    select
        matched.*,
        coalesce(identity_email, provider_email, key_email) as person_email,
        coalesce(key_project_id, scope_project_id) as resolved_project_id
    from matched

),

final as (

    select
        resolved.token_line_id,
        resolved.provider,
        resolved.tool,
        resolved.usage_date,
        resolved.model_ref,
        resolved.price_model_id,
        resolved.price_model_name,
        resolved.price_context,
        resolved.context_tier,
        resolved.api_key_id,
        resolved.scope_kind,
        resolved.scope_id,
        resolved.provider_user_id,
        resolved.token_type,
        resolved.price_key,
        resolved.cost_type,
        resolved.token_count,
        resolved.list_cost,
        resolved.is_priced,
        resolved.price_version,
        resolved.billed_cost,
        resolved.is_billed_without_usage,
        case
            when people.email is not null then people.email
            when resolved.api_key_name is not null then {{ dbt.concat(["'service:'", 'resolved.api_key_name']) }}
            else 'unallocated'
        end as principal_id,
        case
            when people.email is not null then 'person'
            when resolved.api_key_name is not null then 'service'
            else 'unknown'
        end as principal_type,
        people.email as person_email,
        coalesce(resolved.key_team_id, people.team_id, projects.team_id, resolved.scope_team_id, 'unallocated')
            as team_id,
        coalesce(resolved.resolved_project_id, 'unallocated') as project_id,
        coalesce(
            resolved.key_environment, resolved.scope_environment,
            case when resolved.tool in ('cursor', 'copilot') then 'dev' else 'unknown' end
        ) as environment,
        coalesce(
            resolved.key_use_case, resolved.scope_use_case, resolved.use_case_hint,
            case when resolved.tool = 'cursor' then 'agent' when resolved.tool = 'copilot' then 'chat' else 'api' end
        ) as use_case,
        case
            when resolved.identity_email is not null or resolved.provider_email is not null then 'provider_user'
            when resolved.matched_key_id is not null then 'api_key'
            when resolved.matched_scope_id is not null then resolved.scope_kind
            else 'none'
        end as allocation_rule
    from resolved
    left join people
        on people.email = resolved.person_email
    left join projects
        on projects.project_id = resolved.resolved_project_id

)

select * from final
