{#- Reading JSON text columns (FOCUS Tags, x_ columns): engine-specific, hence dispatched. -#}

{#- A whole select statement: one row per key of a JSON object column, with the row's id.
    Columns: entry_id (the value of `id_column`), entry_key (the key as written), entry_value (the value as text:
    strings unquoted, numbers and booleans as written, nested objects and arrays as JSON text, JSON null as null).
    A row whose JSON is null, empty or not an object gives no rows (never an error); rows without entries are not
    dropped by the caller as long as it left-joins these entries back to its rows. -#}
{% macro json_object_entries(relation, id_column, json_column) -%}
    {{ return(adapter.dispatch('json_object_entries')(relation, id_column, json_column)) }}
{%- endmacro %}

{#- Postgres: jsonb_each_text over the text parsed as jsonb; a value that is not an object is read as {}. -#}
{% macro default__json_object_entries(relation, id_column, json_column) -%}
    select
        source_rows.{{ id_column }} as entry_id,
        entries.key as entry_key,
        entries.value as entry_value
    from {{ relation }} as source_rows
    cross join lateral jsonb_each_text(
        case
            when jsonb_typeof(cast(source_rows.{{ json_column }} as jsonb)) = 'object'
                then cast(source_rows.{{ json_column }} as jsonb)
            else cast('{}' as jsonb)
        end
    ) as entries
    where source_rows.{{ json_column }} is not null
{%- endmacro %}

{#- DuckDB: json_each (its value is JSON; ->> '$' gives the text of a scalar, the JSON text of the rest). -#}
{% macro duckdb__json_object_entries(relation, id_column, json_column) -%}
    select
        source_rows.{{ id_column }} as entry_id,
        entries.key as entry_key,
        entries.value ->> '$' as entry_value
    from {{ relation }} as source_rows
    cross join lateral json_each(
        case
            when json_type(cast(source_rows.{{ json_column }} as json)) = 'OBJECT'
                then cast(source_rows.{{ json_column }} as json)
            else cast('{}' as json)
        end
    ) as entries
    where source_rows.{{ json_column }} is not null
{%- endmacro %}

{#- A list var that may be given as a YAML list or as comma-separated text ("team,owner"), lower-cased and trimmed. -#}
{% macro list_var(name, default) -%}
    {%- set value = var(name, default) -%}
    {%- if value is string -%}
        {%- set value = value.split(',') -%}
    {%- endif -%}
    {%- set out = [] -%}
    {%- for item in value -%}
        {%- if (item | string | trim) -%}{%- do out.append(item | string | trim | lower) -%}{%- endif -%}
    {%- endfor -%}
    {{ return(out) }}
{%- endmacro %}
