-- One row per Claude Code day x actor x terminal (Claude Code Analytics report): the actor's sessions, lines of code,
-- commits, pull requests and tool actions. Per actor-day facts: never join them onto the per-model usage rows and sum.
with

source as (

    select * from {{ source('anthropic', 'claude_code_activity') }}

),

deduplicated as (

    {{ latest_rows('source') }}

),

renamed as (

    select
        row_key as activity_id,
        bucket_date as usage_date,
        organization_id,
        actor_type,
        -- lower-cased at ingestion already; again here, so that a join on email never depends on it
        lower(actor_email) as actor_email,
        api_key_name,
        customer_type,
        subscription_type,
        terminal_type,
        coalesce(num_sessions, 0) as sessions,
        coalesce(lines_of_code_added, 0) as lines_added,
        coalesce(lines_of_code_removed, 0) as lines_removed,
        coalesce(commits_by_claude_code, 0) as commits,
        coalesce(pull_requests_by_claude_code, 0) as pull_requests,
        coalesce(tool_actions_accepted, 0) as tool_actions_accepted,
        coalesce(tool_actions_rejected, 0) as tool_actions_rejected,
        tool_actions
    from deduplicated

)

select * from renamed
