-- One row per usage day x api key x workspace x model x service tier x context window (Anthropic's grouping).
with

source as (

    select * from {{ source('anthropic', 'usage_messages') }}

),

deduplicated as (

    {{ latest_rows('source') }}

),

renamed as (

    select
        row_key as usage_row_id,
        bucket_date as usage_date,
        bucket_start as bucket_started_at,
        api_key_id,
        -- null workspace_id is the organisation's default workspace (Anthropic's documented semantics)
        coalesce(workspace_id, 'default') as workspace_id,
        model as model_ref,
        coalesce(service_tier, 'standard') as service_tier,
        coalesce(context_window, '0-200k') as context_window,
        case
            when service_tier = 'batch' then 'batch'
            when service_tier in ('flex', 'flex_discount') then 'flex'
            when service_tier in ('priority', 'priority_on_demand') then 'priority'
            else 'standard'
        end as price_context,
        -- long-context rates apply per request; Anthropic tells us which requests crossed the threshold
        case when context_window = '200k-1M' then 'long' else 'base' end as context_tier,
        coalesce(uncached_input_tokens, 0) as uncached_input_tokens,
        coalesce(cache_creation_5m_input_tokens, 0) as cache_write_5m_tokens,
        coalesce(cache_creation_1h_input_tokens, 0) as cache_write_1h_tokens,
        coalesce(cache_read_input_tokens, 0) as cache_read_tokens,
        coalesce(output_tokens, 0) as output_tokens,
        coalesce(web_search_requests, 0) as web_search_requests
    from deduplicated

)

select * from renamed
