-- One row per day x user x model x feature of the per-user usage metrics (breakdown 'model_feature'), with the
-- feature's use case: code_completion -> autocomplete; agent_edit and the chat panel's agent mode -> agent; the
-- other chat modes and inline chat -> chat.
with

deduplicated as (

    {{ latest_rows(source('copilot', 'usage_metrics')) }}

)

select
    row_key as feature_usage_id,
    bucket_date as usage_date,
    lower(user_login) as user_login,
    model as model_ref,
    feature,
    case
        when feature = 'code_completion' then 'autocomplete'
        when feature in ('agent_edit', 'chat_panel_agent_mode') or feature like '%agent%' then 'agent'
        else 'chat'
    end as use_case,
    coalesce(user_initiated_interaction_count, 0) as interaction_count,
    coalesce(code_generation_activity_count, 0) as code_generation_count,
    coalesce(code_acceptance_activity_count, 0) as code_acceptance_count,
    coalesce(loc_added_sum, 0) as lines_added
from deduplicated
where scope = 'user' and breakdown = 'model_feature'
