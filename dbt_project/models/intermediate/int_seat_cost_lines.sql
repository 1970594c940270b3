-- One row per seat holder per day of a seat price the org directory configures (fixed_costs, kind 'seats'): the
-- month's price divided by the month's days, charged to each member the tool lists that day. Cursor lists every
-- member in its daily usage report, active or not, so a seat costs the same on a quiet day.
with

costs as (

    select * from {{ ref('stg_org__fixed_costs') }}
    where cost_kind = 'seats'

),

members as (

    select usage_date, email from {{ ref('stg_cursor__daily_usage') }}

),

seat_days as (

    select
        costs.fixed_cost_id,
        costs.fixed_cost_name,
        costs.provider,
        costs.usd_per_month,
        members.usage_date,
        members.email,
        cast({{ dbt.date_trunc('month', 'members.usage_date') }} as date) as month_start
    from costs
    inner join members
        on costs.provider = 'cursor'
        and (costs.valid_from is null or members.usage_date >= costs.valid_from)
        and (costs.valid_to is null or members.usage_date < costs.valid_to)

)

select
    {{ surrogate_key(['fixed_cost_id', 'usage_date', 'email']) }} as cost_row_id,
    fixed_cost_id,
    provider,
    usage_date,
    email as provider_user_id,
    {{ dbt.concat(['fixed_cost_name', "' (seat)'"]) }} as cost_description,
    {{ money('usd_per_month / ' ~ dbt.datediff('month_start', dbt.dateadd('month', 1, 'month_start'), 'day')) }}
        as billed_cost
from seat_days
