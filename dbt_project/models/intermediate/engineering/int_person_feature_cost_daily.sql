{{
    config(
        materialized='incremental',
        incremental_strategy=append_strategy(),
        pre_hook="{% if is_incremental() %}delete from {{ this }} where {{ is_feature_cost_rebuilt('person_email', 'usage_date') }}{% endif %}",
        on_schema_change='fail',
    )
}}
-- One row per person x day x feature: the person's AI cost that day, shared equally among the work items they had
-- in flight that day (see int_work_item_spans). A person-day with cost and no item in flight is kept whole as
-- feature '(unattributed)', so the rows sum back to the person's daily cost.
--
-- Incremental: a run rebuilds the days of its window and the days in flight of the work items that changed in it
-- (macros/periods.sql, is_feature_cost_rebuilt: a ticket resolved today reaches up to work_item_max_days back). Rebuilt
-- whole every day it cost 10 s of a daily run at 10,000 developers with a year of tickets and pull requests.
with

person_cost as (

    select
        usage_date,
        person_email,
        team_id,
        billed_cost_usd as ai_cost_usd
    from {{ ref('int_person_spend_daily') }}
    {% if is_incremental() %}
    where {{ is_feature_cost_rebuilt('person_email', 'usage_date') }}
    {% endif %}

),

spans as (

    select * from {{ ref('int_work_item_spans') }}

),

in_flight as (

    select
        person_cost.usage_date,
        person_cost.person_email,
        person_cost.team_id,
        person_cost.ai_cost_usd,
        spans.item_id,
        spans.feature_key,
        count(*) over (partition by person_cost.usage_date, person_cost.person_email, person_cost.team_id)
            as items_in_flight
    from person_cost
    inner join spans
        -- the ledger shows people as the marts do (pseudonymized if configured); spans carry emails
        on {{ person_label('spans.person_email') }} = person_cost.person_email
        and person_cost.usage_date between spans.span_start and spans.span_end

),

attributed as (

    select
        usage_date,
        person_email,
        team_id,
        feature_key,
        count(*) as work_items,
        {{ money('sum(ai_cost_usd / items_in_flight)') }} as ai_cost_usd
    from in_flight
    group by usage_date, person_email, team_id, feature_key

),

unattributed as (

    select
        person_cost.usage_date,
        person_cost.person_email,
        person_cost.team_id,
        '(unattributed)' as feature_key,
        0 as work_items,
        {{ money('person_cost.ai_cost_usd') }} as ai_cost_usd
    from person_cost
    where not exists (
        select 1 from in_flight
        where in_flight.usage_date = person_cost.usage_date
        and in_flight.person_email = person_cost.person_email
        and in_flight.team_id = person_cost.team_id
    )

)

select * from attributed
union all
select * from unattributed
