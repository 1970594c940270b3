{{
    config(
        materialized='incremental',
        incremental_strategy=append_strategy(),
        pre_hook="{{ delete_window('usage_date') }}",
        on_schema_change='fail',
    )
}}
-- One row per provider x day: what the provider billed against what its usage costs at list price, and whether the
-- ledger holds exactly the bill. Finance's check before month end:
--   * ledger_gap_usd must be 0 (the allocation neither lost nor invented a dollar; a dbt test fails otherwise);
--   * list_variance_usd compares like with like: the billed dollars of lines priced from the price book against
--     their list cost (discounts, negotiated rates, price-book errors show up here); seats, per-request charges,
--     unpriced models and non-token charges are reported beside it, not in it. A variance beyond the tolerance
--     (var reconciliation_tolerance, default 5%, and at least var reconciliation_floor_usd, default $1) is flagged
--     'variance' and warned about by a dbt test.
-- Shared costs of the directory are not a provider's bill and are left out. Incremental like the ledger: a run
-- replaces its window's days (a day's row depends on that day's bill and ledger rows only).
{%- set tolerance = var('reconciliation_tolerance', 0.05) %}
{%- set floor_usd = var('reconciliation_floor_usd', 1) %}
with

bills as (

    select provider, usage_date, sum(billed_cost) as provider_billed_usd
    from {{ ref('int_billed_cost_lines') }}
    {% if is_incremental() %}
    where usage_date between {{ window_start() }} and {{ window_end() }}
    {% endif %}
    group by provider, usage_date

),

ledger as (

    select
        provider,
        usage_date,
        sum(billed_cost_usd) as ledger_billed_usd,
        sum(case when list_cost_usd is not null and is_priced then billed_cost_usd else 0 end) as priced_billed_usd,
        sum(case when list_cost_usd is not null and is_priced then list_cost_usd else 0 end) as list_cost_usd,
        sum(case when list_cost_usd is not null and is_priced then 0 else billed_cost_usd end)
            as billed_without_list_price_usd,
        sum(token_count) as token_count,
        sum(unpriced_token_count) as unpriced_token_count
    from {{ ref('fct_ai_usage_daily') }}
    where cost_type <> 'shared'
    {% if is_incremental() %}
        and usage_date between {{ window_start() }} and {{ window_end() }}
    {% endif %}
    group by provider, usage_date

),

joined as (

    select
        coalesce(bills.provider, ledger.provider) as provider,
        coalesce(bills.usage_date, ledger.usage_date) as usage_date,
        coalesce(bills.provider_billed_usd, 0) as provider_billed_usd,
        coalesce(ledger.ledger_billed_usd, 0) as ledger_billed_usd,
        coalesce(ledger.priced_billed_usd, 0) as priced_billed_usd,
        coalesce(ledger.list_cost_usd, 0) as list_cost_usd,
        coalesce(ledger.billed_without_list_price_usd, 0) as billed_without_list_price_usd,
        coalesce(ledger.token_count, 0) as token_count,
        coalesce(ledger.unpriced_token_count, 0) as unpriced_token_count
    from bills
    full outer join ledger
        on ledger.provider = bills.provider
        and ledger.usage_date = bills.usage_date

)

select
    {{ surrogate_key(['provider', 'usage_date']) }} as reconciliation_key,
    usage_date,
    provider,
    {{ money('provider_billed_usd') }} as provider_billed_usd,
    {{ money('ledger_billed_usd') }} as ledger_billed_usd,
    {{ money('ledger_billed_usd - provider_billed_usd') }} as ledger_gap_usd,
    {{ money('priced_billed_usd') }} as priced_billed_usd,
    {{ money('list_cost_usd') }} as list_cost_usd,
    {{ money('priced_billed_usd - list_cost_usd') }} as list_variance_usd,
    cast({{ safe_divide('priced_billed_usd - list_cost_usd', 'list_cost_usd') }} as {{ dbt.type_float() }})
        as list_variance_ratio,
    {{ money('billed_without_list_price_usd') }} as billed_without_list_price_usd,
    token_count,
    unpriced_token_count,
    case
        when abs(priced_billed_usd - list_cost_usd) > {{ floor_usd }}
            and abs(priced_billed_usd - list_cost_usd) > {{ tolerance }} * abs(list_cost_usd)
            then 'variance'
        else 'ok'
    end as reconciliation_status
from joined
