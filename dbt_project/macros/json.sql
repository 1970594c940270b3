{#- Reading JSON text columns (FOCUS Tags, x_ columns): engine-specific, hence dispatched. -#}

{#- A whole select statement: one row per key of a JSON object column, with the row's id.
    Columns: entry_id (the value of `id_column`), entry_key (the key as written), entry_value (the value as text:
    strings unquoted, numbers and booleans as written, nested objects and arrays as JSON text, JSON null as null).
    A row whose JSON is null, empty or not an object gives no rows (never an error); rows without entries are not
    dropped by the caller as long as it left-joins these entries back to its rows. -#}
{% macro json_object_entries(relation, id_column, json_column) -%}
    {{ return(adapter.dispatch('json_object_entries')(relation, id_column, json_column)) }}
{%- endmacro %}

{#- Default (PostgreSQL): jsonb_each_text over the text parsed as jsonb; a value that is not an object is read as {}. -#}
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

{#- Snowflake: no jsonb_each; LATERAL FLATTEN over the parsed VARIANT. try_parse_json gives null for text that is not
    JSON, and a value that is not an object is flattened as null, which gives no rows. -#}
{% macro snowflake__json_object_entries(relation, id_column, json_column) -%}
    select
        source_rows.{{ id_column }} as entry_id,
        entries.key as entry_key,
        case
            when is_null_value(entries.value) then null
            when is_object(entries.value) or is_array(entries.value) then to_json(entries.value)
            else cast(entries.value as {{ dbt.type_string() }})
        end as entry_value
    from {{ relation }} as source_rows,
        lateral flatten(input => case
            when is_object(try_parse_json(source_rows.{{ json_column }})) then try_parse_json(source_rows.{{ json_column }})
        end) as entries
    where source_rows.{{ json_column }} is not null
{%- endmacro %}

{#- BigQuery: not implemented. GoogleSQL has no table function that turns a JSON object into key/value rows; the
    candidate (unnest(json_keys(parse_json(col), 1)) with a JSON subscript per key) is unverified here, so rather than
    read tags wrongly (and allocate FOCUS costs to the wrong team) the model that needs it fails to compile. -#}
{% macro bigquery__json_object_entries(relation, id_column, json_column) -%}
    {%- if execute -%}
        {{ exceptions.raise_compiler_error(
            "json_object_entries has no BigQuery implementation, and model " ~ (model.name if model is defined else "?")
            ~ " needs it (stg_focus_files__costs reads the FOCUS Tags JSON with it). See docs/warehouses.md.") }}
    {%- endif -%}
    select
        cast(null as {{ dbt.type_string() }}) as entry_id,
        cast(null as {{ dbt.type_string() }}) as entry_key,
        cast(null as {{ dbt.type_string() }}) as entry_value
    limit 0
{%- endmacro %}

{#- Spark SQL (Databricks): from_json into map<string,string> (strings unquoted, nested values as JSON text, JSON null
    as null; text that is not a JSON object gives null), exploded into rows; exploding null gives no rows. -#}
{% macro spark__json_object_entries(relation, id_column, json_column) -%}
    select
        source_rows.{{ id_column }} as entry_id,
        entries.entry_key,
        entries.entry_value
    from {{ relation }} as source_rows
        lateral view explode(from_json(source_rows.{{ json_column }}, 'map<string,string>')) entries as entry_key, entry_value
    where source_rows.{{ json_column }} is not null
{%- endmacro %}
{% macro databricks__json_object_entries(relation, id_column, json_column) -%}
    {{ spark__json_object_entries(relation, id_column, json_column) }}
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
