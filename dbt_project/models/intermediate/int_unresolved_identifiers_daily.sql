{{
    config(
        materialized='incremental',
        incremental_strategy=append_strategy(),
        pre_hook="{{ delete_window('usage_date') }}",
        on_schema_change='fail',
    )
}}
-- One row per day x provider-side identifier the org directory does not resolve (see
-- marts.fct_unresolved_identities for the kinds), with the spend its lines carry that day. Incremental like the
-- ledger it explains (a run replaces its window's days, resolved with the directory as it stood then), so the mart
-- sums a few rows per day instead of every allocated line.
with

lines as (

    select * from {{ ref('int_usage_attributed') }}
    {% if is_incremental() %}
    where usage_date between {{ window_start() }} and {{ window_end() }}
    {% endif %}

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

)

select
    usage_date,
    provider,
    identifier_kind,
    identifier,
    {{ money('sum(billed_cost)') }} as billed_cost_usd,
    {{ money("sum(case when team_id = 'unallocated' then billed_cost else 0 end)") }} as unallocated_billed_cost_usd,
    sum(token_count) as token_count
from identifiers
group by usage_date, provider, identifier_kind, identifier
