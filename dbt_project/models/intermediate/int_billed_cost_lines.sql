-- One row per provider cost-report line, in one shape: day, scope (Anthropic workspace / OpenAI project), model,
-- price key, price context, context tier, billed dollars. This is what the providers invoice.
with

anthropic as (

    select * from {{ ref('stg_anthropic__cost_report') }}

),

openai as (

    select * from {{ ref('stg_openai__costs') }}

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
        currency,
        billed_cost
    from openai

)

select * from unioned
