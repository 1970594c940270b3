{#- Period rollups (day, week, month) rebuilt incrementally: a run's window touches its days, the weeks and the
    months that contain them. Everything from the Monday on or before the first day of the window's first month is
    rebuilt: every week and month that overlaps the window starts on or after it, and every period starting on or
    after it is complete in the ledger rows from that day on. -#}
{% macro period_rebuild_start() -%}
    cast({{ dbt.date_trunc('week', dbt.date_trunc('month', window_start())) }} as date)
{%- endmacro %}

{% macro delete_periods_from_rebuild_start() -%}
    {%- if is_incremental() -%}
        delete from {{ this }} where period_start >= {{ period_rebuild_start() }}
    {%- endif -%}
{%- endmacro %}
