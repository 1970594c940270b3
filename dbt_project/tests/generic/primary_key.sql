{#- The column is the model's key: no value twice and none null (dbt's unique + not_null in one scan and one test node;
    delivery/lookml.py reads it as the table's primary key). Fails with the duplicated values and the null group
    (primary_key_failures in macros/primary_key.sql). hash_first: on DuckDB, find them through the values' hashes
    first, for large tables and plain staging views (see there). -#}
{% test primary_key(model, column_name, hash_first=false) %}
{{ adapter.dispatch('primary_key_failures')(model, column_name, hash_first) }}
{% endtest %}
