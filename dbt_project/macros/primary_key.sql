{#- The primary_key test's failing rows (tests/generic/primary_key.sql): each value found more than once, with how
    often, and the null group. Dispatched: engines other than DuckDB group the values once, hash_first or not. -#}
{% macro default__primary_key_failures(model, column_name, hash_first) %}
select {{ column_name }} as key_value, count(*) as occurrences
from {{ model }}
group by {{ column_name }}
having count(*) > 1 or {{ column_name }} is null
{% endmacro %}

{#- DuckDB with hash_first: the same rows, found in two passes. Grouping tens of millions of text keys (a full build's
    ledger, Cursor's per-request events) is most of the test's cost; grouping their 64-bit hashes first was ~20-45%
    cheaper at L, windowed or not (docs/performance-history.md, stop 62). A duplicated value has a duplicated hash, so
    the second pass, which groups the values themselves, sees every duplicate; a hash that distinct values happen to
    share is only a candidate the second pass drops. The relation is read twice: worth it for a table or a staging
    view over one raw table (no join), not for a view that joins (an intermediate view read twice took twice as
    long), hence an argument and not the default. -#}
{% macro duckdb__primary_key_failures(model, column_name, hash_first) %}
{%- if not hash_first -%}
{{ default__primary_key_failures(model, column_name, hash_first) }}
{%- else -%}
{%- set candidate_rows -%}
(select * from {{ model }}
 where {{ column_name }} is null or hash({{ column_name }}) in (select key_hash from repeated_hashes)) as candidate_rows
{%- endset -%}
with repeated_hashes as (
    select hash({{ column_name }}) as key_hash
    from {{ model }}
    group by hash({{ column_name }})
    having count(*) > 1
)
{{ default__primary_key_failures(candidate_rows, column_name, hash_first) }}
{%- endif %}
{% endmacro %}
