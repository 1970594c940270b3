-- One row per provider usage row x price key (input, output, cache write 5m/1h, cache read): the usage reports
-- unpivoted into token lines, so every provider shares one shape. Zero-token lines are left out.
-- Cursor's rows are its billing groups (int_cursor_usage_daily: day x user x model x kind x token-based flag), already
-- summed from per-request events; the user's email is the provider user id, the Cursor team the scope.
{%- set anthropic_columns = [
    ('uncached_input_tokens', 'input', 'input'),
    ('output_tokens', 'output', 'output'),
    ('cache_write_5m_tokens', 'cache_write', 'cache_write_5m'),
    ('cache_write_1h_tokens', 'cache_write', 'cache_write_1h'),
    ('cache_read_tokens', 'cache_read', 'cache_read'),
] -%}
{%- set openai_columns = [
    ('uncached_input_tokens', 'input', 'input'),
    ('output_tokens', 'output', 'output'),
    ('cache_write_tokens', 'cache_write', 'cache_write_5m'),
    ('cache_read_tokens', 'cache_read', 'cache_read'),
] -%}
{%- set cursor_columns = [
    ('input_tokens', 'input', 'input'),
    ('output_tokens', 'output', 'output'),
    ('cache_write_tokens', 'cache_write', 'cache_write_5m'),
    ('cache_read_tokens', 'cache_read', 'cache_read'),
] %}

with

anthropic as (

    select * from {{ ref('stg_anthropic__usage_messages') }}

),

openai as (

    select * from {{ ref('stg_openai__usage_completions') }}

),

cursor_usage as (

    select * from {{ ref('int_cursor_usage_daily') }}

),

anthropic_lines as (

    {% for column, token_type, price_key in anthropic_columns %}
    select
        usage_row_id,
        'anthropic' as provider,
        'anthropic_api' as tool,
        usage_date,
        coalesce(model_ref, '(unknown)') as model_ref,
        price_context,
        context_tier,
        api_key_id,
        'workspace' as scope_kind,
        workspace_id as scope_id,
        cast(null as {{ dbt.type_string() }}) as provider_user_id,
        '{{ token_type }}' as token_type,
        '{{ price_key }}' as price_key,
        -- billed by price key: the cost report's lines are per token type
        cast(null as {{ dbt.type_string() }}) as allocation_group,
        {{ column }} as token_count
    from anthropic
    where {{ column }} <> 0
    {% if not loop.last %}union all{% endif %}
    {% endfor %}

),

openai_lines as (

    {% for column, token_type, price_key in openai_columns %}
    select
        usage_row_id,
        'openai' as provider,
        'openai_api' as tool,
        usage_date,
        coalesce(model_ref, '(unknown)') as model_ref,
        price_context,
        context_tier,
        api_key_id,
        'project' as scope_kind,
        coalesce(project_id, '(none)') as scope_id,
        user_id as provider_user_id,
        '{{ token_type }}' as token_type,
        '{{ price_key }}' as price_key,
        cast(null as {{ dbt.type_string() }}) as allocation_group,
        {{ column }} as token_count
    from openai
    where {{ column }} <> 0
    {% if not loop.last %}union all{% endif %}
    {% endfor %}

),

cursor_lines as (

    {% for column, token_type, price_key in cursor_columns %}
    select
        cursor_usage_id as usage_row_id,
        'cursor' as provider,
        'cursor' as tool,
        usage_date,
        model_ref,
        -- Cursor's cents are its own rates; the list price is the model's standard rate (no batch or flex in an
        -- editor). Long-context rates are not applied: a request's tokens are summed over its many model calls.
        'standard' as price_context,
        'base' as context_tier,
        cast(null as {{ dbt.type_string() }}) as api_key_id,
        'cursor_team' as scope_kind,
        'cursor' as scope_id,
        user_email as provider_user_id,
        '{{ token_type }}' as token_type,
        '{{ price_key }}' as price_key,
        -- billed per request, not per token type: the group's cents are shared among its price keys
        cursor_usage_id as allocation_group,
        {{ column }} as token_count
    from cursor_usage
    where {{ column }} <> 0
    {% if not loop.last %}union all{% endif %}
    {% endfor %}

),

unioned as (

    select * from anthropic_lines
    union all
    select * from openai_lines
    union all
    select * from cursor_lines

)

select
    {{ surrogate_key(['usage_row_id', 'price_key']) }} as token_line_id,
    *
from unioned
