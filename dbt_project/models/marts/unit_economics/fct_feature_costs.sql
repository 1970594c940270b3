-- One row per feature (Jira epic, or '(no epic)') x month: the AI cost attributed to it.
--
-- Method (documented in README, "Cost per feature"): each person's AI cost on a day is shared equally among the
-- work items they had in flight that day: tickets assigned to them (created .. resolved) and pull requests they
-- authored (opened .. merged), each at most work_item_max_days days. A pull request belongs to the epic of a ticket
-- it names. What no item explains (a person-day with no work in flight, and all service or unowned spend) is not
-- attributed; fct_feature_attribution shows how much that is.
-- The sums per month are kept incrementally (int_feature_costs_monthly); a table rebuilt whole every run from them,
-- so that an epic renamed since shows its name of today in every month.
with

monthly as (

    select * from {{ ref('int_feature_costs_monthly') }}

),

epics as (

    select epic_key, max(epic_name) as epic_name
    from {{ ref('stg_jira__issues') }}
    where epic_key is not null
    group by epic_key

)

select
    {{ surrogate_key(['monthly.feature_key', 'monthly.month_start']) }} as feature_month_key,
    monthly.feature_key,
    coalesce(epics.epic_name, case when monthly.feature_key = '(no epic)' then 'Work without an epic' end)
        as feature_name,
    monthly.month_start,
    monthly.attributed_ai_cost_usd,
    monthly.people,
    monthly.teams,
    monthly.first_day,
    monthly.last_day
from monthly
left join epics on epics.epic_key = monthly.feature_key
