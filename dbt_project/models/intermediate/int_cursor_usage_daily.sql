{{
    config(
        materialized='incremental',
        incremental_strategy=append_strategy(),
        pre_hook="{{ delete_window('usage_date') }}",
        on_schema_change='fail',
    )
}}
-- One row per usage day x Cursor user x model x billing kind x token-based flag: Cursor's per-request events summed
-- to the ledger's daily grain, once, before any join (a team sends one event per request: millions a day at scale).
--
-- Each row is one Cursor billing group: its token lines (int_usage_token_lines) share its billed dollars
-- (int_billed_cost_lines) in proportion to their list cost. The kind is in the grain because it decides the bill
-- (included requests bill nothing, usage-based ones their cents); calls that are not token based stay apart so that
-- money they cost lands as a line of its own rather than on tokens. Max mode is not in the grain: it changes
-- Cursor's rate, not the list price, and the group's billed cents are exact either way.
-- Incremental like the ledger: a run deletes and rebuilds the days of its window; a full build goes a month at a
-- time (macros/full_build_batches.sql).
with

events as (

    select * from {{ ref('stg_cursor__usage_events') }}
    where {{ input_window('usage_date') }}

),

daily as (

    select
        usage_date,
        user_email,
        model_ref,
        kind,
        is_token_based,
        count(*) as event_count,
        sum(case when is_chargeable then 1 else 0 end) as chargeable_event_count,
        sum(case when is_max_mode then 1 else 0 end) as max_mode_event_count,
        sum(input_tokens) as input_tokens,
        sum(output_tokens) as output_tokens,
        sum(cache_write_tokens) as cache_write_tokens,
        sum(cache_read_tokens) as cache_read_tokens,
        sum(request_units) as request_units,
        sum(model_cost_usd) as model_cost_usd,
        sum(billed_cost) as billed_cost
    from events
    group by usage_date, user_email, model_ref, kind, is_token_based

)

select
    {{ surrogate_key(['usage_date', 'user_email', 'model_ref', 'kind', 'is_token_based']) }} as cursor_usage_id,
    usage_date,
    user_email,
    model_ref,
    kind,
    is_token_based,
    cast(event_count as {{ dbt.type_bigint() }}) as event_count,
    cast(chargeable_event_count as {{ dbt.type_bigint() }}) as chargeable_event_count,
    cast(max_mode_event_count as {{ dbt.type_bigint() }}) as max_mode_event_count,
    cast(input_tokens as {{ dbt.type_bigint() }}) as input_tokens,
    cast(output_tokens as {{ dbt.type_bigint() }}) as output_tokens,
    cast(cache_write_tokens as {{ dbt.type_bigint() }}) as cache_write_tokens,
    cast(cache_read_tokens as {{ dbt.type_bigint() }}) as cache_read_tokens,
    request_units,
    {{ money('model_cost_usd') }} as model_cost_usd,
    {{ money('billed_cost') }} as billed_cost
from daily
