{#- A mart's row count (and its billed spend where it has some), logged once the mart is built, for the Dagster
    asset's page: the dbt asset (orchestration/assets/transform.py) attaches it to the mart's materialization.
    Read inside the build, on dbt's own connection: DuckDB has one writer, so reading the marts from another
    process had to wait for the end of the build and held every mart's events (and its tests') until then (~3 s at
    10,000 developers). Only when the dbt asset asks (FINOPS_MART_FIGURES=1): a `dbt build` by hand reads nothing
    more. A post-hook of every model and seed in the marts schema (dbt_project.yml). Whether a mart has spend is
    read from its yml's columns (every mart documents its columns; the end-to-end test checks that each documented
    column is in the table): asking the warehouse for the table's columns cost ~2 s of node time at 10,000
    developers, the queries themselves ~0.5 s. -#}
{% macro log_mart_figures() -%}
    {%- if execute and env_var('FINOPS_MART_FIGURES', '') == '1' -%}
        {%- set names = model.columns.keys() | map('lower') | list -%}
        {%- set spend = 'billed_cost_usd' in names -%}
        {%- set result = run_query('select count(*)' ~ (', sum(billed_cost_usd)' if spend else '') ~ ' from ' ~ this) -%}
        {%- set figures = {'dagster/row_count': result.rows[0][0] | int} -%}
        {%- if spend -%}
            {%- do figures.update({'billed_cost_usd_total': (result.rows[0][1] or 0) | float}) -%}
        {%- endif -%}
        {%- do log('finops-mart-figures ' ~ tojson(figures), info=True) -%}
    {%- endif -%}
{%- endmacro %}
