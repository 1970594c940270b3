-- int_team_period_totals keeps the periods it built: each sprint row's period must be a sprint of today's calendar
-- (FINOPS_SPRINT_ANCHOR, FINOPS_SPRINT_DAYS). After a change to either, a daily run would add the new sprints beside
-- the old ones in fct_unit_economics; this fails instead. Rebuild them with
-- `dbt build --full-refresh --select int_team_period_totals+`. Returns the sprint rows that disagree.
{{ config(meta={'dagster': {'ref': {'name': 'int_team_period_totals'}}}) }}

select period_type, period_start, team_id
from {{ ref('int_team_period_totals') }}
where period_type = 'sprint'
    and period_start <> {{ sprint_day('period_start') }}
