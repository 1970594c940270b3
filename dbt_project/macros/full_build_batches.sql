{#- A full build a month at a time (DuckDB).

    The large incremental facts are built whole on their first run and on --full-refresh. In one statement DuckDB
    writes their rows in hash-aggregate order, so every row group holds days from the whole history and the daily
    runs' date filters skip none of them until the full build's rows are a month old (docs/performance-history.md).
    Built one calendar month after another, the table comes out in month order without a sort, each statement holds
    a month in memory rather than the history, and a daily run's filters skip the other months' row groups.

    How: where a model reads its input it says `where {{ input_window('usage_date') }}`: the run's window on an
    incremental run, and on a full build `full_build_batch('usage_date')`. That is `(1 = 1 /*...*/)`, a filter that
    keeps every row, carrying the column in a comment, so the model's SQL is the same whole-history build on every
    warehouse, in unit tests and in `dbt compile`. On DuckDB, the table's create
    (duckdb__create_table_as) finds these markers and runs the SQL once per batch, each marker replaced by that
    batch's range: a create, then an insert per later batch, in date order, in one transaction.

    Batches: the last `full_build_batch_months` calendar months (the run's month included) one each; everything
    before them in the first batch, with the rows whose date is null; the run's month and anything later in the last.
    So every row falls in exactly one batch whatever its date, and a history older than the horizon is still built,
    in one batch. `full_build_batch_months: 0` builds in one statement.

    spill_days: the batch also reads the spill_days days that follow it. A rollup that must see a whole week from a
    batch (fct_ai_spend_by_period) reads 6 days more and keeps the weeks that start in its month (a marker of its own
    on the week's first day); its days and its month keep to the month (markers without spill). -#}
{% macro full_build_batch(expression, spill_days=0) -%}
    (1 = 1 /*full_build_batch:{{ spill_days }}:{{ expression }}:full_build_batch*/)
{%- endmacro %}

{#- Where an incremental fact reads its input: the run's window on an incremental run, the full build's batch (with
    its spill) otherwise. -#}
{% macro input_window(column, spill_days=0) -%}
    {%- if is_incremental() -%}
        {{ column }} between {{ window_start() }} and {{ window_end() }}
    {%- else -%}
        {{ full_build_batch(column, spill_days) }}
    {%- endif -%}
{%- endmacro %}

{#- The batches of a full build started on `today`: a list of (start, end) ISO dates, start inclusive and end
    exclusive; none for an open end. -#}
{% macro full_build_batches(today, months) -%}
    {%- set current = today.year * 12 + today.month - 1 -%}
    {%- set cuts = [] -%}
    {%- for back in range(months - 1, -1, -1) -%}
        {%- set index = current - back -%}
        {%- do cuts.append('%04d-%02d-01' | format(index // 12, index % 12 + 1)) -%}
    {%- endfor -%}
    {%- set batches = [(none, cuts[0])] -%}
    {%- for cut in cuts[1:] -%}
        {%- do batches.append((cuts[loop.index0], cut)) -%}
    {%- endfor -%}
    {%- do batches.append((cuts[-1], none)) -%}
    {{- return(batches) -}}
{%- endmacro %}

{#- The model's SQL for one batch: every full_build_batch marker replaced by the batch's range. -#}
{% macro full_build_batch_sql(compiled_code, start, end) -%}
    {%- set opening, closing = '(1 = 1 /*full_build_batch:', ':full_build_batch*/)' -%}
    {%- set pieces = compiled_code.split(opening) -%}
    {%- set sql = [pieces[0]] -%}
    {%- for piece in pieces[1:] -%}
        {%- set marker, rest = piece.split(closing, 1) -%}
        {%- set spill_days, expression = marker.split(':', 1) -%}
        {%- set upper -%}
            date '{{ end }}'{% if spill_days | int > 0 %} + {{ spill_days | int }}{% endif %}
        {%- endset -%}
        {%- if start is none -%}
            {%- do sql.append('(' ~ expression ~ ' < ' ~ upper ~ ' or ' ~ expression ~ ' is null)') -%}
        {%- elif end is none -%}
            {%- do sql.append('(' ~ expression ~ " >= date '" ~ start ~ "')") -%}
        {%- else -%}
            {%- do sql.append('(' ~ expression ~ " >= date '" ~ start ~ "' and " ~ expression ~ ' < ' ~ upper ~ ')') -%}
        {%- endif -%}
        {%- do sql.append(rest) -%}
    {%- endfor -%}
    {{- return(sql | join('')) -}}
{%- endmacro %}

{#- The statements that build `relation` from the model's SQL a batch at a time: `create` (dbt-duckdb's own, for
    the first batch) then `insert` for each later one. None when the SQL has no marker or batching is off. -#}
{% macro full_build_in_batches(relation, compiled_code, language, partitioned_by, sorted_by) -%}
    {%- set months = var('full_build_batch_months', 13) | int -%}
    {%- if months <= 0 or '(1 = 1 /*full_build_batch:' not in compiled_code -%}
        {{- return(none) -}}
    {%- endif -%}
    {%- set statements = [] -%}
    {%- for start, end in full_build_batches(run_started_at.date(), months) -%}
        {%- set batch_sql = full_build_batch_sql(compiled_code, start, end) -%}
        {%- if loop.first -%}
            {%- set create = dbt.duckdb__create_table_as(false, relation, batch_sql, language, partitioned_by,
                                                         sorted_by) -%}
            {%- do statements.append(create.rstrip().rstrip(';')) -%}
        {%- else -%}
            {%- do statements.append('insert into ' ~ relation ~ ' select * from (\n' ~ batch_sql
                                     ~ '\n) as full_build_batch') -%}
        {%- endif -%}
    {%- endfor -%}
    {{- return(statements | join(';\n')) -}}
{%- endmacro %}
