{#- DuckDB only: dbt-duckdb's own macros, overridden here (dbt looks in the root project first for a macro of dbt's
    namespace). -#}

{#- An incremental run first writes its new rows to a temporary table, reads that table's columns (schema change
    checks) and then copies it into the model's table. On DuckDB the temporary relation of an incremental SQL model
    is a view instead: the columns are the same, the rows are computed once, by the insert, and never held twice in
    memory (at 10,000 developers the FOCUS mart's window is 780,000 rows x 50 columns). Every other table dbt-duckdb
    creates, temporary or not, is its own. -#}
{% macro duckdb__create_table_as(temporary, relation, compiled_code, language='sql', partitioned_by=none, sorted_by=none) -%}
    {%- if temporary and language == 'sql' and config.get('materialized') == 'incremental' -%}
        create temporary view {{ relation.include(database=false, schema=false) }} as (
            {{ compiled_code }}
        )
    {%- else -%}
        {{ dbt.duckdb__create_table_as(temporary, relation, compiled_code, language, partitioned_by, sorted_by) }}
    {%- endif -%}
{%- endmacro %}
