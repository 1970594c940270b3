-- One row per telemetry record quarantined or normalized at ingestion.
select
    row_key as issue_id,
    'agent_telemetry' as provider,
    coalesce(resource, 'agent_requests') as resource,
    bucket_date as usage_date,
    action,
    reason,
    record,
    source_file
from {{ source('agent_telemetry', 'agent_requests_quarantine') }}
