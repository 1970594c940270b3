{#- Order statistics as aggregate functions. Engines spell them differently (DuckDB: quantile_cont / median;
    PostgreSQL, Snowflake, Redshift: the ordered-set aggregate percentile_cont ... within group), hence dispatched.
    They are aggregates, not window functions (PostgreSQL has no windowed percentile_cont): a trailing median is a join
    of each tested period to its history rows, grouped. The result is cast to the money type, so every engine returns
    the same digits (PostgreSQL computes percentile_cont in double precision).

    percentile(expr, fraction): the continuous (interpolated) percentile of expr over the group's rows; nulls ignored.
    median(expr): percentile(expr, 0.5) - with an even count, the mean of the two middle values. -#}

{% macro percentile(expr, fraction) -%}
    {{ return(adapter.dispatch('percentile')(expr, fraction)) }}
{%- endmacro %}

{% macro default__percentile(expr, fraction) -%}
    cast(percentile_cont({{ fraction }}) within group (order by {{ expr }}) as {{ type_money() }})
{%- endmacro %}

{% macro postgres__percentile(expr, fraction) -%}
    cast(percentile_cont({{ fraction }}) within group (order by cast({{ expr }} as double precision)) as {{ type_money() }})
{%- endmacro %}

{% macro duckdb__percentile(expr, fraction) -%}
    cast(quantile_cont({{ expr }}, {{ fraction }}) as {{ type_money() }})
{%- endmacro %}

{% macro median(expr) -%}{{ percentile(expr, 0.5) }}{%- endmacro %}
