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

{#- BigQuery: GoogleSQL has no table function from a JSON object to key/value rows; json_keys(parsed, 1) lists the
    top-level keys (an array unnested into rows; null for text that is not JSON or JSON that is not an object, which
    unnests to no rows) and a subscript reads each key's value. json_keys writes a key holding characters JSONPath
    reserves (a dot, ...) between double quotes; when the key as listed is not in the object, the quotes are taken off.
    The value as text: json_value gives a string unquoted and a number or boolean as written, null for JSON null and
    for an object or array, which to_json_string writes out. Written to GoogleSQL's documentation, not run here. -#}
{% macro bigquery__json_object_entries(relation, id_column, json_column) -%}
    select
        keyed.entry_id,
        keyed.entry_key,
        coalesce(
            json_value(keyed.parsed[keyed.entry_key]),
            case
                when json_type(keyed.parsed[keyed.entry_key]) in ('object', 'array')
                    then to_json_string(keyed.parsed[keyed.entry_key])
            end
        ) as entry_value
    from (
        select
            parsed_rows.entry_id,
            parsed_rows.parsed,
            case
                when parsed_rows.parsed[listed_key] is null
                    and starts_with(listed_key, '"') and ends_with(listed_key, '"') and length(listed_key) > 1
                    then substr(listed_key, 2, length(listed_key) - 2)
                else listed_key
            end as entry_key
        from (
            select
                source_rows.{{ id_column }} as entry_id,
                safe.parse_json(source_rows.{{ json_column }}, wide_number_mode => 'round') as parsed
            from {{ relation }} as source_rows
            where source_rows.{{ json_column }} is not null
        ) as parsed_rows
        cross join unnest(
            case when json_type(parsed_rows.parsed) = 'object' then json_keys(parsed_rows.parsed, 1) end
        ) as listed_key
    ) as keyed
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
