{#- Sprints are sprint_length_days long, counted from sprint_anchor_date (Sprint 1 starts on it; days before it count
    backwards). dim_dates gives every day its sprint with these; the incremental sprint totals apply them to the run's
    window, a constant expression the engine folds, so that its date filter reaches the inputs' scans. -#}
{% macro sprint_number(date_expression) -%}
    cast(floor(1.0 * {{ dbt.datediff(date_literal(var('sprint_anchor_date')), date_expression, 'day') }}
        / {{ var('sprint_length_days') | int }}) as {{ dbt.type_int() }})
{%- endmacro %}

{#- The first (offset_days 0) or the last (offset_days sprint_length_days - 1) day of the sprint holding a date. -#}
{% macro sprint_day(date_expression, offset_days=0) -%}
    cast({{ dbt.dateadd('day', sprint_number(date_expression) ~ ' * ' ~ (var('sprint_length_days') | int)
        ~ ' + ' ~ offset_days, date_literal(var('sprint_anchor_date'))) }} as date)
{%- endmacro %}
