-- Each shared cost's team shares of a day add up to its daily amount (usd_per_month / the month's days, at the money
-- type's 9 places), whatever the split rule: nothing of a shared cost is lost or charged twice. Returns the cost-days that do not.
-- Checks the run's window (min_date..max_date; the whole history on a full build), as the ledger's tests.
with

shares as (

    select scope_id as fixed_cost_id, usage_date, sum(billed_cost) as charged
    from {{ ref('int_shared_cost_lines') }}
    where usage_date between {{ window_start() }} and {{ window_end() }}
    group by scope_id, usage_date

),

costs as (

    select * from {{ ref('stg_org__fixed_costs') }}

)

select shares.*, costs.usd_per_month
from shares
inner join costs on costs.fixed_cost_id = shares.fixed_cost_id
where abs(
    shares.charged
    - costs.usd_per_month / {{ dbt.datediff(dbt.date_trunc('month', 'shares.usage_date'),
                                            dbt.dateadd('month', 1, dbt.date_trunc('month', 'shares.usage_date')),
                                            'day') }}
) > 0.000000001
