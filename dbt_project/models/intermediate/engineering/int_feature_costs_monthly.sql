{{
    config(
        materialized='incremental',
        incremental_strategy=append_strategy(),
        pre_hook="{% if is_incremental() %}delete from {{ this }} where month_start in ({{ feature_cost_rebuilt_months() }}){% endif %}",
        on_schema_change='fail',
    )
}}
-- depends_on: {{ ref('int_work_item_spans') }}
-- One row per feature (Jira epic, or '(no epic)') x month: the person-day shares of int_person_feature_cost_daily
-- attributed to it, summed. fct_feature_costs adds the epic's name (as the tickets name it today).
--
-- Incremental: a run rebuilds, whole, every month holding a person-day int_person_feature_cost_daily may have rebuilt
-- in it (macros/periods.sql, feature_cost_rebuilt_months: the window's days and the days in flight of the work items
-- that changed in it); no other month's shares changed. Summed again over the year every day, this cost ~0.9 s of a
-- daily build at 10,000 developers (4M person-day shares), a month's ~0.04 s.
with

dates as (

    select * from {{ ref('dim_dates') }}
    {% if is_incremental() %}
    where month_start in ({{ feature_cost_rebuilt_months() }})
    {% endif %}

),

shares as (

    select * from {{ ref('int_person_feature_cost_daily') }}
    where feature_key <> '(unattributed)'
    {% if is_incremental() %}
        and usage_date >= (select min(date_day) from dates)
    {% endif %}

)

select
    shares.feature_key,
    dates.month_start,
    {{ money('sum(shares.ai_cost_usd)') }} as attributed_ai_cost_usd,
    count(distinct shares.person_email) as people,
    count(distinct shares.team_id) as teams,
    min(shares.usage_date) as first_day,
    max(shares.usage_date) as last_day
from shares
inner join dates on dates.date_day = shares.usage_date
group by shares.feature_key, dates.month_start
