{{
    config(
        materialized='incremental',
        incremental_strategy=append_strategy(),
        pre_hook="{{ delete_rebuilt_rollups() }}",
        on_schema_change='fail',
    )
}}
-- The finance table: AI spend by day, week and month x team x project x environment x developer x provider x tool
-- x model family x model tier x token type x use case x cost type, in one table (period_type says which rollup a
-- row belongs to; filter on it, never add across period types). Built from the allocated ledger, so every figure
-- agrees with fct_ai_usage_daily. Incremental: a run rebuilds the days of its window and the weeks and months
-- that overlap it (see macros/periods.sql). Weeks and months add up day rows (the same dimensions; sums of sums of
-- exact decimals are exact): the window's days from the ledger, their neighbours in those weeks and months from the
-- day rows this table already holds (the pre-hook deleted the window's), so a daily run reads the ledger's window
-- only, not the month to date. A rebuilt month takes the whole weeks inside it that the run does not rebuild from
-- their kept week rows (a week row is the sum of its day rows, built with them), not from their seven days of day
-- rows: late in a month that is a few weeks' rows instead of four weeks of days (macros/periods.sql,
-- is_kept_whole_week). A full build goes a month at a time (macros/full_build_batches.sql): a month's batch
-- holds its days, its month and the weeks that start in it, and reads the ledger 6 days past the month for those.
with

ledger as (

    select * from {{ ref('fct_ai_usage_daily') }}
    -- on a full build a month's batch reads 6 days more, for the weeks starting in it
    where {{ input_window('usage_date', spill_days=6) }}

),

models as (

    select provider, model_ref, model_family, model_tier from {{ ref('dim_models') }}

),

classified as (

    select
        ledger.*,
        case
            when ledger.model_ref = '(none)' then 'not model-specific'
            else coalesce(models.model_family, 'unclassified')
        end as model_family,
        case
            when ledger.model_ref = '(none)' then 'not model-specific'
            else coalesce(models.model_tier, 'unclassified')
        end as model_tier
    from ledger
    left join models
        on models.provider = ledger.provider
        and models.model_ref = ledger.model_ref

),

{%- set dims = ['team_id', 'team_name', 'project_id', 'project_name', 'environment', 'principal_id', 'principal_type',
                'person_name', 'provider', 'tool', 'model_family', 'model_tier', 'token_type', 'use_case',
                'cost_type'] %}
{#- a rollup row as this table keeps it, read back by a run: its period's first day, its dimensions, its figures -#}
{%- set kept_row = ['period_start'] + dims + ['token_count', 'unpriced_token_count', 'list_cost_usd', 'billed_cost_usd'] %}

days as (

    select
        usage_date as period_start,
        {{ dims | join(', ') }},
        sum(token_count) as token_count,
        sum(unpriced_token_count) as unpriced_token_count,
        sum(list_cost_usd) as list_cost_usd,
        sum(billed_cost_usd) as billed_cost_usd
    from classified
    group by usage_date, {{ dims | join(', ') }}

),

all_days as (

    select * from days
    {% if is_incremental() %}
    union all
    select {{ kept_row | join(', ') }}
    from {{ this }}
    where period_type = 'day' and period_start >= {{ period_rebuild_start() }}
        -- a kept whole week's days: its row stands for them in the months (month_parts), and no rebuilt week has them
        and not {{ is_kept_whole_week('cast(' ~ dbt.date_trunc('week', 'period_start') ~ ' as date)') }}
    {% endif %}

),

{% if is_incremental() %}
-- what the rebuilt months add up: the days above, and the rows of the kept whole weeks in place of theirs
month_parts as (

    select * from all_days
    union all
    select {{ kept_row | join(', ') }}
    from {{ this }}
    where period_type = 'week' and period_start >= {{ period_rebuild_start() }}
        and {{ is_kept_whole_week('period_start') }}

),
{% endif %}

rolled as (

    select 'day' as period_type, days.* from days
    {% if not is_incremental() %}
    where {{ full_build_batch('period_start') }}
    {% endif %}
    {% for period_type in ['week', 'month'] %}
    union all
    select
        '{{ period_type }}' as period_type,
        cast({{ dbt.date_trunc(period_type, 'period_start') }} as date) as period_start,
        {{ dims | join(', ') }},
        sum(token_count) as token_count,
        sum(unpriced_token_count) as unpriced_token_count,
        sum(list_cost_usd) as list_cost_usd,
        sum(billed_cost_usd) as billed_cost_usd
    from {{ 'month_parts' if is_incremental() and period_type == 'month' else 'all_days' }}
    {% if is_incremental() %}
    where {{ is_rebuilt_period('cast(' ~ dbt.date_trunc(period_type, 'period_start') ~ ' as date)', period_type, 0) }}
    {% else %}
    where {{ full_build_batch('cast(' ~ dbt.date_trunc(period_type, 'period_start') ~ ' as date)') }}
    {% endif %}
    group by cast({{ dbt.date_trunc(period_type, 'period_start') }} as date), {{ dims | join(', ') }}
    {% endfor %}

)

select
    {{ surrogate_key(['period_type', 'period_start'] + dims) }} as spend_period_key,
    period_type,
    period_start,
    cast(case period_type
        when 'day' then period_start
        when 'week' then {{ dbt.dateadd('day', 6, 'period_start') }}
        else {{ dbt.dateadd('day', -1, dbt.dateadd('month', 1, 'period_start')) }}
    end as date) as period_end,
    {{ dims | join(',\n    ') }},
    token_count,
    unpriced_token_count,
    {{ money('list_cost_usd') }} as list_cost_usd,
    {{ money('billed_cost_usd') }} as billed_cost_usd,
    'USD' as currency
from rolled
