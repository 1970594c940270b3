{#- Period rollups (day, week, month) rebuilt incrementally: a run's window (min_date..max_date) changes the
    ledger's days in it, so it rebuilds those days, the weeks and the months that overlap it - nothing else. The weeks
    and months add up day rows from period_rebuild_start(): the Monday on or before the first day of the window's
    first month, the first day of every week and month that overlaps the window. -#}
{% macro period_rebuild_start() -%}
    cast({{ dbt.date_trunc('week', dbt.date_trunc('month', window_start())) }} as date)
{%- endmacro %}

{#- The rollup periods a run rebuilds (the pre-hook deletes them; the model inserts them again): the days, weeks and
    months overlapping the window - is_rebuilt_period below with no baseline. -#}
{% macro is_rebuilt_rollup(period_type, period_start) -%}
    (({{ period_type }} = 'day' and {{ is_rebuilt_period(period_start, 'day', 0) }})
        or ({{ period_type }} = 'week' and {{ is_rebuilt_period(period_start, 'week', 0) }})
        or ({{ period_type }} = 'month' and {{ is_rebuilt_period(period_start, 'month', 0) }}))
{%- endmacro %}

{% macro delete_rebuilt_rollups() -%}
    {%- if is_incremental() -%}
        delete from {{ this }} where {{ is_rebuilt_rollup('period_type', 'period_start') }}
    {%- endif -%}
{%- endmacro %}

{#- Incremental anomaly rules. A rule's finding for a period depends on the ledger in that period and in the
    `lookback` periods before it (its baseline). A run whose window (min_date..max_date) rebuilt ledger days
    therefore rebuilds the periods that overlap the window or hold it in their baseline, reading the ledger from
    `lookback` periods before the window's first period. In the daily schedule the periods after the window lie in
    the future, so only the window's own periods are rebuilt; a backfill of an old window also refreshes the findings
    whose baselines it changed. grain: 'day', 'week' or 'month'; lookback: how many of those periods a baseline spans.
    The upper bound subtracts from the column (never adds to max_date, which may be 9999-12-31). -#}
{% macro rebuilt_period_start(grain) -%}
    cast({{ dbt.date_trunc(grain, window_start()) }} as date)
{%- endmacro %}

{% macro rebuilt_data_start(grain, lookback) -%}
    cast({{ dbt.dateadd(grain, -lookback, dbt.date_trunc(grain, window_start())) }} as date)
{%- endmacro %}

{% macro is_rebuilt_period(column, grain, lookback) -%}
    ({{ column }} >= {{ rebuilt_period_start(grain) }}
        and {% if lookback == 0 %}{{ column }}{% else %}cast({{ dbt.dateadd(grain, -lookback, column) }} as date){% endif %}
            <= {{ window_end() }})
{%- endmacro %}

{% macro delete_rebuilt_periods(column, grain, lookback) -%}
    {%- if is_incremental() -%}
        delete from {{ this }} where {{ is_rebuilt_period(column, grain, lookback) }}
    {%- endif -%}
{%- endmacro %}

{#- The person-days int_person_feature_cost_daily rebuilds in a run: every day of the window (the ledger's days
    changed), and each day in flight of a work item that changed in the window (int_work_item_spans'
    last_changed_date: a ticket resolved, a pull request merged, or a ticket a pull request names resolved). An item
    finishing today puts up to work_item_max_days of its past in flight, and a ticket resolved after the pull request
    that names it gives that pull request's days an epic. Nothing else changes a person-day's shares, with two
    exceptions kept as the ledger keeps its lines: a directory fix applies to the days rebuilt after it, and a ticket
    reassigned after it was resolved (loaded again within the lookback) leaves its share on the former assignee's
    days before the window until those are rebuilt. The columns are the outer query's: the subquery's own are named
    apart from them so that the reference is not captured, on every engine. -#}
{% macro is_feature_cost_rebuilt(person_column, day_column) -%}
    ({{ day_column }} between {{ window_start() }} and {{ window_end() }}
        or exists (
            select 1
            from (
                select {{ person_label('person_email') }} as changed_person, span_start as changed_from,
                    span_end as changed_to
                from {{ ref('int_work_item_spans') }}
                where last_changed_date between {{ window_start() }} and {{ window_end() }}
            ) as changed_items
            where changed_items.changed_person = {{ person_column }}
                and {{ day_column }} between changed_items.changed_from and changed_items.changed_to
        ))
{%- endmacro %}

{#- Whether a week (its first day) is one whose kept row fct_ai_spend_by_period's rebuilt months add up in place of
    its seven day rows: a week the run does not rebuild (it ends before the window's first week or starts after the
    window), that lies within one month, and whose month the run rebuilds. Its row was built with its days and is
    their sum; the week row of a rebuilt week is not kept (the pre-hook deleted it), so its days are read instead. -#}
{% macro is_kept_whole_week(week_start) -%}
    (({{ week_start }} < {{ rebuilt_period_start('week') }} or {{ week_start }} > {{ window_end() }})
        and cast({{ dbt.date_trunc('month', week_start) }} as date)
            = cast({{ dbt.date_trunc('month', dbt.dateadd('day', 6, week_start)) }} as date)
        and {{ is_rebuilt_period('cast(' ~ dbt.date_trunc('month', week_start) ~ ' as date)', 'month', 0) }})
{%- endmacro %}

{#- The months int_feature_costs_monthly rebuilds in a run: every month holding a person-day that
    int_person_feature_cost_daily may have rebuilt (is_feature_cost_rebuilt above): a day of the window, or a day in
    flight of a work item that changed in it. Found from the calendar and the changed items' spans, not from the rows,
    so that a month whose person-days were deleted and not inserted again is rebuilt too. As a subquery of month starts;
    its own columns are named apart from the outer query's. -#}
{% macro feature_cost_rebuilt_months() -%}
    select distinct rebuilt_days.month_start
    from {{ ref('dim_dates') }} as rebuilt_days
    where rebuilt_days.date_day between {{ window_start() }} and {{ window_end() }}
        or exists (
            select 1
            from {{ ref('int_work_item_spans') }} as changed_items
            where changed_items.last_changed_date between {{ window_start() }} and {{ window_end() }}
                and rebuilt_days.date_day between changed_items.span_start and changed_items.span_end
        )
{%- endmacro %}

{#- The periods int_team_period_totals rebuilds in a run: of each type (week, month, sprint), the one holding the
    window's first day and every later one. Its inputs (the team spend, the person-days, the engineering output)
    change on no day before the window's first; the output rebuilds every day from it on, not only to its last.
    unit_period_rebuild_start(type): that period's first day, a constant expression the engine folds. -#}
{% macro unit_period_rebuild_start(period_type) -%}
    {%- if period_type == 'sprint' -%}
        {{ sprint_day(window_start()) }}
    {%- else -%}
        {{ rebuilt_period_start(period_type) }}
    {%- endif -%}
{%- endmacro %}

{% macro is_rebuilt_unit_period(type_column, start_column) -%}
    (({{ type_column }} = 'week' and {{ start_column }} >= {{ unit_period_rebuild_start('week') }})
        or ({{ type_column }} = 'month' and {{ start_column }} >= {{ unit_period_rebuild_start('month') }})
        or ({{ type_column }} = 'sprint' and {{ start_column }} >= {{ unit_period_rebuild_start('sprint') }}))
{%- endmacro %}

{#- A day a rebuilt period may hold: on or after the first day of one of them. -#}
{% macro is_in_rebuilt_unit_period(day_column) -%}
    ({{ day_column }} >= {{ unit_period_rebuild_start('week') }}
        or {{ day_column }} >= {{ unit_period_rebuild_start('month') }}
        or {{ day_column }} >= {{ unit_period_rebuild_start('sprint') }})
{%- endmacro %}
