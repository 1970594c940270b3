-- One row per feature (Jira epic, or '(no epic)') x month: the AI cost attributed to it.
--
-- Method (documented in README, "Cost per feature"): each person's AI cost on a day is shared equally among the
-- work items they had in flight that day: tickets assigned to them (created .. resolved) and pull requests they
-- authored (opened .. merged), each at most work_item_max_days days. A pull request belongs to the epic of a ticket
-- it names. What no item explains (a person-day with no work in flight, and all service or unowned spend) is not
-- attributed; fct_feature_attribution shows how much that is.
with

shares as (

    select * from {{ ref('int_person_feature_cost_daily') }}
    where feature_key <> '(unattributed)'

),

dates as (

    select * from {{ ref('dim_dates') }}

),

epics as (

    select epic_key, max(epic_name) as epic_name
    from {{ ref('stg_jira__issues') }}
    where epic_key is not null
    group by epic_key

)

select
    {{ surrogate_key(['shares.feature_key', 'dates.month_start']) }} as feature_month_key,
    shares.feature_key,
    coalesce(epics.epic_name, case when shares.feature_key = '(no epic)' then 'Work without an epic' end)
        as feature_name,
    dates.month_start,
    {{ money('sum(shares.ai_cost_usd)') }} as attributed_ai_cost_usd,
    count(distinct shares.person_email) as people,
    count(distinct shares.team_id) as teams,
    min(shares.usage_date) as first_day,
    max(shares.usage_date) as last_day
from shares
inner join dates on dates.date_day = shares.usage_date
left join epics on epics.epic_key = shares.feature_key
group by shares.feature_key, epics.epic_name, dates.month_start
