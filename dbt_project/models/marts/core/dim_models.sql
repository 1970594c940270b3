-- One row per provider x model id seen in usage: the price-list model it resolved to and whether it is priced.
with

refs as (

    select * from {{ ref('int_model_refs_unioned') }}

)

select
    {{ surrogate_key(['provider', 'model_ref']) }} as model_key,
    provider,
    model_ref,
    price_model_id,
    coalesce(price_model_name, model_ref) as model_name,
    is_known_model as is_priced
from refs
