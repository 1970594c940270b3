-- FOCUS 1.2 (SkuPriceId-C-008-M): a SkuPriceId has one and only one parent SkuId. Checked here, on every build, as
-- well as by the FinOps Foundation's validator on the exported files: a price version alone is shared by several
-- SKUs (one model through two providers, every unpriced model), so the SkuPriceId must carry its SKU.
-- Checks the run's window (min_date..max_date; the whole history on a full build), as the ledger's tests: the mart
-- is a view, so every row checked is computed again.
select
    {{ adapter.quote('SkuPriceId') }},
    count(distinct {{ adapter.quote('SkuId') }}) as parent_skus
from {{ ref('fct_focus_cost_and_usage') }}
where x_usage_date between {{ window_start() }} and {{ window_end() }}
group by {{ adapter.quote('SkuPriceId') }}
having count(distinct {{ adapter.quote('SkuId') }}) > 1
