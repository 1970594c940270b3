{{
    config(
        materialized='incremental',
        incremental_strategy=append_strategy(),
        pre_hook="{{ delete_rebuilt_periods('period_start', 'week', 1) }}",
        on_schema_change='fail',
    )
}}
-- Rule team_weekly_change: one row per team x week whose billed spend (all of it: usage, seats, shared costs - what
-- finance sees in fct_team_spend_daily) rose on the week before.
--
-- A week runs Monday to Sunday; the current week is compared to date (Monday .. the ledger's last day) against the same
-- weekdays of the week before, so the rule speaks from the first days of a week on. A week is tested only when the
-- week before lies wholly inside the ledger's history. A finding when the rise is above var('anomaly_weekly_change_pct')
-- (strictly; 0.5 = +50%) and at least var('anomaly_weekly_change_min_usd') (inclusive). A team with nothing the week
-- before (a new team) has no baseline: no finding.
{{ team_period_change('week', var('anomaly_weekly_change_pct'), var('anomaly_weekly_change_min_usd')) }}
