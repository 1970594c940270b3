-- One row per provider-side identifier the org directory does not resolve, with the spend it carries, so an admin
-- can fix the directory (the fix is named in how_to_fix). Nothing is dropped meanwhile: the spend stays in the
-- ledger, owned by whatever rule did match (an API key's or workspace's team) or by 'unallocated'.
--   user    : a provider's user id with no person: an OpenAI user id (identities.openai), a Cursor email (a
--             directory email or identities.cursor), a GitHub login holding a Copilot seat (identities.github)
--   api_key : an API key the directory's provider_accounts do not list
--   workspace / project : an Anthropic workspace or OpenAI project the directory does not list
-- Shared costs, seat rosters and the Cursor / Copilot organisations are not identifiers to resolve.
-- Summed from int_unresolved_identifiers_daily (a row per day and identifier, kept incrementally).
with

identifiers as (

    select * from {{ ref('int_unresolved_identifiers_daily') }}

),

summarised as (

    select
        provider,
        identifier_kind,
        identifier,
        min(usage_date) as first_seen_date,
        max(usage_date) as last_seen_date,
        count(distinct usage_date) as active_days,
        sum(billed_cost_usd) as billed_cost_usd,
        sum(unallocated_billed_cost_usd) as unallocated_billed_cost_usd,
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
