-- Each rollup of fct_ai_spend_by_period (day, week, month) holds exactly the ledger's dollars and tokens for the days
-- its periods cover: per period, the table's totals equal fct_ai_usage_daily summed over the period's days.
-- Returns the periods that differ. Checks the periods overlapping the run's window (min_date..max_date), those it
-- rebuilt; the whole history on a full build.
with

periods as (

    select period_type, period_start, period_end, sum(billed_cost_usd) as billed, sum(token_count) as tokens
    from {{ ref('fct_ai_spend_by_period') }}
    where period_end >= {{ window_start() }} and period_start <= {{ window_end() }}
    group by period_type, period_start, period_end

),

ledger as (

    select usage_date, sum(billed_cost_usd) as billed, sum(token_count) as tokens
    from {{ ref('fct_ai_usage_daily') }}
    where usage_date >= {{ period_rebuild_start() }}
    group by usage_date

),

compared as (

    select
        periods.period_type,
        periods.period_start,
        periods.billed,
        periods.tokens,
        sum(ledger.billed) as ledger_billed,
        sum(ledger.tokens) as ledger_tokens
    from periods
    left join ledger
        on ledger.usage_date between periods.period_start and periods.period_end
    group by periods.period_type, periods.period_start, periods.billed, periods.tokens

)

select * from compared
where abs(billed - coalesce(ledger_billed, 0)) > 0.0001 or tokens <> coalesce(ledger_tokens, 0)

union all

-- and no ledger day is missing from the daily rollup
select 'day' as period_type, ledger.usage_date as period_start, null, null, ledger.billed, ledger.tokens
from ledger
left join periods on periods.period_type = 'day' and periods.period_start = ledger.usage_date
where periods.period_start is null and ledger.billed <> 0
    and ledger.usage_date between {{ window_start() }} and {{ window_end() }}
