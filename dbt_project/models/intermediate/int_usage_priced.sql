-- One row per token line with its list price: the price-book row valid on the usage day for the line's model,
-- price context (standard/batch/flex/priority), context tier and price key. No match: list_cost is null and the
-- line is flagged unpriced; its tokens stay.
with

lines as (

    select * from {{ ref('int_usage_token_lines') }}

),

refs as (

    select * from {{ ref('int_model_refs_unioned') }}

),

prices as (

    select * from {{ ref('stg_pricing__model_prices') }}

),

priced as (

    select
        lines.*,
        refs.price_model_id,
        refs.price_model_name,
        prices.usd_per_million_tokens,
        prices.price_version,
        prices.is_derived_price
    from lines
    left join refs
        on lines.provider = refs.provider
        and lines.model_ref = refs.model_ref
    left join prices
        on refs.price_provider = prices.provider
        and refs.price_model_id = prices.price_model_id
        and lines.price_context = prices.price_context
        and lines.context_tier = prices.context_tier
        and lines.price_key = prices.price_key
        and lines.usage_date >= prices.valid_from
        and lines.usage_date < prices.valid_to

)

select
    *,
    {{ money('token_count * usd_per_million_tokens / 1000000') }} as list_cost,
    usd_per_million_tokens is not null as is_priced
from priced
