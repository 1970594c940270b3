-- One row per usage day x project x user x api key x model x batch flag x service tier (OpenAI's grouping).
with

source as (

    select * from {{ source('openai', 'usage_completions') }}

),

deduplicated as (

    {{ latest_rows('source') }}

),

renamed as (

    select
        row_key as usage_row_id,
        bucket_date as usage_date,
        bucket_start as bucket_started_at,
        project_id,
        user_id,
        api_key_id,
        model as model_ref,
        coalesce(batch, false) as is_batch,
        coalesce(service_tier, 'default') as service_tier,
        case
            when batch then 'batch'
            when service_tier = 'flex' then 'flex'
            when service_tier = 'priority' then 'priority'
            else 'standard'
        end as price_context,
        'base' as context_tier,
        coalesce(input_tokens, 0) as input_tokens,
        coalesce(input_cached_tokens, 0) as cache_read_tokens,
        coalesce(input_cache_write_tokens, 0) as cache_write_tokens,
        -- older responses lack input_uncached_tokens: input includes cached and cache-write tokens
        coalesce(
            input_uncached_tokens,
            coalesce(input_tokens, 0) - coalesce(input_cached_tokens, 0) - coalesce(input_cache_write_tokens, 0)
        ) as uncached_input_tokens,
        coalesce(output_tokens, 0) as output_tokens,
        coalesce(num_model_requests, 0) as request_count
    from deduplicated

)

select * from renamed
