-- One row per provider-side identifier the org directory does not resolve, with the spend it carries, so an admin
-- can fix the directory (the fix is named in how_to_fix). Nothing is dropped meanwhile: the spend stays in the
-- ledger, owned by whatever rule did match (an API key's or workspace's team) or by 'unallocated'.
--   user    : a provider's user id with no person: an OpenAI user id (identities.openai), a Cursor email (a
--             directory email or identities.cursor), a GitHub login holding a Copilot seat (identities.github)
--   api_key : an API key the directory's provider_accounts do not list
--   workspace / project : an Anthropic workspace or OpenAI project the directory does not list
-- Shared costs, seat rosters and the Cursor / Copilot organisations are not identifiers to resolve.
with

lines as (

    select * from {{ ref('int_usage_attributed') }}

),

accounts as (

    select provider, account_kind, account_id from {{ ref('stg_org__provider_accounts') }}

),

flagged as (

    select
        lines.usage_date,
        lines.provider,
        lines.provider_user_id,
        lines.api_key_id,
        lines.scope_kind,
        lines.scope_id,
        lines.person_email,
        lines.team_id,
        lines.billed_cost,
        lines.token_count,
        key_account.account_id as known_key_id,
        scope_account.account_id as known_scope_id
    from lines
    left join accounts as key_account
        on key_account.provider = lines.provider
        and key_account.account_kind = 'api_key'
        and key_account.account_id = lines.api_key_id
    left join accounts as scope_account
        on scope_account.provider = lines.provider
        and scope_account.account_kind = lines.scope_kind
        and scope_account.account_id = lines.scope_id

),

identifiers as (

    select usage_date, provider, 'user' as identifier_kind, provider_user_id as identifier, team_id, billed_cost,
           token_count
    from flagged
    where provider_user_id is not null and person_email is null

    union all

    select usage_date, provider, 'api_key' as identifier_kind, api_key_id as identifier, team_id, billed_cost,
           token_count
    from flagged
    where api_key_id is not null and known_key_id is null

    union all

    select usage_date, provider, scope_kind as identifier_kind, scope_id as identifier, team_id, billed_cost,
           token_count
    from flagged
    where scope_kind in ('workspace', 'project') and scope_id is not null and scope_id <> '(none)'
        and known_scope_id is null

),

summarised as (

    select
        provider,
        identifier_kind,
        identifier,
        min(usage_date) as first_seen_date,
        max(usage_date) as last_seen_date,
        count(distinct usage_date) as active_days,
        sum(billed_cost) as billed_cost_usd,
        sum(case when team_id = 'unallocated' then billed_cost else 0 end) as unallocated_billed_cost_usd,
        sum(token_count) as token_count
    from identifiers
    group by provider, identifier_kind, identifier

)

select
    {{ surrogate_key(['provider', 'identifier_kind', 'identifier']) }} as unresolved_identity_key,
    provider,
    identifier_kind,
    case when identifier_kind = 'user' then {{ person_label('identifier') }} else identifier end as identifier,
    first_seen_date,
    last_seen_date,
    active_days,
    {{ money('billed_cost_usd') }} as billed_cost_usd,
    {{ money('unallocated_billed_cost_usd') }} as unallocated_billed_cost_usd,
    token_count,
    case
        when identifier_kind = 'user' and provider = 'copilot'
            then 'add identities.github: <this login> to the person in the org directory'
        when identifier_kind = 'user' and provider = 'cursor'
            then 'add the person with this email to the org directory, or identities.cursor: <this email> to them'
        when identifier_kind = 'user'
            then {{ dbt.concat(["'add identities.'", 'provider', "': <this id> to the person in the org directory'"]) }}
        when identifier_kind = 'api_key'
            then 'add the key to provider_accounts (kind api_key) with its person, project or team'
        else {{ dbt.concat(["'add the '", 'identifier_kind', "' to provider_accounts with its project or team'"]) }}
    end as how_to_fix
from summarised
