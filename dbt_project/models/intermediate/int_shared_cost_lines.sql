-- One row per shared cost x day x participating team: the directory's shared costs (fixed_costs, kind 'shared'),
-- amortized per day (usd_per_month / the month's days) and split among the participating teams (the cost's weights'
-- teams; every team of the directory when it lists none):
--   even         : equal parts
--   weights      : in proportion to the configured weights
--   proportional : in proportion to each participant's billed AI spend that day (the allocated ledger, shared costs
--                  excluded; negative days count as zero); a day on which no participant spent anything is split
--                  evenly, so the cost is never lost
-- A cost is charged on the days the ledger has (any provider's usage or bill) within its validity. The lines have the
-- ledger's columns (int_usage_attributed): principal 'pool:<cost id>', cost type and use case 'shared'.
with

costs as (

    select * from {{ ref('stg_org__fixed_costs') }}
    where cost_kind = 'shared'

),

weights as (

    select * from {{ ref('stg_org__fixed_cost_weights') }}

),

teams as (

    select team_id from {{ ref('stg_org__teams') }}

),

ledger as (

    select usage_date, team_id, billed_cost from {{ ref('int_usage_attributed') }}

),

ledger_days as (

    select distinct usage_date from ledger

),

participants as (

    select costs.fixed_cost_id, weights.team_id, weights.weight
    from costs
    inner join weights on weights.fixed_cost_id = costs.fixed_cost_id

    union all

    select costs.fixed_cost_id, teams.team_id, {{ money('1') }} as weight
    from costs
    cross join teams
    where not exists (select 1 from weights where weights.fixed_cost_id = costs.fixed_cost_id)

),

team_spend as (

    select
        usage_date,
        team_id,
        sum(case when billed_cost > 0 then billed_cost else 0 end) as billed_cost
    from ledger
    group by usage_date, team_id

),

cost_days as (

    select
        costs.*,
        ledger_days.usage_date,
        {{ money('costs.usd_per_month / ' ~ dbt.datediff(
            dbt.date_trunc('month', 'ledger_days.usage_date'),
            dbt.dateadd('month', 1, dbt.date_trunc('month', 'ledger_days.usage_date')),
            'day')) }} as day_amount
    from costs
    inner join ledger_days
        on (costs.valid_from is null or ledger_days.usage_date >= costs.valid_from)
        and (costs.valid_to is null or ledger_days.usage_date < costs.valid_to)

),

shares as (

    select
        cost_days.fixed_cost_id,
        cost_days.fixed_cost_name,
        cost_days.provider,
        cost_days.split_rule,
        cost_days.environment,
        cost_days.usage_date,
        cost_days.day_amount,
        participants.team_id,
        participants.weight,
        coalesce(team_spend.billed_cost, 0) as team_billed_cost,
        count(*) over (partition by cost_days.fixed_cost_id, cost_days.usage_date) as participant_count,
        sum(participants.weight) over (partition by cost_days.fixed_cost_id, cost_days.usage_date) as total_weight,
        sum(coalesce(team_spend.billed_cost, 0)) over (partition by cost_days.fixed_cost_id, cost_days.usage_date)
            as total_billed_cost
    from cost_days
    inner join participants on participants.fixed_cost_id = cost_days.fixed_cost_id
    left join team_spend
        on team_spend.usage_date = cost_days.usage_date
        and team_spend.team_id = participants.team_id

),

rounded as (

    -- each share rounded to the money type
    select
        shares.*,
        {{ money(
            "case
                when split_rule = 'weights' then day_amount * weight / total_weight
                when split_rule = 'proportional' and total_billed_cost > 0
                    then day_amount * team_billed_cost / total_billed_cost
                else day_amount / participant_count
            end"
        ) }} as share_amount
    from shares

),

ranked as (

    -- the rounding remainder (a few billionths either way) goes to the largest share (the first team by id among
    -- equals), so the shares of a cost-day add up exactly to its daily amount and none turns negative: given to a
    -- team with no spend (a zero share), a remainder below zero once made a negative line
    select
        rounded.*,
        row_number() over (partition by fixed_cost_id, usage_date order by share_amount desc, team_id)
            as participant_rank
    from rounded

),

balanced as (

    select
        ranked.*,
        case
            when participant_rank = 1
                then share_amount + day_amount - sum(share_amount) over (partition by fixed_cost_id, usage_date)
            else share_amount
        end as billed_share
    from ranked

)

select
    {{ surrogate_key(['fixed_cost_id', 'usage_date', 'team_id']) }} as token_line_id,
    provider,
    provider as tool,
    usage_date,
    '(none)' as model_ref,
    cast(null as {{ dbt.type_string() }}) as price_model_id,
    cast(null as {{ dbt.type_string() }}) as price_model_name,
    'standard' as price_context,
    'base' as context_tier,
    cast(null as {{ dbt.type_string() }}) as api_key_id,
    'shared_cost' as scope_kind,
    fixed_cost_id as scope_id,
    cast(null as {{ dbt.type_string() }}) as provider_user_id,
    'other' as token_type,
    cast(null as {{ dbt.type_string() }}) as price_key,
    'shared' as cost_type,
    cast(0 as {{ dbt.type_bigint() }}) as token_count,
    cast(null as {{ type_money() }}) as list_cost,
    true as is_priced,
    cast(null as {{ dbt.type_string() }}) as price_version,
    {{ money('billed_share') }} as billed_cost,
    true as is_billed_without_usage,
    {{ dbt.concat(["'pool:'", 'fixed_cost_id']) }} as principal_id,
    'shared' as principal_type,
    cast(null as {{ dbt.type_string() }}) as person_email,
    team_id,
    'unallocated' as project_id,
    coalesce(environment, 'unknown') as environment,
    'shared' as use_case,
    {{ dbt.concat(["'shared_'", 'split_rule']) }} as allocation_rule
from balanced
