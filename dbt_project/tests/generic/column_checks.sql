{#- A model's not-null, not-negative and accepted-values column checks in one query and one scan, instead of a test
    node per column and check: a daily run at 10,000 developers spent more of dbt's time starting a few hundred tiny
    test nodes than running their queries. Key columns have their own `primary_key` test, beside the column.
    Arguments: not_null (columns), not_negative (columns; nulls pass), accepted_values ({column: [values]}; nulls
    pass, values compared as strings, as dbt's accepted_values does). Fails with one row per failing check
    (column_name, failure, failing_rows); the failure count is the failing rows summed over the checks. A column name
    that is not all lower case is quoted (FOCUS's case-sensitive names, `quote: true` in their yml); others stay bare,
    as dbt writes them. -#}
{% test column_checks(model, not_null=[], not_negative=[], accepted_values={}) %}
{{ config(fail_calc='coalesce(sum(failing_rows), 0)') }}
{%- set checks = [] -%}
{%- for column in not_null -%}
    {%- set name = adapter.quote(column) if column != column | lower else column -%}
    {%- do checks.append((column, 'is null', name ~ ' is null')) -%}
{%- endfor -%}
{%- for column in not_negative -%}
    {%- set name = adapter.quote(column) if column != column | lower else column -%}
    {%- do checks.append((column, 'is negative', name ~ ' < 0')) -%}
{%- endfor -%}
{%- for column, values in accepted_values.items() -%}
    {%- set name = adapter.quote(column) if column != column | lower else column -%}
    {%- set listed = [] -%}
    {%- for value in values -%}{%- do listed.append(dbt.string_literal(value)) -%}{%- endfor -%}
    {%- do checks.append((column, 'is not one of ' ~ values | join(', '), name ~ ' not in (' ~ listed | join(', ') ~ ')')) -%}
{%- endfor -%}
{%- if not checks -%}
    {{ exceptions.raise_compiler_error("column_checks on " ~ model ~ ": give not_null, not_negative and/or accepted_values") }}
{%- endif %}
with counts as (
    select
    {%- for column, failure, condition in checks %}
        sum(case when {{ condition }} then 1 else 0 end) as check_{{ loop.index }}{{ ',' if not loop.last }}
    {%- endfor %}
    from {{ model }}
), checks as (
    {%- for column, failure, condition in checks %}
    select {{ loop.index }} as check_id, {{ dbt.string_literal(column) }} as column_name,
           {{ dbt.string_literal(failure) }} as failure
    {%- if not loop.last %} union all{% endif %}
    {%- endfor %}
), failures as (
    select checks.column_name, checks.failure,
           case checks.check_id
           {%- for check in checks %}
               when {{ loop.index }} then counts.check_{{ loop.index }}
           {%- endfor %}
           end as failing_rows
    from counts cross join checks
)
select column_name, failure, failing_rows from failures where failing_rows > 0
{% endtest %}
