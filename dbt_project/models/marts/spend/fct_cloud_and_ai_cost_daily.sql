{{ config(materialized='table') }}
-- One view of cloud and AI spend: one row per day x source x provider x service category x service name x team x
-- project x environment x charge category.
--   source 'ai_ledger':  the allocated AI ledger (fct_ai_usage_daily): Anthropic, OpenAI, Cursor... as usage.
--   source 'focus_file': every row of the FOCUS cost exports (AWS, Google Cloud, any FOCUS file), allocated by its
--                        tags (int_cloud_costs_allocated); untagged shared costs and credits land in 'unallocated'.
-- Money is summed as delivered, then rounded once (each half's sum, to the money type: every row of this table is one
-- half's); credits and adjustments stay negative.
-- EffectiveCost is the ledger's billed cost for AI (no commitments there), the file's EffectiveCost for cloud rows;
-- ListCost falls back to the billed cost where no list price is known (as in fct_focus_cost_and_usage).
--
-- A table rebuilt whole on every run, not incremental: providers restate whole months of their FOCUS exports (a
-- month's file is rewritten as it grows, and rows can disappear), so a window delete would keep stale cloud rows
-- outside the run's window. Both halves are aggregates of modest size; the AI half reads the ledger already summed
-- to this grain (int_ai_cost_by_owner_daily, incremental like the ledger).
with

ai_ledger as (

    select
        usage_date,
        'ai_ledger' as source,
        case provider
            when 'anthropic' then 'Anthropic'
            when 'openai' then 'OpenAI'
            when 'cursor' then 'Cursor'
            else provider
        end as provider,
        'AI and Machine Learning' as service_category,
        case tool
            when 'anthropic_api' then 'Claude API'
            when 'openai_api' then 'OpenAI API'
            when 'cursor' then 'Cursor'
            else tool
        end as service_name,
        team_id,
        project_id,
        environment,
        'Usage' as charge_category,
        {{ money('billed_cost_usd') }} as billed_cost_usd,
        {{ money('billed_cost_usd') }} as effective_cost_usd,
        {{ money('list_or_billed_cost_usd') }} as list_cost_usd,
        line_count
    -- the ledger summed to this grain, kept incrementally beside it
    from {{ ref('int_ai_cost_by_owner_daily') }}

),

focus_files as (

    select
        charge_date as usage_date,
        'focus_file' as source,
        coalesce(provider_name, '(unknown)') as provider,
        coalesce(service_category, 'Other') as service_category,
        coalesce(service_name, '(none)') as service_name,
        team_id,
        project_id,
        environment,
        coalesce(charge_category, '(unknown)') as charge_category,
        {{ money('sum(billed_cost)') }} as billed_cost_usd,
        {{ money('sum(coalesce(effective_cost, billed_cost))') }} as effective_cost_usd,
        {{ money('sum(coalesce(list_cost, billed_cost))') }} as list_cost_usd,
        count(*) as line_count
    from {{ ref('int_cloud_costs_allocated') }}
    group by
        charge_date, coalesce(provider_name, '(unknown)'), coalesce(service_category, 'Other'),
        coalesce(service_name, '(none)'), team_id, project_id, environment, coalesce(charge_category, '(unknown)')

),

unioned as (

    select * from ai_ledger
    union all
    select * from focus_files

),

teams as (

    select * from {{ ref('dim_teams') }}

),

projects as (

    select * from {{ ref('dim_projects') }}

),

final as (

    select
        {{ surrogate_key([
            'unioned.usage_date', 'unioned.source', 'unioned.provider', 'unioned.service_category',
            'unioned.service_name', 'unioned.team_id', 'unioned.project_id', 'unioned.environment',
            'unioned.charge_category'
        ]) }} as cost_key,
        unioned.usage_date,
        cast({{ dbt.date_trunc('week', 'unioned.usage_date') }} as date) as usage_week,
        cast({{ dbt.date_trunc('month', 'unioned.usage_date') }} as date) as usage_month,
        unioned.source,
        unioned.provider,
        unioned.service_category,
        unioned.service_name,
        unioned.service_category = 'AI and Machine Learning' as is_ai_service,
        unioned.charge_category,
        unioned.team_id,
        teams.team_name,
        unioned.project_id,
        projects.project_name,
        unioned.environment,
        unioned.billed_cost_usd,
        unioned.effective_cost_usd,
        unioned.list_cost_usd,
        'USD' as currency,
        unioned.line_count,
        unioned.team_id <> 'unallocated' as is_allocated
    from unioned
    left join teams on teams.team_id = unioned.team_id
    left join projects on projects.project_id = unioned.project_id

)

select * from final
