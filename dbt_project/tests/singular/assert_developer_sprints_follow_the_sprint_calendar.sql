-- int_developer_sprint_totals keeps the sprints it built: each row's sprint must be a sprint of today's calendar
-- (FINOPS_SPRINT_ANCHOR, FINOPS_SPRINT_DAYS). After a change to either, a daily run would add the new sprints beside
-- the old ones and count their common days twice in fct_developer_unit_economics; this fails instead. Rebuild the
-- sprints with `dbt build --full-refresh --select int_developer_sprint_totals+`. Returns the rows that disagree.
{{ config(meta={'dagster': {'ref': {'name': 'int_developer_sprint_totals'}}}) }}
{%- set length = var('sprint_length_days') | int %}

select person_email, sprint_start, sprint_end
from {{ ref('int_developer_sprint_totals') }}
where sprint_start <> {{ sprint_day('sprint_start') }}
    or sprint_end <> {{ sprint_day('sprint_start', length - 1) }}
