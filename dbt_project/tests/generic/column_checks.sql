{#- A model's not-null, not-negative and accepted-values column checks in one query, instead of a test node per
    column and check: a daily run at 10,000 developers spent more of dbt's time starting a few hundred tiny test
    nodes than running their queries. Each check stays a filtered count of its own (not one pass summing a CASE per
    check), so an engine that keeps column statistics answers it without reading the column: DuckDB skips row groups
    with no null or no negative value. Key columns have their own `primary_key` test, beside the column.
    Arguments: not_null (columns), not_negative (columns; nulls pass), accepted_values ({column: [values]}; nulls
    pass, values compared as strings, as dbt's accepted_values does). Fails with one row per failing check
    (column_name, failure, failing_rows); the failure count is the failing rows summed over the checks. A column name
    that is not all lower case is quoted (FOCUS's case-sensitive names, `quote: true` in their yml); others stay bare,
    as dbt writes them.
    read_once: true counts every check in one pass instead. For a view whose checked columns come out of joins,
    each filtered count would run the joins again (int_usage_attributed at 10,000 developers: 19.4 s -> 2.4 s).
    Measured per view, not a default: where the filters reach a table's columns through the view, the filtered
    counts skip row groups and one pass is slower (stg_cursor__usage_events: 13.9 s against 29.4 s). -#}
{% test column_checks(model, not_null=[], not_negative=[], accepted_values={}, read_once=false) %}
{{ config(fail_calc='coalesce(sum(failing_rows), 0)') }}
{#- (column, failure, the test of its value) -#}
{%- set checks = [] -%}
{%- for column in not_null -%}{%- do checks.append((column, 'is null', 'is null')) -%}{%- endfor -%}
{%- for column in not_negative -%}{%- do checks.append((column, 'is negative', '< 0')) -%}{%- endfor -%}
{%- for column, values in accepted_values.items() -%}
    {%- set listed = [] -%}
    {%- for value in values -%}{%- do listed.append(dbt.string_literal(value)) -%}{%- endfor -%}
    {%- do checks.append((column, 'is not one of ' ~ values | join(', '), 'not in (' ~ listed | join(', ') ~ ')')) -%}
{%- endfor -%}
{%- if not checks -%}
    {{ exceptions.raise_compiler_error("column_checks on " ~ model ~ ": give not_null, not_negative and/or accepted_values") }}
{%- endif %}
{#- each check's condition on a row -#}
{%- set conditions = [] -%}
{%- for column, failure, test in checks -%}
    {%- do conditions.append((adapter.quote(column) if column != column | lower else column) ~ ' ' ~ test) -%}
{%- endfor %}
{%- if read_once %}
with counted as (
    select
        {%- for column, failure, test in checks %}
        sum(case when {{ conditions[loop.index0] }} then 1 else 0 end)
            as failing_{{ loop.index }}{{ ',' if not loop.last }}
        {%- endfor %}
    from {{ model }}
)
select column_name, failure, failing_rows from (
    {%- for column, failure, test in checks %}
    select {{ dbt.string_literal(column) }} as column_name, {{ dbt.string_literal(failure) }} as failure,
           failing_{{ loop.index }} as failing_rows
    from counted
    {%- if not loop.last %}
    union all{% endif %}
    {%- endfor %}
) checked
where failing_rows > 0
{%- else %}
select column_name, failure, failing_rows from (
    {%- for column, failure, test in checks %}
    select {{ dbt.string_literal(column) }} as column_name, {{ dbt.string_literal(failure) }} as failure,
           count(*) as failing_rows
    from {{ model }}
    where {{ conditions[loop.index0] }}
    {%- if not loop.last %}
    union all{% endif %}
    {%- endfor %}
) checked
where failing_rows > 0
{%- endif %}
{% endtest %}
