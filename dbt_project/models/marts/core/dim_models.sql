-- One row per provider x model id seen in usage: the price-list model it resolved to, whether it is priced, and its
-- vendor, family and tier from the model_catalog seed (the matching pattern with the lowest priority wins).
with

refs as (

    select * from {{ ref('int_model_refs_unioned') }}

),

catalog as (

    select * from {{ ref('model_catalog') }}

),

classified as (

    select
        refs.provider,
        refs.model_ref,
        catalog.vendor,
        catalog.model_family,
        catalog.model_tier,
        row_number() over (
            partition by refs.provider, refs.model_ref
            order by catalog.priority, catalog.pattern
        ) as match_rank
    from refs
    inner join catalog
        on lower(refs.model_ref) like catalog.pattern

)

select
    {{ surrogate_key(['refs.provider', 'refs.model_ref']) }} as model_key,
    refs.provider,
    refs.model_ref,
    refs.price_model_id,
    coalesce(refs.price_model_name, refs.model_ref) as model_name,
    refs.is_known_model as is_priced,
    coalesce(classified.vendor, refs.provider) as vendor,
    coalesce(classified.model_family, 'unclassified') as model_family,
    coalesce(classified.model_tier, 'unclassified') as model_tier
from refs
left join classified
    on refs.provider = classified.provider
    and refs.model_ref = classified.model_ref
    and classified.match_rank = 1
