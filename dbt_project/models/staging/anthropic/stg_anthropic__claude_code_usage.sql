-- One row per Claude Code day x actor x terminal x model (Claude Code Analytics report): tokens and Anthropic's
-- estimated cost in dollars. An estimate of activity, not the bill (the bill is the cost report).
with

source as (

    select * from {{ source('anthropic', 'claude_code_usage') }}

),

deduplicated as (

    {{ latest_rows('source') }}

),

renamed as (

    select
        row_key as usage_row_id,
        -- the matching stg_anthropic__claude_code_activity row
        activity_key as activity_id,
        bucket_date as usage_date,
        organization_id,
        actor_type,
        lower(actor_email) as actor_email,
        api_key_name,
        customer_type,
        subscription_type,
        terminal_type,
        model as model_ref,
        coalesce(input_tokens, 0) as input_tokens,
        coalesce(output_tokens, 0) as output_tokens,
        coalesce(cache_read_tokens, 0) as cache_read_tokens,
        coalesce(cache_creation_tokens, 0) as cache_creation_tokens,
        upper(currency) as currency,
        -- landed in dollars already (the API's cents / 100, exact)
        {{ money('coalesce(estimated_cost_usd, 0)') }} as estimated_cost_usd
    from deduplicated

)

select * from renamed
