{#- Layer schemas are named plainly (staging, intermediate, marts) rather than prefixed with the target schema, so
    analysts find `marts.fct_ai_usage_daily` in every warehouse. -#}
{% macro generate_schema_name(custom_schema_name, node) -%}
    {%- if custom_schema_name is none -%}{{ target.schema }}{%- else -%}{{ custom_schema_name | trim }}{%- endif -%}
{%- endmacro %}
