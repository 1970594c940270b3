-- One row per calendar day (vars calendar_start, calendar_days), with its ISO week, month and sprint.
-- Sprints are sprint_length_days long, counted from sprint_anchor_date (days before the anchor count backwards):
-- macros/sprints.sql.
{%- set length = var('sprint_length_days') | int %}

with

numbers as (

    {{ integer_series(var('calendar_days') | int) }}

),

days as (

    select cast({{ dbt.dateadd('day', 'n', date_literal(var('calendar_start'))) }} as date) as date_day
    from numbers

),

sprints as (

    select
        date_day,
        {{ sprint_number('date_day') }} as sprint_number
    from days

)

select
    date_day,
    cast({{ dbt.date_trunc('week', 'date_day') }} as date) as week_start,
    cast({{ dbt.date_trunc('month', 'date_day') }} as date) as month_start,
    sprint_number,
    {{ dbt.concat(["'Sprint '", dbt.cast('sprint_number + 1', dbt.type_string())]) }} as sprint_name,
    {{ sprint_day('date_day') }} as sprint_start,
    {{ sprint_day('date_day', length - 1) }} as sprint_end,
    {{ dbt.datediff(dbt.date_trunc('week', 'date_day'), 'date_day', 'day') }} >= 5 as is_weekend
from sprints
