{{
    config(
        materialized='incremental',
        incremental_strategy=append_strategy(),
        pre_hook="{{ delete_window('usage_date') }}",
        on_schema_change='append_new_columns',
    )
}}
-- One row per token line, plus one per billed cost line that no usage explains, with billed dollars allocated.
-- (A column added later is appended: rows built before it keep null in it.)
--
-- Method: the cost reports are coarser than usage (Anthropic: workspace x model x token type x tier; OpenAI:
-- project x line item). Each cost group is shared among the token lines of the same day, provider, scope, model,
-- price key, price context and context tier, in proportion to their list cost (or to their tokens where the model
-- has no list price). A cost line with no such usage (code execution, web search, a model or tier the usage report
-- does not show) is kept as a line of its own on its scope, so every billed dollar lands exactly once.
-- Cursor bills per request, not per token type: its cost lines and token lines carry an allocation_group (the day x
-- user x model x kind billing group), which takes the price key's place in the group keys, so a group's cents are
-- shared among its input, output and cache lines by list cost, and never reach another user's or kind's tokens.
-- allocation_key = allocation_group where a provider sets one, else the price key.
-- Materialized incrementally (the run's window is deleted and rebuilt): this is the heavy join, done once per day.
-- A full build goes a month at a time (macros/full_build_batches.sql): every group is within one day.
{%- set group_keys = ['provider', 'usage_date', 'scope_kind', 'scope_id', 'model_ref', 'allocation_key',
                      'price_context', 'context_tier'] %}

with

-- read twice (the groups' totals and each line's share): inlined, not buffered (cte_inlined, docs/warehouses.md);
-- the priced lines under it are deterministic (their dedupes order by unique keys), so both reads see the same rows
usage as {{ cte_inlined() }} (

    select *, coalesce(allocation_group, price_key) as allocation_key from {{ ref('int_usage_priced') }}
    where {{ input_window('usage_date') }}

),

costs as (

    select *, coalesce(allocation_group, price_key) as allocation_key from {{ ref('int_billed_cost_lines') }}
    where {{ input_window('usage_date') }}

),

cost_groups as (

    select
        {{ group_keys | join(', ') }},
        sum(billed_cost) as group_billed_cost
    from costs
    where model_ref is not null and allocation_key is not null
    group by {{ group_keys | join(', ') }}

),

usage_groups as (

    select
        {{ group_keys | join(', ') }},
        sum(coalesce(list_cost, 0)) as group_list_cost,
        sum(token_count) as group_token_count
    from usage
    group by {{ group_keys | join(', ') }}

),

matched_groups as (

    select
        cost_groups.*,
        usage_groups.group_list_cost,
        usage_groups.group_token_count
    from cost_groups
    inner join usage_groups
        on {% for key in group_keys %}cost_groups.{{ key }} = usage_groups.{{ key }}{% if not loop.last %} and {% endif %}{% endfor %}
    where usage_groups.group_list_cost > 0 or usage_groups.group_token_count > 0

),

usage_allocated as (

    select
        usage.token_line_id,
        usage.provider,
        usage.tool,
        usage.usage_date,
        usage.model_ref,
        usage.price_model_id,
        usage.price_model_name,
        usage.price_context,
        usage.context_tier,
        usage.api_key_id,
        usage.scope_kind,
        usage.scope_id,
        usage.provider_user_id,
        usage.token_type,
        usage.price_key,
        'tokens' as cost_type,
        usage.token_count,
        usage.list_cost,
        usage.is_priced,
        usage.price_version,
        {{ money(
            "case
                when matched_groups.group_list_cost > 0
                    then matched_groups.group_billed_cost * coalesce(usage.list_cost, 0) / matched_groups.group_list_cost
                when matched_groups.group_token_count > 0
                    then matched_groups.group_billed_cost * usage.token_count / matched_groups.group_token_count
                else 0
            end"
        ) }} as billed_cost,
        false as is_billed_without_usage,
        cast(null as {{ dbt.type_string() }}) as use_case_hint
    from usage
    left join matched_groups
        on {% for key in group_keys %}usage.{{ key }} = matched_groups.{{ key }}{% if not loop.last %} and {% endif %}{% endfor %}

),

unexplained_costs as (

    select costs.*
    from costs
    left join matched_groups
        on {% for key in group_keys %}costs.{{ key }} = matched_groups.{{ key }}{% if not loop.last %} and {% endif %}{% endfor %}
    where matched_groups.provider is null

),

unexplained_allocated as (

    select
        {{ surrogate_key(['cost_row_id']) }} as token_line_id,
        provider,
        tool,
        usage_date,
        coalesce(model_ref, '(none)') as model_ref,
        cast(null as {{ dbt.type_string() }}) as price_model_id,
        cast(null as {{ dbt.type_string() }}) as price_model_name,
        price_context,
        context_tier,
        cast(null as {{ dbt.type_string() }}) as api_key_id,
        scope_kind,
        scope_id,
        -- Cursor's lines keep their user (the bill is per user); the cost reports have none
        provider_user_id,
        case
            when price_key = 'input' then 'input'
            when price_key = 'output' then 'output'
            when price_key in ('cache_write_5m', 'cache_write_1h') then 'cache_write'
            when price_key = 'cache_read' then 'cache_read'
            else 'other'
        end as token_type,
        price_key,
        cost_type,
        cast(0 as {{ dbt.type_bigint() }}) as token_count,
        cast(null as {{ type_money() }}) as list_cost,
        true as is_priced,
        cast(null as {{ dbt.type_string() }}) as price_version,
        billed_cost,
        true as is_billed_without_usage,
        use_case_hint
    from unexplained_costs

)

select * from usage_allocated
union all
select * from unexplained_allocated
