-- One row per cost day x project x line item, in dollars, with the line item split into model and token kind.
with

source as (

    select * from {{ source('openai', 'costs') }}

),

deduplicated as (

    {{ latest_rows('source') }}

),

parsed as (

    select
        row_key as cost_row_id,
        bucket_date as usage_date,
        project_id,
        api_key_id,
        line_item,
        -- "gpt-5-2025-08-07, cached input" -> model "gpt-5-2025-08-07", kind "cached input"
        case when line_item like '%, %' then trim({{ dbt.split_part('line_item', "', '", 1) }}) end as model_ref,
        case when line_item like '%, %' then lower(trim({{ dbt.split_part('line_item', "', '", 2) }})) end as line_kind,
        upper(currency) as currency,
        {{ money('amount_usd') }} as billed_cost
    from deduplicated

),

final as (

    select
        cost_row_id,
        usage_date,
        project_id,
        api_key_id,
        line_item,
        model_ref,
        case
            when line_kind in ('input', 'batch input') then 'input'
            when line_kind in ('cached input', 'batch cached input') then 'cache_read'
            when line_kind in ('output', 'batch output') then 'output'
        end as price_key,
        case when line_kind like 'batch %' then 'batch' else 'standard' end as price_context,
        'base' as context_tier,
        case when line_kind in ('input', 'batch input', 'cached input', 'batch cached input', 'output', 'batch output')
            then 'tokens' else 'other' end as cost_type,
        currency,
        billed_cost
    from parsed

)

select * from final
