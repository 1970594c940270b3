-- One row per record a openai resource quarantined or normalized at ingestion.
select
    row_key as issue_id,
    'openai' as provider,
    'usage_completions' as resource,
    bucket_date as usage_date,
    action,
    reason,
    record
from {{ source('openai', 'usage_completions_quarantine') }}
union all

select
    row_key as issue_id,
    'openai' as provider,
    'costs' as resource,
    bucket_date as usage_date,
    action,
    reason,
    record
from {{ source('openai', 'costs_quarantine') }}
