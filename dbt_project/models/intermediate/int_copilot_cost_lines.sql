-- One row per Copilot dollar line the ledger allocates, from GitHub's billing usage (the invoice of record):
--   seat             : each day's Business / Enterprise seat charge, split evenly among that plan's seat holders of
--                      the day (GitHub already bills seats per day, as fractions of a user-month); a day with no
--                      known holder keeps its charge as one line without a user (unallocated downstream)
--   requests         : premium requests, one line per user x model x day from the per-user premium request usage,
--                      with the use case of the user's Copilot features for that model that day (agent or chat;
--                      premium requests are never code completions); what the billing report charges beyond the
--                      users' lines (or below: a negative line) is kept as one line without a user
--   other            : any other Copilot SKU, as billed, without a user
-- Other GitHub products in the billing report (Actions, Packages, ...) are not AI spend and stay out.
with

billing as (

    select * from {{ ref('stg_copilot__billing_usage') }}
    where is_copilot

),

seats as (

    select * from {{ ref('stg_copilot__seats') }}

),

seat_holders as (

    select
        billing.billing_row_id,
        billing.usage_date,
        billing.sku,
        billing.plan_type,
        billing.organization_name,
        billing.billed_cost,
        seats.user_login,
        count(seats.user_login) over (partition by billing.billing_row_id) as holder_count
    from billing
    left join seats
        on seats.plan_type = billing.plan_type
        and seats.seat_start_date <= billing.usage_date
        and (seats.seat_end_date is null or billing.usage_date < seats.seat_end_date)
    where billing.cost_type = 'seat'

),

seat_lines as (

    select
        {{ surrogate_key(['billing_row_id', 'user_login']) }} as cost_row_id,
        usage_date,
        organization_name,
        cast(null as {{ dbt.type_string() }}) as model_ref,
        'seat' as cost_type,
        {{ dbt.concat(['sku', "' seat'"]) }} as cost_description,
        user_login,
        'seat' as use_case_hint,
        {{ money('billed_cost / case when holder_count > 0 then holder_count else 1 end') }} as billed_cost
    from seat_holders

),

feature_use as (

    select
        usage_date,
        user_login,
        model_ref,
        use_case,
        sum(interaction_count + code_generation_count) as activity
    from {{ ref('stg_copilot__feature_usage') }}
    where use_case <> 'autocomplete'
    group by usage_date, user_login, model_ref, use_case

),

dominant_use as (

    select
        usage_date,
        user_login,
        model_ref,
        use_case,
        row_number() over (
            partition by usage_date, user_login, model_ref order by activity desc, use_case
        ) as use_rank
    from feature_use

),

user_requests as (

    select * from {{ ref('stg_copilot__premium_requests') }}
    where scope = 'user'

),

request_lines as (

    select
        user_requests.premium_row_id as cost_row_id,
        user_requests.usage_date,
        cast(null as {{ dbt.type_string() }}) as organization_name,
        user_requests.model_ref,
        'requests' as cost_type,
        {{ dbt.concat(['user_requests.sku', "' ('", 'user_requests.model_name', "')'"]) }} as cost_description,
        user_requests.user_login,
        coalesce(dominant_use.use_case, 'chat') as use_case_hint,
        user_requests.billed_cost
    from user_requests
    left join dominant_use
        on dominant_use.usage_date = user_requests.usage_date
        and dominant_use.user_login = user_requests.user_login
        and dominant_use.model_ref = user_requests.model_ref
        and dominant_use.use_rank = 1

),

billed_days as (

    select distinct usage_date from billing

),

premium_billed as (

    select usage_date, min(organization_name) as organization_name, sum(billed_cost) as billed_cost
    from billing
    where cost_type = 'premium_requests'
    group by usage_date

),

premium_by_users as (

    select usage_date, sum(billed_cost) as billed_cost
    from request_lines
    group by usage_date

),

-- the invoice wins: on a day the billing report covers, its premium request total is what was charged
request_residuals as (

    select
        {{ surrogate_key(['billed_days.usage_date', "'premium request residual'"]) }} as cost_row_id,
        billed_days.usage_date,
        premium_billed.organization_name,
        cast(null as {{ dbt.type_string() }}) as model_ref,
        'requests' as cost_type,
        'premium requests billed beyond the per-user usage' as cost_description,
        cast(null as {{ dbt.type_string() }}) as user_login,
        cast(null as {{ dbt.type_string() }}) as use_case_hint,
        {{ money('coalesce(premium_billed.billed_cost, 0) - coalesce(premium_by_users.billed_cost, 0)') }}
            as billed_cost
    from billed_days
    left join premium_billed on premium_billed.usage_date = billed_days.usage_date
    left join premium_by_users on premium_by_users.usage_date = billed_days.usage_date
    where coalesce(premium_billed.billed_cost, 0) <> coalesce(premium_by_users.billed_cost, 0)

),

other_lines as (

    select
        billing_row_id as cost_row_id,
        usage_date,
        organization_name,
        cast(null as {{ dbt.type_string() }}) as model_ref,
        'other' as cost_type,
        sku as cost_description,
        cast(null as {{ dbt.type_string() }}) as user_login,
        cast(null as {{ dbt.type_string() }}) as use_case_hint,
        billed_cost
    from billing
    where cost_type = 'other'

)

select * from seat_lines
union all
select * from request_lines
union all
select * from request_residuals
union all
select * from other_lines
