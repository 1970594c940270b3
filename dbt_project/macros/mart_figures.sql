{#- A mart's row count (and its billed spend where it has some), logged once the mart is built, for the Dagster
    asset's page: the dbt asset (orchestration/assets/transform.py) attaches it to the mart's materialization.
    Read inside the build, on dbt's own connection: DuckDB has one writer, so reading the marts from another
    process had to wait for the end of the build and held every mart's events (and its tests') until then (~3 s at
    10,000 developers). Only when the dbt asset asks (FINOPS_MART_FIGURES=1): a `dbt build` by hand reads nothing
    more. A post-hook of every model and seed in the marts schema (dbt_project.yml). -#}
{% macro log_mart_figures() -%}
    {%- if execute and env_var('FINOPS_MART_FIGURES', '') == '1' -%}
        {%- set names = adapter.get_columns_in_relation(this) | map(attribute='name') | map('lower') | list -%}
        {%- set spend = 'billed_cost_usd' in names -%}
        {%- set result = run_query('select count(*)' ~ (', sum(billed_cost_usd)' if spend else '') ~ ' from ' ~ this) -%}
        {%- set figures = {'dagster/row_count': result.rows[0][0] | int} -%}
        {%- if spend -%}
            {%- do figures.update({'billed_cost_usd_total': (result.rows[0][1] or 0) | float}) -%}
        {%- endif -%}
        {%- do log('finops-mart-figures ' ~ tojson(figures), info=True) -%}
    {%- endif -%}
{%- endmacro %}
