{#- Helpers of the guardrail marts (marts.fct_budget_status, marts.fct_recommendations). The figures of their messages
    have thousands separators, built from integer arithmetic and lpad: no engine-specific format function, so every
    engine writes the same text. A null figure gives null text, not the anomaly helpers' 'n/a'. -#}

{#- A whole number with thousands separators ("12,345"); expr is cast to an integer, so round it first if it has a
    fraction. -#}
{% macro grouped_integer_text(expr) -%}
    {%- set whole = 'cast(' ~ expr ~ ' as ' ~ dbt.type_bigint() ~ ')' -%}
    {%- set text = dbt.type_string() -%}
    case when {{ whole }} >= 1000000 then {{ dbt.concat([
        "cast(cast(floor(" ~ whole ~ " / 1000000.0) as " ~ dbt.type_bigint() ~ ") as " ~ text ~ ")", "','",
        "lpad(cast(cast(floor(mod(" ~ whole ~ ", 1000000) / 1000.0) as " ~ dbt.type_bigint() ~ ") as " ~ text ~ "), 3, '0')", "','",
        "lpad(cast(mod(" ~ whole ~ ", 1000) as " ~ text ~ "), 3, '0')"]) }}
    when {{ whole }} >= 1000 then {{ dbt.concat([
        "cast(cast(floor(" ~ whole ~ " / 1000.0) as " ~ dbt.type_bigint() ~ ") as " ~ text ~ ")", "','",
        "lpad(cast(mod(" ~ whole ~ ", 1000) as " ~ text ~ "), 3, '0')"]) }}
    else cast({{ whole }} as {{ text }}) end
{%- endmacro %}

{#- A count (tokens, requests, sessions) rounded to a whole number, with separators ("12,345"). -#}
{% macro grouped_count_text(expr) -%}
    {{ grouped_integer_text('round(' ~ expr ~ ', 0)') }}
{%- endmacro %}

{#- Dollars with separators: with cents ("$1,234.50"), or rounded to whole dollars ("$1,235") when cents=false. -#}
{% macro grouped_usd_text(expr, cents=true) -%}
    {%- if cents -%}
        {%- set in_cents = 'cast(round(' ~ expr ~ ' * 100, 0) as ' ~ dbt.type_bigint() ~ ')' -%}
        {{ dbt.concat([
            "'$'",
            grouped_integer_text('floor(' ~ in_cents ~ ' / 100.0)'),
            "'.'",
            "lpad(cast(mod(" ~ in_cents ~ ", 100) as " ~ dbt.type_string() ~ "), 2, '0')",
        ]) }}
    {%- else -%}
        {{ dbt.concat(["'$'", grouped_count_text(expr)]) }}
    {%- endif -%}
{%- endmacro %}

{#- A share (0.82) as a whole percentage ("82%"). -#}
{% macro whole_percent_text(expr) -%}
    {{ dbt.concat(["cast(cast(round(100 * (" ~ expr ~ "), 0) as " ~ dbt.type_bigint() ~ ") as " ~ dbt.type_string() ~ ")", "'%'"]) }}
{%- endmacro %}

{#- The English name of a date's month ("November"). -#}
{% macro month_name_text(date_expr) -%}
    case cast(extract(month from {{ date_expr }}) as {{ dbt.type_int() }})
        when 1 then 'January' when 2 then 'February' when 3 then 'March' when 4 then 'April'
        when 5 then 'May' when 6 then 'June' when 7 then 'July' when 8 then 'August'
        when 9 then 'September' when 10 then 'October' when 11 then 'November' else 'December'
    end
{%- endmacro %}

{#- The price book's context tier of an agent request (a stg_agent_telemetry__requests row): Anthropic prices a
    prompt of more than 200,000 tokens (input + cache read + cache write) at its 'long' rates. -#}
{% macro request_context_tier(relation) -%}
    case
        when {{ relation }}.provider = 'anthropic'
            and coalesce({{ relation }}.input_tokens, 0) + coalesce({{ relation }}.cache_read_tokens, 0)
                + coalesce({{ relation }}.cache_write_tokens, 0) > 200000 then 'long'
        else 'base'
    end
{%- endmacro %}

{#- One kind of fct_recommendations' rows: the finding of one entity in one month, from `source` (a CTE with
    team_id and month_start), in the mart's columns. entity_id, savings (cast to money here), evidence, action and
    sentence are SQL expressions; with by_month_name, month_names is joined so that they can say the month's name. -#}
{% macro recommendation_rows(source, recommendation_type, entity_type, entity_id, savings, evidence, action, sentence,
    by_month_name=true, where=none) -%}
    select
        '{{ recommendation_type }}' as recommendation_type,
        '{{ entity_type }}' as entity_type,
        {{ entity_id }} as entity_id,
        {{ source }}.team_id,
        {{ source }}.month_start,
        {{ money(savings) }} as savings,
        {{ evidence }} as evidence,
        {{ action }} as action,
        {{ sentence }} as sentence
    from {{ source }}
    {%- if by_month_name %}
    inner join month_names
        on month_names.month_start = {{ source }}.month_start
    {%- endif %}
    {%- if where %}
    where {{ where }}
    {%- endif %}
{%- endmacro %}
