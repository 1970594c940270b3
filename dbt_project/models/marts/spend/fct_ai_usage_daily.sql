{{
    config(
        materialized='incremental',
        incremental_strategy=append_strategy(),
        pre_hook="{{ delete_window('usage_date') }}",
        on_schema_change='fail',
    )
}}
-- One row per usage day x provider x tool x model x service tier x context tier x principal (person or service)
-- x team x project x environment x use case x token type x cost type: the allocated AI ledger, with tokens, list
-- cost (priced from the dated price book) and billed cost (the providers' cost reports allocated down to this grain).
--
-- Incremental: each run deletes and rebuilds the days of its window (min_date..max_date), so rows outside the
-- window keep the price version they were priced with, and a re-run of a day never double counts. A full build
-- goes a month at a time (macros/full_build_batches.sql), so the table is in date order.
with

lines as (

    select * from {{ ref('int_usage_attributed') }}
    where {{ input_window('usage_date') }}

    union all

    -- shared costs split among teams (the directory's fixed_costs): lines of their own, owned by their teams
    select * from {{ ref('int_shared_cost_lines') }}
    where {{ input_window('usage_date') }}

),

people as (

    select * from {{ ref('dim_people') }}

),

teams as (

    select * from {{ ref('dim_teams') }}

),

projects as (

    select * from {{ ref('dim_projects') }}

),

aggregated as (

    select
        usage_date,
        provider,
        tool,
        model_ref,
        max(price_model_name) as model_name,
        price_context as service_tier,
        context_tier,
        principal_id,
        principal_type,
        person_email,
        team_id,
        project_id,
        environment,
        use_case,
        token_type,
        cost_type,
        sum(token_count) as token_count,
        sum(case when is_priced then 0 else token_count end) as unpriced_token_count,
        sum(list_cost) as list_cost_usd,
        sum(billed_cost) as billed_cost_usd,
        max(price_version) as price_version
    from lines
    group by
        usage_date, provider, tool, model_ref, price_context, context_tier, principal_id, principal_type,
        person_email, team_id, project_id, environment, use_case, token_type, cost_type

),

final as (

    select
        {{ surrogate_key([
            'aggregated.usage_date', 'aggregated.provider', 'aggregated.tool', 'aggregated.model_ref',
            'aggregated.service_tier', 'aggregated.context_tier', 'aggregated.principal_id', 'aggregated.team_id',
            'aggregated.project_id', 'aggregated.environment', 'aggregated.use_case', 'aggregated.token_type',
            'aggregated.cost_type'
        ]) }} as usage_key,
        aggregated.usage_date,
        cast({{ dbt.date_trunc('week', 'aggregated.usage_date') }} as date) as usage_week,
        cast({{ dbt.date_trunc('month', 'aggregated.usage_date') }} as date) as usage_month,
        aggregated.provider,
        aggregated.tool,
        aggregated.model_ref,
        case
            when aggregated.model_ref = '(none)' then 'not model-specific'
            else coalesce(aggregated.model_name, aggregated.model_ref)
        end as model_name,
        aggregated.service_tier,
        aggregated.context_tier,
        aggregated.token_type,
        aggregated.cost_type,
        case
            when aggregated.principal_type = 'person' then {{ person_label('aggregated.principal_id') }}
            else aggregated.principal_id
        end as principal_id,
        aggregated.principal_type,
        {{ person_label('aggregated.person_email') }} as person_email,
        people.person_name,
        aggregated.team_id,
        teams.team_name,
        aggregated.project_id,
        projects.project_name,
        aggregated.environment,
        aggregated.use_case,
        aggregated.token_count,
        aggregated.unpriced_token_count,
        aggregated.unpriced_token_count = 0 as is_priced,
        {{ money('aggregated.list_cost_usd') }} as list_cost_usd,
        {{ money('aggregated.billed_cost_usd') }} as billed_cost_usd,
        'USD' as currency,
        aggregated.price_version,
        aggregated.team_id <> 'unallocated' as is_allocated
    from aggregated
    left join people on people.person_email = {{ person_label('aggregated.person_email') }}
    left join teams on teams.team_id = aggregated.team_id
    left join projects on projects.project_id = aggregated.project_id

)

select * from final
