-- One row per record a cursor resource quarantined or normalized at ingestion.
select
    row_key as issue_id,
    'cursor' as provider,
    'usage_events' as resource,
    bucket_date as usage_date,
    action,
    reason,
    record
from {{ source('cursor', 'usage_events_quarantine') }}
union all

select
    row_key as issue_id,
    'cursor' as provider,
    'daily_usage' as resource,
    bucket_date as usage_date,
    action,
    reason,
    record
from {{ source('cursor', 'daily_usage_quarantine') }}
