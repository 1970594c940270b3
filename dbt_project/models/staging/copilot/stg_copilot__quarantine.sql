-- One row per record a copilot resource quarantined or normalized at ingestion.
{%- set resources = ['seats', 'usage_metrics', 'premium_requests', 'billing_usage'] %}
{% for resource in resources %}
select
    row_key as issue_id,
    'copilot' as provider,
    '{{ resource }}' as resource,
    bucket_date as usage_date,
    action,
    reason,
    record
from {{ source('copilot', resource ~ '_quarantine') }}
{% if not loop.last %}union all{% endif %}
{% endfor %}
