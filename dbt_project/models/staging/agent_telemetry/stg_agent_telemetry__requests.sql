-- One row per model request from the coding agents' telemetry (Claude Code's api_request / api_error events, GenAI
-- spans of one model call): typed, renamed, email lower-cased, tokens 0 where the row is an answered request (a failed
-- request keeps null tokens: it consumed none that the telemetry reports), and the session it belongs to.
--
-- The session: `agent_session_id` is the tool's own session id (Claude Code's session.id, a GenAI span's
-- gen_ai.conversation.id); a span without one belongs to its trace (one agent run); a record with neither is a session
-- of its own (its event key). `session_key` hashes the tool with it (two tools may reuse an id).
--
-- The team a process declares (resource attribute `team.id`, else `team`) is read from the resource attributes' JSON
-- text with portable string functions: ingestion writes it with sorted keys and `"key": "value"` separators
-- (json.dumps), and team ids are plain slugs.
-- No window dedupe here: ingestion merges on event_key, which is tested unique in the window.
{%- set attributes = 'resource_attributes' -%}
{%- set declared = [] -%}
{%- for key in ['team.id', 'team'] -%}
    {%- set marker = "'\"" ~ key ~ "\": \"'" -%}
    {%- do declared.append(
        "case when " ~ dbt.position(marker, attributes) ~ " > 0 then "
        ~ dbt.split_part(dbt.split_part(attributes, marker, 2), "'\"'", 1) ~ " end"
    ) -%}
{%- endfor %}

with

source as (

    select * from {{ source('agent_telemetry', 'agent_requests') }}

),

typed as (

    select
        event_key,
        usage_date,
        event_at,
        event_time_unix_nano,
        event_name,
        coalesce(tool, service_name, 'unknown') as tool,
        service_name,
        service_version,
        provider,
        agent_name,
        session_id,
        prompt_id,
        request_id,
        trace_id,
        span_id,
        event_sequence,
        nullif(lower(trim(user_email)), '') as user_email,
        user_id,
        install_id,
        organization_id,
        coalesce(model, request_model, '(unknown)') as model_ref,
        request_model,
        coalesce(is_error, event_name in ('api_error', 'claude_code.api_error'), false) as is_error,
        input_tokens,
        output_tokens,
        cache_read_tokens,
        cache_write_tokens,
        cost_usd,
        duration_ms,
        status_code,
        attempt,
        error_type,
        query_source,
        speed,
        resource_attributes,
        source_file,
        source_line
    from source

),

final as (

    select
        event_key,
        usage_date,
        event_at,
        event_time_unix_nano,
        -- a span's time is its start (it ends duration_ms later); a log record is written when the request is done
        case
            when span_id is not null and duration_ms is not null
                then {{ dbt.dateadd('millisecond', 'duration_ms', 'event_at') }}
            else event_at
        end as event_ended_at,
        case
            when span_id is not null and duration_ms is not null
                then event_time_unix_nano + duration_ms * 1000000
            else event_time_unix_nano
        end as event_end_unix_nano,
        event_name,
        case when span_id is not null then 'span' else 'log' end as record_kind,
        tool,
        service_name,
        service_version,
        provider,
        agent_name,
        coalesce(session_id, trace_id, event_key) as agent_session_id,
        case
            when session_id is not null then 'session_id'
            when trace_id is not null then 'trace_id'
            else 'event'
        end as session_key_source,
        {{ surrogate_key(['tool', 'coalesce(session_id, trace_id, event_key)']) }} as session_key,
        session_id,
        prompt_id,
        request_id,
        trace_id,
        span_id,
        event_sequence,
        user_email,
        user_id,
        install_id,
        organization_id,
        model_ref,
        request_model,
        is_error,
        not is_error as is_request,
        case when is_error then input_tokens else coalesce(input_tokens, 0) end as input_tokens,
        case when is_error then output_tokens else coalesce(output_tokens, 0) end as output_tokens,
        case when is_error then cache_read_tokens else coalesce(cache_read_tokens, 0) end as cache_read_tokens,
        case when is_error then cache_write_tokens else coalesce(cache_write_tokens, 0) end as cache_write_tokens,
        -- the raw decimal as landed, not cast to the money type request by request (a 38-digit rescale: ~3 s over a
        -- year of L's 20M requests, each time a model reads this view); the models that use it cast what they store
        cost_usd as reported_cost_usd,
        duration_ms,
        status_code,
        attempt,
        error_type,
        query_source,
        speed,
        coalesce({{ declared | join(', ') }}) as declared_team_id,
        resource_attributes,
        source_file,
        source_line
    from typed

)

select * from final
