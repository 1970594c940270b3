-- One row per record a anthropic resource quarantined or normalized at ingestion.
select
    row_key as issue_id,
    'anthropic' as provider,
    'usage_messages' as resource,
    bucket_date as usage_date,
    action,
    reason,
    record
from {{ source('anthropic', 'usage_messages_quarantine') }}
union all

select
    row_key as issue_id,
    'anthropic' as provider,
    'cost_report' as resource,
    bucket_date as usage_date,
    action,
    reason,
    record
from {{ source('anthropic', 'cost_report_quarantine') }}
union all

select
    row_key as issue_id,
    'anthropic' as provider,
    coalesce(resource, 'claude_code_usage') as resource,
    bucket_date as usage_date,
    action,
    reason,
    record
from {{ source('anthropic', 'claude_code_usage_quarantine') }}
