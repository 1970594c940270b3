{#- Small portable helpers. Engine-specific SQL lives only behind adapter.dispatch. -#}

{#- Money: one type everywhere (USD amounts, sub-cent precision kept). -#}
{% macro type_money() -%}{{ return(adapter.dispatch('type_money')()) }}{%- endmacro %}
{#- Snowflake (NUMBER(38, 9)) and Databricks (DECIMAL(38, 9)) take the default deliberately. -#}
{% macro default__type_money() -%}decimal(38, 9){%- endmacro %}
{#- BigQuery: decimal(38, 9) would be NUMERIC at its very limit (29 integer digits, scale 9); BIGNUMERIC is its exact
    decimal with room to spare. -#}
{% macro bigquery__type_money() -%}bignumeric{%- endmacro %}

{% macro money(expr) -%}cast({{ expr }} as {{ type_money() }}){%- endmacro %}

{#- An exact decimal type of a given precision and scale. -#}
{% macro type_decimal(precision, scale) -%}{{ return(adapter.dispatch('type_decimal')(precision, scale)) }}{%- endmacro %}
{% macro default__type_decimal(precision, scale) -%}decimal({{ precision }}, {{ scale }}){%- endmacro %}
{#- BigQuery: NUMERIC holds at most 29 digits before the point and 9 after, so a wider type is BIGNUMERIC there
    (decimal(38, 0) as NUMERIC would be rejected). -#}
{% macro bigquery__type_decimal(precision, scale) -%}
    {%- if precision - scale > 29 or scale > 9 -%}bignumeric({{ precision }}, {{ scale }})
    {%- else -%}numeric({{ precision }}, {{ scale }}){%- endif -%}
{%- endmacro %}

{#- A string literal of any text, its apostrophes escaped the engine's way: doubled on most, a backslash on BigQuery
    (where a doubled quote at the start of a literal opens a triple-quoted string). -#}
{% macro text_literal(value) -%}'{{ dbt.escape_single_quotes(value) }}'{%- endmacro %}

{#- Incremental facts delete their window in a pre-hook (delete_window) and add the rebuilt rows: dbt's `append`. -#}
{% macro append_strategy() -%}{{ return(adapter.dispatch('append_strategy')()) }}{%- endmacro %}
{% macro default__append_strategy() -%}{{ return('append') }}{%- endmacro %}
{#- BigQuery: dbt-bigquery accepts only merge, insert_overwrite and microbatch; its merge without a unique_key matches
    no row (`on false`) and inserts every one, which is append. -#}
{% macro bigquery__append_strategy() -%}{{ return('merge') }}{%- endmacro %}

{#- Written after `<name> as` in a CTE that two parts of a query read: the CTE is computed where each part reads it
    rather than once into a buffer both read. The query under it must be deterministic (it is evaluated twice). -#}
{% macro cte_inlined() -%}{{ return(adapter.dispatch('cte_inlined')()) }}{%- endmacro %}
{% macro default__cte_inlined() -%}{{ return('') }}{%- endmacro %}
{#- DuckDB buffers a CTE read twice, and a large one spills past the memory cap; `not materialized` opts out. Used
    only where measured faster (docs/warehouses.md lists the models and their timings). -#}
{% macro duckdb__cte_inlined() -%}{{ return('not materialized') }}{%- endmacro %}

{#- A stable hash key over several columns: the hash of the columns as text joined by '|', '<null>' for a null (nulls
    and empty strings kept apart; no NUL byte: Postgres refuses it). -#}
{% macro surrogate_key(columns) -%}
    {%- set parts = [] -%}
    {%- for col in columns -%}
        {%- do parts.append("coalesce(cast(" ~ col ~ " as " ~ dbt.type_string() ~ "), '<null>')") -%}
    {%- endfor -%}
    {{ return(adapter.dispatch('surrogate_key')(parts)) }}
{%- endmacro %}
{% macro default__surrogate_key(parts) -%}
    {%- set separated = [] -%}
    {%- for part in parts -%}
        {%- do separated.append(part) -%}
        {%- if not loop.last %}{%- do separated.append("'|'") -%}{%- endif -%}
    {%- endfor -%}
    {{ return(dbt.hash(dbt.concat(separated))) }}
{%- endmacro %}
{#- DuckDB: the same text, joined in one concat_ws instead of a chain of ||, each of which builds a string of its own
    (half the key's cost: docs/performance-history.md). The parts are never null, so concat_ws skips nothing. -#}
{% macro duckdb__surrogate_key(parts) -%}
    {%- if parts | length == 1 -%}{{ return(dbt.hash(parts[0])) }}{%- endif -%}
    {{ return(dbt.hash("concat_ws('|', " ~ parts | join(", ") ~ ")")) }}
{%- endmacro %}

{#- Incremental facts replace their whole window: delete it first, then append the rebuilt rows. A day that a
    provider restated to nothing is therefore emptied too, which delete+insert on keys would miss. -#}
{% macro delete_window(date_column) -%}
    {%- if is_incremental() -%}
        delete from {{ this }} where {{ date_column }} between {{ window_start() }} and {{ window_end() }}
    {%- endif -%}
{%- endmacro %}

{#- Safe division: null (not an error, not zero) when the denominator is zero or null. -#}
{% macro safe_divide(numerator, denominator) -%}
    ({{ numerator }}) / nullif({{ denominator }}, 0)
{%- endmacro %}

{#- Staging's dedupe: one row per key, the latest bucket wins. The day leads the partition so that a date filter on
    a view above reaches the raw table. Adds a `row_rank` column the caller does not select. -#}
{% macro latest_rows(relation, key='row_key', day='bucket_date', order_by='bucket_start desc') -%}
    select *
    from (
        select
            *,
            row_number() over (partition by {{ day }}, {{ key }} order by {{ order_by }}) as row_rank
        from {{ relation }}
    ) as ranked
    where row_rank = 1
{%- endmacro %}

{#- 0 .. n-1 as column `n`, from a cross join of digits: portable, no generate_series. -#}
{% macro integer_series(n) -%}
    {%- set places = (n | string) | length -%}
    select
        {% for i in range(places) %}d{{ i }}.digit * {{ 10 ** i }}{% if not loop.last %} + {% endif %}{% endfor %} as n
    from
        {% for i in range(places) %}
        (select 0 as digit union all select 1 union all select 2 union all select 3 union all select 4
         union all select 5 union all select 6 union all select 7 union all select 8 union all select 9) as d{{ i }}
        {%- if not loop.last %} cross join{% endif %}
        {% endfor %}
    where {% for i in range(places) %}d{{ i }}.digit * {{ 10 ** i }}{% if not loop.last %} + {% endif %}{% endfor %} < {{ n }}
{%- endmacro %}

{#- A date literal from a var or a string. -#}
{% macro date_literal(value) -%}cast('{{ value }}' as date){%- endmacro %}

{#- A person as the marts show them: as is, or a stable pseudonym when var('pseudonymize_people') is on. The same
    person gets the same pseudonym in every mart (joins keep working); the salt keeps emails from being guessed back.
    Note: the salt appears in dbt's compiled SQL under target/, which stays on the machine that runs dbt. -#}
{% macro person_label(expr) -%}
    {%- if var('pseudonymize_people') | string | lower in ('true', '1', 'yes', 'on') -%}
        case when {{ expr }} is null then null else
            {{ dbt.concat(["'person-'", "substr(" ~ dbt.hash(dbt.concat(["lower(" ~ expr ~ ")", "'" ~ env_var('FINOPS_PSEUDONYM_SALT', '') ~ "'"])) ~ ", 1, 12)"]) }}
        end
    {%- else -%}
        {{ expr }}
    {%- endif -%}
{%- endmacro %}

{#- numerator / denominator rounded to `places`, null when the denominator is zero. Computed in decimals: Postgres
    has no round(double, places), and money should not pass through floating point anyway. -#}
{% macro rounded_ratio(numerator, denominator, places=2) -%}
    round(cast({{ numerator }} as {{ type_money() }}) / nullif(cast({{ denominator }} as {{ type_money() }}), 0), {{ places }})
{%- endmacro %}

{#- A JSON object from (key, SQL expression) pairs; null values are left out. Engine-specific, hence dispatched. -#}
{% macro json_object(pairs) -%}{{ return(adapter.dispatch('json_object')(pairs)) }}{%- endmacro %}
{% macro default__json_object(pairs) -%}
    json_strip_nulls(json_build_object({% for key, expr in pairs %}'{{ key }}', {{ expr }}{% if not loop.last %}, {% endif %}{% endfor %}))
{%- endmacro %}
{#- DuckDB's json_object keeps null values; a merge patch onto {} drops them (RFC 7396), as Postgres' strip does. -#}
{% macro duckdb__json_object(pairs) -%}
    cast(json_merge_patch('{}', json_object({% for key, expr in pairs %}'{{ key }}', {{ expr }}{% if not loop.last %}, {% endif %}{% endfor %}) ) as {{ dbt.type_string() }})
{%- endmacro %}
{#- Snowflake: object_construct leaves out pairs whose value is null; to_json makes the OBJECT text. -#}
{% macro snowflake__json_object(pairs) -%}
    to_json(object_construct({% for key, expr in pairs %}'{{ key }}', {{ expr }}{% if not loop.last %}, {% endif %}{% endfor %}))
{%- endmacro %}
{#- BigQuery: json_object keeps SQL nulls as JSON null, so json_strip_nulls drops them; to_json_string makes it text. -#}
{% macro bigquery__json_object(pairs) -%}
    to_json_string(json_strip_nulls(json_object({% for key, expr in pairs %}'{{ key }}', {{ expr }}{% if not loop.last %}, {% endif %}{% endfor %})))
{%- endmacro %}
{#- Spark SQL (Databricks): no json_object function; to_json of a named_struct, with null fields left out (said
    explicitly rather than relying on the session default spark.sql.jsonGenerator.ignoreNullFields). -#}
{% macro spark__json_object(pairs) -%}
    to_json(named_struct({% for key, expr in pairs %}'{{ key }}', {{ expr }}{% if not loop.last %}, {% endif %}{% endfor %}), map('ignoreNullFields', 'true'))
{%- endmacro %}
{% macro databricks__json_object(pairs) -%}{{ spark__json_object(pairs) }}{%- endmacro %}

{#- A UTC timestamp at the start of a day, from a date. -#}
{% macro day_start(date_expr) -%}cast({{ date_expr }} as {{ dbt.type_timestamp() }}){%- endmacro %}
