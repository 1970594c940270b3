-- One row per FOCUS export record refused (quarantined) or repaired (normalized) at ingestion, with the reason: the
-- same shape as the other sources' quarantine models, so a data-quality mart can add it to theirs.
select
    row_key as issue_id,
    'focus_files' as provider,
    coalesce(resource, 'focus_costs') as resource,
    bucket_date as usage_date,
    action,
    reason,
    record,
    source_file
from {{ source('focus_files', 'focus_costs_quarantine') }}
