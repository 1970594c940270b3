-- One row per provider x model x validity interval x price context x context tier x price key: the current
-- version of each price (a version superseded by a later package release keeps an older observed_at).
with

source as (

    select * from {{ source('pricing', 'model_prices') }}

),

ranked as (

    select
        *,
        row_number() over (
            partition by provider, price_model_id, valid_from, price_context, context_tier, price_key
            order by observed_at desc, price_version desc
        ) as version_rank
    from source

)

select
    {{ surrogate_key(['provider', 'price_model_id', 'valid_from', 'price_context', 'context_tier', 'price_key']) }}
        as price_id,
    provider,
    price_model_id,
    price_model_name,
    valid_from,
    valid_to,
    price_context,
    context_tier,
    long_context_threshold_tokens,
    price_key,
    {{ money('usd_per_million_tokens') }} as usd_per_million_tokens,
    is_derived_price,
    price_version,
    source as price_source
from ranked
where version_rank = 1
