-- One row per soft budget (the org directory's `budgets`) x month the ledger has spend in: how much the team (or
-- project) has spent so far, what it typically spends by this day of the month, where the run-rate takes it by the
-- month's end, and a status with a sentence a person reads. Soft: it informs, nothing is ever blocked.
--
-- Spend is billed spend from the ledger (fct_ai_usage_daily, read summed per owner and day from
-- int_ai_cost_by_owner_daily): a team budget counts every line the team owns (its
-- share of shared costs and seats included), a project budget every line on the project, whichever team's people
-- spent it. as_of_date is the ledger's latest day within the month (any team's spend), so a quiet team still sees the
-- month's elapsed days.
--
-- typical_to_date_usd: over the previous (up to three) full months the ledger covers from first to last day, the
--   mean share of the month's spend that had been spent by this day of the month (days 1..d; a month shorter than d
--   counts whole), times the mean of their monthly totals. Null without such a month; $0 when they all spent $0.
-- forecast_usd: the run-rate, spend_to_date / days_elapsed x days_in_month, where days_elapsed counts the days from
--   the 1st (or from the ledger's first day, when the ledger starts within the month) to as_of_date. Not blended with
--   the typical curve: a person can redo it by hand, and typical_to_date_usd sits beside it.
-- status: 'over' when spend to date is above the budget, or the forecast above budget_over_forecast_pct (1.10) of
--   it; else 'watch' when the forecast reaches budget_watch_forecast_pct (0.90) of it; else 'on_track'. (A separate
--   "80% spent with more than a week left" rule would never fire on its own: with a run-rate forecast, 80% spent
--   with 8 or more days left forecasts at least 0.8 x 31 / 23 = 108% of the budget, already 'watch'.)
{%- set over_forecast = var('budget_over_forecast_pct', 1.10) -%}
{%- set watch_forecast = var('budget_watch_forecast_pct', 0.90) -%}
{%- set history_months = var('budget_history_months', 3) %}

with

budgets as (

    select * from {{ ref('stg_org__budgets') }}

),

teams as (

    select * from {{ ref('dim_teams') }}

),

projects as (

    select * from {{ ref('dim_projects') }}

),

ledger as (

    -- the ledger summed per owner and day (int_ai_cost_by_owner_daily: every line, kept incrementally beside it)
    select usage_date, team_id, project_id, billed_cost_usd from {{ ref('int_ai_cost_by_owner_daily') }}

),

bounds as (

    select min(usage_date) as first_day, max(usage_date) as last_day from ledger

),

-- the months the ledger has spend in, each with its first and latest day
months as (

    select
        month_start,
        min(usage_date) as first_date,
        max(usage_date) as as_of_date,
        cast({{ dbt.dateadd('month', 1, 'month_start') }} as date) as next_month_start
    from (
        select usage_date, cast({{ dbt.date_trunc('month', 'usage_date') }} as date) as month_start
        from ledger
    ) as days
    group by month_start

),

-- months the ledger covers from their first to their last day: the history "typical" learns from
full_months as (

    select months.month_start, months.next_month_start
    from months
    cross join bounds
    where bounds.first_day <= months.month_start
        and bounds.last_day >= cast({{ dbt.dateadd('day', -1, 'months.next_month_start') }} as date)

),

team_daily as (

    select team_id, usage_date, sum(billed_cost_usd) as billed
    from ledger
    group by team_id, usage_date

),

project_daily as (

    select project_id, usage_date, sum(billed_cost_usd) as billed
    from ledger
    group by project_id, usage_date

),

-- each budget's spend per day: a team budget the team's lines, a project budget the project's
budget_daily as (

    select budgets.budget_id, team_daily.usage_date, team_daily.billed
    from budgets
    inner join team_daily
        on budgets.project_id is null
        and team_daily.team_id = budgets.team_id
    union all
    select budgets.budget_id, project_daily.usage_date, project_daily.billed
    from budgets
    inner join project_daily
        on project_daily.project_id = budgets.project_id

),

budget_months as (

    select
        budgets.budget_id,
        budgets.team_id,
        budgets.project_id,
        budgets.usd_per_month,
        months.month_start,
        months.next_month_start,
        months.first_date,
        months.as_of_date,
        cast(extract(day from months.as_of_date) as {{ dbt.type_int() }}) as day_of_month,
        -- the days the ledger covers: from the 1st, or from the ledger's first day when it starts within the month
        cast({{ dbt.datediff('months.first_date', 'months.as_of_date', 'day') }} + 1 as {{ dbt.type_int() }})
            as days_elapsed,
        cast({{ dbt.datediff('months.month_start', 'months.next_month_start', 'day') }} as {{ dbt.type_int() }})
            as days_in_month
    from budgets
    inner join months
        on (budgets.valid_from_month is null or months.month_start >= budgets.valid_from_month)
        and (budgets.valid_to_month is null or months.month_start <= budgets.valid_to_month)

),

spend as (

    select
        budget_months.budget_id,
        budget_months.month_start,
        coalesce(sum(budget_daily.billed), 0) as spend_to_date
    from budget_months
    left join budget_daily
        on budget_daily.budget_id = budget_months.budget_id
        and budget_daily.usage_date >= budget_months.month_start
        and budget_daily.usage_date <= budget_months.as_of_date
    group by budget_months.budget_id, budget_months.month_start

),

-- per budget month, each of the previous (up to three) full months: spent by the same day of the month, and in all
history as (

    select
        budget_months.budget_id,
        budget_months.month_start,
        full_months.month_start as history_month,
        coalesce(sum(case
            when extract(day from budget_daily.usage_date) <= budget_months.day_of_month
                then budget_daily.billed
            else 0
        end), 0) as spent_by_day,
        coalesce(sum(budget_daily.billed), 0) as spent_in_month
    from budget_months
    inner join full_months
        on full_months.month_start < budget_months.month_start
        and full_months.month_start >= cast({{ dbt.dateadd('month', -history_months, 'budget_months.month_start') }} as date)
    left join budget_daily
        on budget_daily.budget_id = budget_months.budget_id
        and budget_daily.usage_date >= full_months.month_start
        and budget_daily.usage_date < full_months.next_month_start
    group by budget_months.budget_id, budget_months.month_start, full_months.month_start

),

typical as (

    select
        budget_id,
        month_start,
        count(*) as history_month_count,
        -- a month without spend has no share (it says nothing about the curve); it still counts in the mean total
        avg({{ safe_divide('spent_by_day', 'spent_in_month') }}) as typical_share,
        avg(spent_in_month) as typical_month
    from history
    group by budget_id, month_start

),

measured as (

    select
        budget_months.*,
        spend.spend_to_date,
        budget_months.days_in_month - budget_months.day_of_month as days_left,
        typical.history_month_count,
        typical.typical_month,
        case
            when typical.history_month_count is null then null
            when typical.typical_month = 0 then 0
            else typical.typical_share * typical.typical_month
        end as typical_to_date,
        -- multiplied before dividing: the days elapsed are at least one
        spend.spend_to_date * budget_months.days_in_month / budget_months.days_elapsed as forecast
    from budget_months
    inner join spend
        on spend.budget_id = budget_months.budget_id
        and spend.month_start = budget_months.month_start
    left join typical
        on typical.budget_id = budget_months.budget_id
        and typical.month_start = budget_months.month_start

),

classified as (

    select
        measured.*,
        spend_to_date / usd_per_month as pct_of_budget,
        forecast / usd_per_month as forecast_pct_of_budget,
        case
            when spend_to_date > usd_per_month or forecast > {{ over_forecast }} * usd_per_month then 'over'
            when forecast >= {{ watch_forecast }} * usd_per_month then 'watch'
            else 'on_track'
        end as status
    from measured

),

named as (

    select
        classified.*,
        case
            when classified.project_id is null then teams.team_name
            else {{ dbt.concat(['projects.project_name', "' ('", 'teams.team_name', "')'"]) }}
        end as budget_name,
        {{ month_name_text('classified.month_start') }} as month_name
    from classified
    left join teams
        on teams.team_id = classified.team_id
    left join projects
        on projects.project_id = classified.project_id

)

select
    {{ surrogate_key(['budget_id', 'month_start']) }} as budget_key,
    budget_id,
    budget_name,
    as_of_date,
    month_start,
    team_id,
    project_id,
    {{ money('usd_per_month') }} as budget_usd,
    {{ money('spend_to_date') }} as spend_to_date_usd,
    {{ money('round(typical_to_date, 2)') }} as typical_to_date_usd,
    {{ money('round(typical_month, 2)') }} as typical_month_usd,
    {{ money('round(forecast, 2)') }} as forecast_usd,
    cast(round(pct_of_budget, 4) as decimal(18, 4)) as pct_of_budget,
    cast(round(forecast_pct_of_budget, 4) as decimal(18, 4)) as forecast_pct_of_budget,
    status,
    first_date as covered_from_date,
    days_elapsed,
    days_in_month,
    days_left,
    case
        when days_left = 0 then
            {{ dbt.concat([
                'budget_name', "' spent '", grouped_usd_text('spend_to_date', cents=false), "' of its '",
                grouped_usd_text('usd_per_month', cents=false), "' budget in '", 'month_name', "' ('",
                whole_percent_text('pct_of_budget'), "')'",
                "case status when 'over' then ': over budget.' when 'watch' then ': close to the budget.'"
                    ~ " else ': within budget.' end",
            ]) }}
        else
            {{ dbt.concat([
                'budget_name', "' has spent '", grouped_usd_text('spend_to_date', cents=false), "' of its '",
                grouped_usd_text('usd_per_month', cents=false), "' budget ('", whole_percent_text('pct_of_budget'),
                "') with '", 'cast(days_left as ' ~ dbt.type_string() ~ ')',
                "case when days_left = 1 then ' day left' else ' days left' end",
                "'; at this pace it ends the month at '", grouped_usd_text('forecast', cents=false), "' ('",
                whole_percent_text('forecast_pct_of_budget'), "')'",
                "case when spend_to_date > usd_per_month then ': already over budget.'"
                    ~ " when status = 'over' then ', over budget.'"
                    ~ " when status = 'watch' then ', close to the budget.' else ', on track.' end",
                "case when typical_month > 0 then ' That is ' || "
                    ~ whole_percent_text('spend_to_date / typical_month')
                    ~ " || ' of its typical monthly spend (' || " ~ grouped_usd_text('typical_month', cents=false)
                    ~ " || '); by this day of the month it usually has spent ' || "
                    ~ grouped_usd_text('typical_to_date', cents=false) ~ " || '.' else '' end",
            ]) }}
    end
    || case
        when first_date > month_start then
            {{ dbt.concat([
                "' (The ledger starts on '", 'cast(first_date as ' ~ dbt.type_string() ~ ')', "' and holds '",
                'cast(days_elapsed as ' ~ dbt.type_string() ~ ')',
                "case when days_elapsed = 1 then ' day' else ' days' end",
                "' of the month; at their pace the month comes to '", grouped_usd_text('forecast', cents=false), "' ('",
                whole_percent_text('forecast_pct_of_budget'), "').)'",
            ]) }}
        else ''
    end as message
from named
