-- One row per day x provider x resource x action x reason: how many records ingestion quarantined (kept aside, not
-- loaded: negative counts, repeated groups, non-USD money) or normalized (loaded as repaired: times in the wrong
-- unit). Zero rows for a day means nothing was refused. The records themselves are in raw_<provider>.*_quarantine.
with

issues as (

    select * from {{ ref('stg_anthropic__quarantine') }}
    union all
    select * from {{ ref('stg_openai__quarantine') }}
    union all
    select * from {{ ref('stg_cursor__quarantine') }}
    union all
    select * from {{ ref('stg_copilot__quarantine') }}
    union all
    select issue_id, provider, resource, usage_date, action, reason, record
    from {{ ref('stg_agent_telemetry__quarantine') }}
    union all
    select issue_id, provider, resource, usage_date, action, reason, record
    from {{ ref('stg_focus_files__quarantine') }}

)

select
    {{ surrogate_key(['usage_date', 'provider', 'resource', 'action', 'reason']) }} as quality_key,
    usage_date,
    provider,
    resource,
    action,
    reason,
    count(*) as record_count
from issues
group by usage_date, provider, resource, action, reason
