{{
    config(
        materialized='incremental',
        incremental_strategy=append_strategy(),
        pre_hook="{{ delete_rebuilt_periods('period_start', 'month', 1) }}",
        on_schema_change='fail',
    )
}}
-- Rule team_monthly_change: one row per team x month whose billed spend to date rose on the same days of the month
-- before (all of the team's spend, as team_weekly_change).
--
-- The current month is compared to date: its first n days (n = the days it has so far) against the first n days of the
-- month before (all of it when that month is shorter); a past month whole against the whole month before. A month is
-- tested only when the month before lies wholly inside the ledger's history. A finding when the rise is above
-- var('anomaly_monthly_change_pct') (strictly) and at least var('anomaly_monthly_change_min_usd') (inclusive).
{{ team_period_change('month', var('anomaly_monthly_change_pct'), var('anomaly_monthly_change_min_usd')) }}
