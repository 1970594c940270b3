{{ config(materialized='view') }}
-- The AI ledger as FinOps FOCUS 1.2 cost-and-usage rows, one per fct_ai_usage_daily row: the same money, in the
-- columns every FOCUS-aware FinOps tool reads, beside the cloud's own FOCUS exports. Billed cost is what the
-- providers invoice; with no commitments or negotiated prices in these bills, EffectiveCost and ContractedCost equal
-- it. ListCost is the public list price (the billed cost where no price list knows the model). Token detail FOCUS has
-- no column for yet lives in x_ columns and in the SKU.
--
-- A view, not a table: every row is one ledger row put into FOCUS's columns (two small dimension lookups, no
-- aggregation), so a table would hold the ledger a second time, 50 columns wide: a full build rewrote all of it
-- (~95 s at 10,000 developers x 365 days, beside the finance rollup on the same two cores), a daily run its
-- window. Read through the view, a query computes only the columns it selects, and a filter on x_usage_date reaches
-- the ledger's own usage_date (the daily export reads one day this way).
with

usage as (

    select
        *,
        case when token_count > 0 then token_count else 1 end as focus_quantity
    from {{ ref('fct_ai_usage_daily') }}

),

models as (

    select provider, model_ref, vendor, model_family, model_tier from {{ ref('dim_models') }}

),

org as (

    select max(organization) as organization from {{ ref('stg_org__organization') }}

),

final as (

    select
        usage.usage_key as x_usage_key,
        -- billing: one account per provider organisation, one period per calendar month
        {{ dbt.concat(["usage.provider", "'-organization'"]) }} as {{ adapter.quote('BillingAccountId') }},
        {{ dbt.concat(["org.organization", "' ('", "case usage.provider when 'anthropic' then 'Anthropic' when 'openai' then 'OpenAI' when 'cursor' then 'Cursor' when 'copilot' then 'GitHub' else usage.provider end", "')'"]) }}
            as {{ adapter.quote('BillingAccountName') }},
        'USD' as {{ adapter.quote('BillingCurrency') }},
        {{ day_start('usage.usage_month') }} as {{ adapter.quote('BillingPeriodStart') }},
        {{ day_start(dbt.dateadd('month', 1, 'usage.usage_month')) }} as {{ adapter.quote('BillingPeriodEnd') }},
        -- no InvoiceId: the providers' usage APIs do not carry invoice numbers (the column is only recommended)
        case usage.provider when 'anthropic' then 'Anthropic' when 'openai' then 'OpenAI' when 'cursor' then 'Cursor' when 'copilot' then 'GitHub' else usage.provider end
            as {{ adapter.quote('InvoiceIssuerName') }},
        case usage.provider when 'anthropic' then 'Anthropic' when 'openai' then 'OpenAI' when 'cursor' then 'Cursor' when 'copilot' then 'GitHub' else usage.provider end
            as {{ adapter.quote('ProviderName') }},
        -- the model's maker: the provider itself, except through Cursor, which resells other vendors' models (Claude
        -- through Cursor is published by Anthropic); Cursor's own and unclassified models are Cursor's
        case
            when usage.provider = 'cursor' and models.model_family <> 'unclassified' then models.vendor
            when usage.provider = 'anthropic' then 'Anthropic'
            when usage.provider = 'openai' then 'OpenAI'
            when usage.provider = 'cursor' then 'Cursor'
            when usage.provider = 'copilot' and models.model_family <> 'unclassified' then models.vendor
            when usage.provider = 'copilot' then 'GitHub'
            else usage.provider
        end as {{ adapter.quote('PublisherName') }},
        -- the charge: a day of one model's tokens of one type for one owner
        {{ day_start('usage.usage_date') }} as {{ adapter.quote('ChargePeriodStart') }},
        {{ day_start(dbt.dateadd('day', 1, 'usage.usage_date')) }} as {{ adapter.quote('ChargePeriodEnd') }},
        'Usage' as {{ adapter.quote('ChargeCategory') }},
        -- no commitment discounts in these bills; the (null) column lets FOCUS's usage rules be evaluated
        cast(null as {{ dbt.type_string() }}) as {{ adapter.quote('CommitmentDiscountStatus') }},
        cast(null as {{ dbt.type_string() }}) as {{ adapter.quote('ChargeClass') }},
        -- seat fees and shared costs recur daily (amortized); everything else is billed as used
        case when usage.cost_type in ('seat', 'shared') then 'Recurring' else 'Usage-Based' end
            as {{ adapter.quote('ChargeFrequency') }},
        {{ dbt.concat(["usage.model_name", "' '", "replace(usage.token_type, '_', ' ')", "case when usage.cost_type = 'tokens' then ' tokens' else '' end", "' ('", "usage.service_tier", "')'"]) }}
            as {{ adapter.quote('ChargeDescription') }},
        'Standard' as {{ adapter.quote('PricingCategory') }},
        'AI and Machine Learning' as {{ adapter.quote('ServiceCategory') }},
        'Generative AI' as {{ adapter.quote('ServiceSubcategory') }},
        case usage.tool when 'anthropic_api' then 'Claude API' when 'openai_api' then 'OpenAI API' when 'cursor' then 'Cursor' when 'copilot' then 'GitHub Copilot' else usage.tool end
            as {{ adapter.quote('ServiceName') }},
        -- money
        {{ money('usage.billed_cost_usd') }} as {{ adapter.quote('BilledCost') }},
        {{ money('usage.billed_cost_usd') }} as {{ adapter.quote('EffectiveCost') }},
        {{ money('usage.billed_cost_usd') }} as {{ adapter.quote('ContractedCost') }},
        {{ money('coalesce(usage.list_cost_usd, usage.billed_cost_usd)') }} as {{ adapter.quote('ListCost') }},
        -- quantities: tokens; a charge that is not per token (code execution) is one unit of its service; a seat
        -- fee one seat-day per row and person, a shared cost one day of a team's share
        {{ money('usage.focus_quantity') }} as {{ adapter.quote('ConsumedQuantity') }},
        case usage.cost_type when 'tokens' then 'Tokens' when 'seat' then 'Seat-Days' when 'shared' then 'Days' else 'Requests' end as {{ adapter.quote('ConsumedUnit') }},
        {{ money('usage.focus_quantity') }} as {{ adapter.quote('PricingQuantity') }},
        case usage.cost_type when 'tokens' then 'Tokens' when 'seat' then 'Seat-Days' when 'shared' then 'Days' else 'Requests' end as {{ adapter.quote('PricingUnit') }},
        {{ money(rounded_ratio('coalesce(usage.list_cost_usd, usage.billed_cost_usd)', 'usage.focus_quantity', 12)) }}
            as {{ adapter.quote('ListUnitPrice') }},
        {{ money(rounded_ratio('usage.billed_cost_usd', 'usage.focus_quantity', 12)) }} as {{ adapter.quote('ContractedUnitPrice') }},
        -- priced and billed in the same currency: the pricing-currency columns repeat the USD figures
        'USD' as {{ adapter.quote('PricingCurrency') }},
        {{ money(rounded_ratio('coalesce(usage.list_cost_usd, usage.billed_cost_usd)', 'usage.focus_quantity', 12)) }}
            as {{ adapter.quote('PricingCurrencyListUnitPrice') }},
        {{ money(rounded_ratio('usage.billed_cost_usd', 'usage.focus_quantity', 12)) }}
            as {{ adapter.quote('PricingCurrencyContractedUnitPrice') }},
        {{ money('usage.billed_cost_usd') }} as {{ adapter.quote('PricingCurrencyEffectiveCost') }},
        -- the SKU: model x token type x tier, priced by a dated price version
        {{ dbt.concat(["usage.provider", "':'", "usage.model_ref", "':'", "usage.token_type", "':'", "usage.service_tier", "':'", "usage.context_tier"]) }}
            as {{ adapter.quote('SkuId') }},
        -- the SKU's price: the SKU and the dated price version its list cost used. FOCUS wants one parent SkuId per
        -- SkuPriceId, and a price version alone is shared (the same model through Anthropic and through Cursor, every
        -- unpriced model), so the SKU leads
        {{ dbt.concat(["usage.provider", "':'", "usage.model_ref", "':'", "usage.token_type", "':'", "usage.service_tier", "':'", "usage.context_tier", "':'", "coalesce(usage.price_version, 'unpriced')"]) }}
            as {{ adapter.quote('SkuPriceId') }},
        usage.token_type as {{ adapter.quote('SkuMeter') }},
        {{ json_object([('model', 'usage.model_ref'), ('token_type', 'usage.token_type'), ('service_tier', 'usage.service_tier'), ('context_tier', 'usage.context_tier'), ('price_version', 'usage.price_version')]) }}
            as {{ adapter.quote('SkuPriceDetails') }},
        -- who: the project is the sub-account; team, project, environment and person travel as tags
        usage.project_id as {{ adapter.quote('SubAccountId') }},
        coalesce(usage.project_name, usage.project_id) as {{ adapter.quote('SubAccountName') }},
        {{ json_object([('team', 'usage.team_id'), ('project', 'usage.project_id'), ('environment', 'usage.environment'), ('use_case', 'usage.use_case'), ('person', 'usage.person_email')]) }}
            as {{ adapter.quote('Tags') }},
        -- FOCUS has no token or model columns yet: x_ columns carry them
        usage.token_type as {{ adapter.quote('x_TokenType') }},
        usage.use_case as {{ adapter.quote('x_UseCase') }},
        usage.model_ref as {{ adapter.quote('x_ModelId') }},
        usage.service_tier as {{ adapter.quote('x_ServiceTier') }},
        coalesce(models.model_family, 'unclassified') as {{ adapter.quote('x_ModelFamily') }},
        coalesce(models.model_tier, 'unclassified') as {{ adapter.quote('x_ModelTier') }},
        usage.team_id as {{ adapter.quote('x_Team') }},
        usage.is_priced as {{ adapter.quote('x_IsPriced') }},
        usage.usage_date as x_usage_date
    from usage
    cross join org
    left join models
        on usage.provider = models.provider
        and usage.model_ref = models.model_ref

)

select * from final
