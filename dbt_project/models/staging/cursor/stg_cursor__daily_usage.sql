-- One row per Cursor member and day (inactive members included): editor activity and requests by feature and by
-- billing kind. Not money: the ledger is built from the usage events; this is the activity beside it.
with

source as (

    select * from {{ source('cursor', 'daily_usage') }}

),

deduplicated as (

    {{ latest_rows('source') }}

)

select
    row_key as daily_usage_row_id,
    bucket_date as usage_date,
    lower(trim(email)) as email,
    coalesce(is_active, false) as is_active,
    coalesce(total_lines_added, 0) as lines_added,
    coalesce(total_lines_deleted, 0) as lines_deleted,
    coalesce(accepted_lines_added, 0) as accepted_lines_added,
    coalesce(accepted_lines_deleted, 0) as accepted_lines_deleted,
    coalesce(total_applies, 0) as applies,
    coalesce(total_accepts, 0) as accepts,
    coalesce(total_rejects, 0) as rejects,
    coalesce(total_tabs_shown, 0) as tabs_shown,
    coalesce(total_tabs_accepted, 0) as tabs_accepted,
    coalesce(agent_requests, 0) as agent_requests,
    coalesce(chat_requests, 0) as chat_requests,
    coalesce(composer_requests, 0) as composer_requests,
    coalesce(cmdk_usages, 0) as cmdk_usages,
    coalesce(bugbot_usages, 0) as bugbot_usages,
    coalesce(subscription_included_reqs, 0) as included_requests,
    coalesce(usage_based_reqs, 0) as usage_based_requests,
    coalesce(api_key_reqs, 0) as api_key_requests,
    most_used_model,
    client_version
from deduplicated
