{#- Order statistics as aggregate functions. Engines spell them differently (DuckDB: quantile_cont / median;
    PostgreSQL, Snowflake, Redshift: the ordered-set aggregate percentile_cont ... within group; Databricks: percentile;
    BigQuery: none, see bigquery__percentile), hence dispatched.
    They are aggregates, not window functions (PostgreSQL has no windowed percentile_cont): a trailing median is a join
    of each tested period to its history rows, grouped. The result is cast to the money type, so every engine returns
    the same digits (PostgreSQL computes percentile_cont in double precision).

    percentile(expr, fraction): the continuous (interpolated) percentile of expr over the group's rows; nulls ignored.
    median(expr): percentile(expr, 0.5) - with an even count, the mean of the two middle values. -#}

{% macro percentile(expr, fraction) -%}
    {{ return(adapter.dispatch('percentile')(expr, fraction)) }}
{%- endmacro %}

{#- PostgreSQL's spelling; Snowflake takes it deliberately (percentile_cont ... within group is an aggregate there). -#}
{% macro default__percentile(expr, fraction) -%}
    cast(percentile_cont({{ fraction }}) within group (order by {{ expr }}) as {{ type_money() }})
{%- endmacro %}

{% macro postgres__percentile(expr, fraction) -%}
    cast(percentile_cont({{ fraction }}) within group (order by cast({{ expr }} as double precision)) as {{ type_money() }})
{%- endmacro %}

{% macro duckdb__percentile(expr, fraction) -%}
    cast(quantile_cont({{ expr }}, {{ fraction }}) as {{ type_money() }})
{%- endmacro %}

{#- BigQuery: percentile_cont is an analytic (window) function only, and approx_quantiles is approximate, so the
    aggregate interpolates by hand between the two neighbouring values of the group's sorted array (exact, the same
    rule as percentile_cont; null for an empty group; memory grows with the group's row count). -#}
{% macro bigquery__percentile(expr, fraction) -%}
    {%- set value = "cast(" ~ expr ~ " as bignumeric)" -%}
    {%- set sorted = "array_agg(" ~ value ~ " ignore nulls order by " ~ value ~ ")" -%}
    {%- set position = "(cast(" ~ fraction ~ " as bignumeric) * (count(" ~ expr ~ ") - 1))" -%}
    {%- set below = sorted ~ "[safe_offset(cast(floor(" ~ position ~ ") as int64))]" -%}
    {%- set above = sorted ~ "[safe_offset(cast(ceil(" ~ position ~ ") as int64))]" -%}
    cast({{ below }} + ({{ above }} - {{ below }}) * ({{ position }} - floor({{ position }})) as {{ type_money() }})
{%- endmacro %}

{#- Spark SQL (Databricks): percentile(expr, fraction) is the exact, interpolating aggregate; it works in doubles,
    as PostgreSQL's percentile_cont does. -#}
{% macro spark__percentile(expr, fraction) -%}
    cast(percentile(cast({{ expr }} as double), {{ fraction }}) as {{ type_money() }})
{%- endmacro %}
{% macro databricks__percentile(expr, fraction) -%}{{ spark__percentile(expr, fraction) }}{%- endmacro %}

{% macro median(expr) -%}{{ percentile(expr, 0.5) }}{%- endmacro %}
