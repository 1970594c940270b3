-- One row per cost day x workspace x description (model, token type, tier, context window), in dollars.
with

source as (

    select * from {{ source('anthropic', 'cost_report') }}

),

deduplicated as (

    {{ latest_rows('source') }}

),

renamed as (

    select
        row_key as cost_row_id,
        bucket_date as usage_date,
        coalesce(workspace_id, 'default') as workspace_id,
        description,
        coalesce(cost_type, 'tokens') as cost_type,
        model as model_ref,
        token_type as provider_token_type,
        case token_type
            when 'uncached_input_tokens' then 'input'
            when 'output_tokens' then 'output'
            when 'cache_creation.ephemeral_5m_input_tokens' then 'cache_write_5m'
            when 'cache_creation.ephemeral_1h_input_tokens' then 'cache_write_1h'
            when 'cache_read_input_tokens' then 'cache_read'
        end as price_key,
        case
            when service_tier = 'batch' then 'batch'
            when service_tier in ('flex', 'flex_discount') then 'flex'
            when service_tier in ('priority', 'priority_on_demand') then 'priority'
            else 'standard'
        end as price_context,
        case when context_window = '200k-1M' then 'long' else 'base' end as context_tier,
        upper(currency) as currency,
        -- the API's amount is a decimal string in cents
        {{ money('amount_cents / 100') }} as billed_cost
    from deduplicated

)

select * from renamed
