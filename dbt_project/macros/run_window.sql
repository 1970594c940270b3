{#- The window a run rebuilds: inclusive dates min_date..max_date.

    Where the dates come from, first found wins:
    1. dbt vars `min_date` / `max_date` (`dbt build --vars '{min_date: 2026-11-01, max_date: 2026-11-07}'` by hand,
       or a unit test's `overrides: vars:`);
    2. the environment's FINOPS_MIN_DATE / FINOPS_MAX_DATE, read when the node runs (Dagster and the bench pass the
       partition window this way);
    3. the whole history (1900-01-01..9999-12-31): a plain `dbt build` rebuilds everything.
    Why the environment: dbt re-parses the whole project whenever its command-line vars change, which a new window
    every day would cost (~4-8 s of a daily run), while an environment variable read only at execution time (never
    while parsing) leaves dbt's partial parsing valid. -#}
{% macro run_window_date(name, default) -%}
    {%- if var.has_var(name) -%}
        {{- return(var(name)) -}}
    {%- elif execute -%}
        {{- return(env_var('FINOPS_' ~ (name | upper), default) or default) -}}
    {%- else -%}
        {{- return(default) -}}
    {%- endif -%}
{%- endmacro %}

{#- The run window as SQL date literals. -#}
{% macro window_start() -%}
    {{- dbt.cast(dbt.string_literal(run_window_date('min_date', '1900-01-01')), api.Column.translate_type('date')) -}}
{%- endmacro %}
{% macro window_end() -%}
    {{- dbt.cast(dbt.string_literal(run_window_date('max_date', '9999-12-31')), api.Column.translate_type('date')) -}}
{%- endmacro %}

{#- Whether the run has a window (a var or the environment sets either date): a plain `dbt build` has none. -#}
{% macro has_run_window() -%}
    {#- `~ ''`: a var given on the command line may be a date, not text -#}
    {{- return((run_window_date('min_date', '') ~ '') != '' or (run_window_date('max_date', '') ~ '') != '') -}}
{%- endmacro %}

{#- A test's where text (a `where` config or sums_match's `compare_where`) may say __window_start__ and
    __window_end__: they become the run's window when the test runs. A `where` config is rendered while dbt parses,
    so it cannot call window_start() itself. -#}
{% macro with_run_window(sql_text) -%}
    {{- return(sql_text | replace('__window_start__', window_start()) | replace('__window_end__', window_end())) -}}
{%- endmacro %}

{#- dbt's own get_where_subquery (tests' `where` config), with the run window's placeholders filled in; the hook dbt
    documents for a where config computed at run time. -#}
{% macro get_where_subquery(relation) -%}
    {%- set where = config.get('where', '') -%}
    {%- if where -%}
        {%- set filtered -%}
            (select * from {{ relation }} where {{ with_run_window(where) }}) dbt_subquery
        {%- endset -%}
        {%- do return(filtered) -%}
    {%- else -%}
        {%- do return(relation) -%}
    {%- endif -%}
{%- endmacro %}
