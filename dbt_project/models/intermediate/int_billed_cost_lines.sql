-- One row per provider cost-report line, in one shape: day, scope (Anthropic workspace / OpenAI project / the Cursor
-- team), model, price key, price context, context tier, billed dollars. This is what the providers invoice.
-- Cursor bills per request: its lines are the billing groups of int_cursor_usage_daily (day x user x model x kind x
-- token-based flag) with their charged cents, not split by price key (allocation_group names the group instead).
-- Groups that bill nothing (requests included in the plan) have no cost line.
-- GitHub Copilot's lines (int_copilot_cost_lines: seats split among seat holders, premium requests per user) and
-- the seats the directory prices (int_seat_cost_lines: Cursor) carry their user and a line of their own
-- (allocation_group = the line): no token usage explains them, so each lands whole on its user.
-- use_case_hint: the use case a line knows by itself (Copilot's features, 'seat'); null = decided downstream.
with

anthropic as (

    select * from {{ ref('stg_anthropic__cost_report') }}

),

openai as (

    select * from {{ ref('stg_openai__costs') }}

),

cursor_usage as (

    select * from {{ ref('int_cursor_usage_daily') }}

),

copilot as (

    select * from {{ ref('int_copilot_cost_lines') }}

),

seats as (

    select * from {{ ref('int_seat_cost_lines') }}

),

unioned as (

    select
        cost_row_id,
        'anthropic' as provider,
        'anthropic_api' as tool,
        usage_date,
        'workspace' as scope_kind,
        workspace_id as scope_id,
        model_ref,
        price_key,
        price_context,
        context_tier,
        cost_type,
        description as cost_description,
        -- allocated by price key: the cost report's lines are per token type
        cast(null as {{ dbt.type_string() }}) as allocation_group,
        cast(null as {{ dbt.type_string() }}) as provider_user_id,
        cast(null as {{ dbt.type_string() }}) as use_case_hint,
        currency,
        billed_cost
    from anthropic

    union all

    select
        cost_row_id,
        'openai' as provider,
        'openai_api' as tool,
        usage_date,
        'project' as scope_kind,
        coalesce(project_id, '(none)') as scope_id,
        model_ref,
        price_key,
        price_context,
        context_tier,
        cost_type,
        line_item as cost_description,
        cast(null as {{ dbt.type_string() }}) as allocation_group,
        cast(null as {{ dbt.type_string() }}) as provider_user_id,
        cast(null as {{ dbt.type_string() }}) as use_case_hint,
        currency,
        billed_cost
    from openai

    union all

    select
        cursor_usage_id as cost_row_id,
        'cursor' as provider,
        'cursor' as tool,
        usage_date,
        'cursor_team' as scope_kind,
        'cursor' as scope_id,
        model_ref,
        cast(null as {{ dbt.type_string() }}) as price_key,
        'standard' as price_context,
        'base' as context_tier,
        -- a call that is not token based is charged per request: its money cannot land on tokens
        case when is_token_based then 'tokens' else 'requests' end as cost_type,
        {{ dbt.concat(["coalesce(kind, '(no kind)')", "case when is_token_based then ' token-based requests' else ' requests' end"]) }}
            as cost_description,
        cursor_usage_id as allocation_group,
        user_email as provider_user_id,
        cast(null as {{ dbt.type_string() }}) as use_case_hint,
        'USD' as currency,
        billed_cost
    from cursor_usage
    where billed_cost <> 0

    union all

    select
        cost_row_id,
        'copilot' as provider,
        'copilot' as tool,
        usage_date,
        'copilot_org' as scope_kind,
        coalesce(organization_name, 'copilot') as scope_id,
        model_ref,
        cast(null as {{ dbt.type_string() }}) as price_key,
        'standard' as price_context,
        'base' as context_tier,
        cost_type,
        cost_description,
        cost_row_id as allocation_group,
        user_login as provider_user_id,
        use_case_hint,
        'USD' as currency,
        billed_cost
    from copilot

    union all

    select
        cost_row_id,
        provider,
        provider as tool,
        usage_date,
        case when provider = 'cursor' then 'cursor_team' else 'seat_roster' end as scope_kind,
        provider as scope_id,
        cast(null as {{ dbt.type_string() }}) as model_ref,
        cast(null as {{ dbt.type_string() }}) as price_key,
        'standard' as price_context,
        'base' as context_tier,
        'seat' as cost_type,
        cost_description,
        cost_row_id as allocation_group,
        provider_user_id,
        'seat' as use_case_hint,
        'USD' as currency,
        billed_cost
    from seats

)

select * from unioned
