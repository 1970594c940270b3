{{
    config(
        materialized='incremental',
        incremental_strategy=append_strategy(),
        on_schema_change='fail',
        pre_hook="{{ delete_window_sessions('session_date') }}",
    )
}}
-- One row per agent session (tool x session id; a GenAI span without a session id belongs to its trace): who ran it
-- (the org directory's person and team, or the unknown email / user id under 'unallocated'), its models, time span,
-- turns, requests, failures and retries, tokens by type and its cost.
--
-- ACTIVITY, not billed money: cost_usd is the telemetry's own cost where it carries one (Claude Code's estimate at
-- list prices), else the request's tokens priced from the dated price book (standard tier, 5-minute cache writes).
-- Claude Code's API spend is already in the Anthropic cost report of the ledger (fct_ai_usage_daily): this mart is not
-- added to it, and has no billed_cost_usd column.
--
-- Incremental: a run rebuilds every session with an event in its window (min_date..max_date), from ALL of that
-- session's events, including those before or after the window: a session crossing the window's edge (an agent left
-- running overnight into the next day) is rebuilt whole, never cut in two. The pre-hook deletes those sessions (and
-- any whose start day is in the window) first, so a re-run replaces rows instead of adding them.
{%- set day_ns = 86400000000000 -%}
{%- set six_hours_ns = 21600000000000 -%}
{%- set token_columns = [
    ('input_tokens', 'input'),
    ('output_tokens', 'output'),
    ('cache_write_tokens', 'cache_write_5m'),
    ('cache_read_tokens', 'cache_read'),
] %}

with

-- read three times on an incremental run (macros/sessions.sql): recomputed where read, not buffered whole on DuckDB
requests as {{ cte_inlined() }} (

    select * from {{ ref('stg_agent_telemetry__requests') }}

),

{% if is_incremental() %}
{{ window_sessions_cte('requests') }}
{% endif %}

events as (

    select *
    from requests
    {% if is_incremental() %}
    where {{ is_window_session_request('requests') }}
    {% endif %}

),

refs as (

    select * from {{ ref('int_model_refs_unioned') }}

),

prices as (

    select * from {{ ref('stg_pricing__model_prices') }}

),

people as (

    select * from {{ ref('stg_org__people') }}

),

identities as (

    select * from {{ ref('stg_org__identities') }}

),

teams as (

    select * from {{ ref('dim_teams') }}

),

-- each request's four token prices: Claude Code's cache writes are 5-minute writes (what its own cost estimate uses);
-- an Anthropic request above 200k prompt tokens is priced at the long-context tier, as the Anthropic usage report's
-- context window does. The model id as reported resolves through the model refs the usage reports know (dated model
-- ids); an id they do not list is tried as a price-book model id itself (aliases such as claude-sonnet-4-5). One
-- row per request throughout (a price-book line is unique per key and day): joined four times rather than split
-- into a line per token type and summed back per request, which at a year of requests (20.5M at L) cost a full build
-- two hash aggregations over their md5 keys.
tiered as (

    select
        events.*,
        case
            when events.provider = 'anthropic'
                and events.input_tokens + events.cache_read_tokens + events.cache_write_tokens > 200000 then 'long'
            else 'base'
        end as context_tier,
        coalesce(refs.price_provider, events.provider) as price_provider,
        coalesce(refs.price_model_id, events.model_ref) as price_model_id
    from events
    left join refs
        on refs.provider = events.provider
        and refs.model_ref = events.model_ref

),

-- a token type without a price adds nothing to the list cost and its tokens to the unpriced ones
priced as (

    select
        tiered.*,
        -- multiplied, not divided: exact decimals on every engine
        {% for column, price_key in token_columns -%}
        coalesce(case when tiered.{{ column }} > 0
            then tiered.{{ column }} * {{ price_key }}_price.usd_per_million_tokens * 0.000001 end, 0)
        {%- if not loop.last %} +{% endif %}
        {% endfor -%}
        as list_cost,
        {% for column, price_key in token_columns -%}
        case when tiered.{{ column }} > 0 and {{ price_key }}_price.usd_per_million_tokens is null
            then tiered.{{ column }} else 0 end
        {%- if not loop.last %} +{% endif %}
        {% endfor -%}
        as list_unpriced_tokens
    from tiered
    {%- for column, price_key in token_columns %}
    left join prices as {{ price_key }}_price
        on {{ price_key }}_price.provider = tiered.price_provider
        and {{ price_key }}_price.price_model_id = tiered.price_model_id
        and {{ price_key }}_price.price_context = 'standard'
        and {{ price_key }}_price.context_tier = tiered.context_tier
        and {{ price_key }}_price.price_key = '{{ price_key }}'
        and tiered.usage_date >= {{ price_key }}_price.valid_from
        and tiered.usage_date < {{ price_key }}_price.valid_to
    {%- endfor %}

),

-- one row per event with its cost: the telemetry's where it reports one, else the price book's; a turn is a prompt
-- (Claude Code's prompt.id), or, for tools without prompts (GenAI spans), each model call
request_costs as (

    select
        priced.*,
        coalesce(priced.prompt_id, priced.event_key) as turn_id,
        coalesce(priced.reported_cost_usd, priced.list_cost) as request_cost,
        case when priced.reported_cost_usd is not null then 0 else priced.list_unpriced_tokens end as unpriced_tokens,
        coalesce(priced.input_tokens, 0) + coalesce(priced.output_tokens, 0)
            + coalesce(priced.cache_read_tokens, 0) + coalesce(priced.cache_write_tokens, 0) as total_tokens
    from priced

),

turns as (

    select
        session_key,
        turn_id,
        min(event_time_unix_nano) as turn_started_ns,
        sum(request_cost) as turn_cost
    from request_costs
    group by session_key, turn_id

),

ordered_turns as (

    select
        turns.*,
        row_number() over (partition by session_key order by turn_started_ns, turn_id) as turn_number,
        row_number() over (partition by session_key order by turn_started_ns desc, turn_id desc) as turn_number_desc
    from turns

),

turn_stats as (

    select
        session_key,
        cast(count(*) as {{ dbt.type_bigint() }}) as turns,
        sum(case when turn_number = 1 then turn_cost else 0 end) as first_turn_cost,
        sum(case when turn_number_desc = 1 then turn_cost else 0 end) as last_turn_cost,
        max(turn_cost) as max_turn_cost
    from ordered_turns
    group by session_key

),

session_models as (

    select
        session_key,
        model_ref,
        max(provider) as provider,
        sum(request_cost) as model_cost,
        sum(total_tokens) as model_tokens,
        min(event_time_unix_nano) as first_used_ns
    from request_costs
    group by session_key, model_ref

),

model_stats as (

    select
        session_key,
        cast(count(*) as {{ dbt.type_bigint() }}) as model_count,
        {{ dbt.listagg('model_ref', "', '", 'order by model_ref') }} as model_refs
    from session_models
    group by session_key

),

-- the primary model: the one that cost the most, then the one with the most tokens, then the first used
primary_models as (

    select
        session_key,
        model_ref as primary_model_ref,
        provider
    from (
        select
            session_models.*,
            row_number() over (
                partition by session_key order by model_cost desc, model_tokens desc, first_used_ns, model_ref
            ) as model_rank
        from session_models
    ) as ranked
    where model_rank = 1

),

sessions as (

    select
        session_key,
        max(tool) as tool,
        max(agent_session_id) as session_id,
        max(session_key_source) as session_key_source,
        max(agent_name) as agent_name,
        max(service_name) as service_name,
        max(user_email) as user_email,
        max(user_id) as user_id,
        max(declared_team_id) as declared_team_id,
        min(usage_date) as session_date,
        min(event_at) as started_at,
        max(event_ended_at) as ended_at,
        min(event_time_unix_nano) as started_ns,
        max(event_end_unix_nano) as ended_ns,
        cast(sum(case when is_request then 1 else 0 end) as {{ dbt.type_bigint() }}) as requests,
        cast(sum(case when is_error then 1 else 0 end) as {{ dbt.type_bigint() }}) as error_requests,
        cast(sum(case when is_error or attempt > 1 then 1 else 0 end) as {{ dbt.type_bigint() }}) as retries,
        cast(sum(case when is_request and reported_cost_usd is not null then 1 else 0 end) as {{ dbt.type_bigint() }})
            as reported_cost_requests,
        cast(sum(coalesce(input_tokens, 0)) as {{ dbt.type_bigint() }}) as input_tokens,
        cast(sum(coalesce(output_tokens, 0)) as {{ dbt.type_bigint() }}) as output_tokens,
        cast(sum(coalesce(cache_read_tokens, 0)) as {{ dbt.type_bigint() }}) as cache_read_tokens,
        cast(sum(coalesce(cache_write_tokens, 0)) as {{ dbt.type_bigint() }}) as cache_write_tokens,
        cast(sum(total_tokens) as {{ dbt.type_bigint() }}) as total_tokens,
        cast(
            sum(coalesce(input_tokens, 0) + coalesce(cache_read_tokens, 0) + coalesce(cache_write_tokens, 0))
            as {{ dbt.type_bigint() }}
        ) as prompt_tokens,
        sum(request_cost) as cost_usd,
        sum(coalesce(reported_cost_usd, 0)) as reported_cost_usd,
        sum(list_cost) as list_cost_usd,
        cast(sum(unpriced_tokens) as {{ dbt.type_bigint() }}) as unpriced_token_count
    from request_costs
    group by session_key

),

-- how many UTC days the session spans (exact, from the nanosecond times), and its person: the directory's identity
-- for this tool's user id (identities keyed by the tool, e.g. claude_code: <account uuid>), else for its email, else
-- the directory person with that email
attributed as (

    select
        sessions.*,
        cast(
            ((sessions.ended_ns - mod(sessions.ended_ns, {{ day_ns }}))
                - (sessions.started_ns - mod(sessions.started_ns, {{ day_ns }}))) / {{ day_ns }}
            as {{ dbt.type_int() }}
        ) as days_spanned,
        coalesce(user_identity.email, email_identity.email, email_person.email) as directory_email
    from sessions
    left join identities as user_identity
        on user_identity.tool = sessions.tool
        and user_identity.external_id = sessions.user_id
    left join identities as email_identity
        on email_identity.tool = sessions.tool
        and lower(email_identity.external_id) = sessions.user_email
    left join people as email_person
        on email_person.email = sessions.user_email

),

owned as (

    select
        attributed.*,
        people.email as person_email,
        cast({{ dbt.dateadd('day', 'attributed.days_spanned', 'attributed.session_date') }} as date) as ended_date,
        case
            when people.email is not null then 'person'
            when attributed.user_email is not null or attributed.user_id is not null then 'unknown'
            else 'service'
        end as principal_type,
        -- a person's team; a service (no user in its telemetry) the directory team its process declares; else none
        coalesce(
            people.team_id,
            case
                when people.email is null and attributed.user_email is null and attributed.user_id is null
                    then declared_team.team_id
            end,
            'unallocated'
        ) as team_id
    from attributed
    left join people
        on people.email = attributed.directory_email
    left join teams as declared_team
        on declared_team.team_id = attributed.declared_team_id

),

final as (

    select
        owned.session_key,
        owned.tool,
        owned.session_id,
        owned.session_key_source,
        owned.agent_name,
        primary_models.provider,
        case
            when owned.principal_type = 'person' then {{ person_label('owned.person_email') }}
            when owned.principal_type = 'unknown' then {{ person_label('coalesce(owned.user_email, owned.user_id)') }}
            else {{ dbt.concat(["'service:'", 'coalesce(owned.agent_name, owned.service_name, owned.tool)']) }}
        end as principal_id,
        owned.principal_type,
        {{ person_label('owned.person_email') }} as person_email,
        owned.team_id,
        teams.team_name,
        owned.team_id <> 'unallocated' as is_allocated,
        primary_models.primary_model_ref,
        model_stats.model_refs,
        model_stats.model_count,
        owned.session_date,
        owned.ended_date,
        owned.started_at,
        owned.ended_at,
        -- rounded half up in integers (hundredths of a minute = 600,000,000 ns): the same digits on every engine
        cast(
            cast(floor(cast(owned.ended_ns - owned.started_ns + 300000000 as {{ type_decimal(38, 0) }}) / 600000000)
                as {{ dbt.type_bigint() }}) * 0.01
            as decimal(18, 2)
        ) as duration_minutes,
        turn_stats.turns,
        owned.requests,
        owned.error_requests,
        owned.retries,
        owned.input_tokens,
        owned.output_tokens,
        owned.cache_read_tokens,
        owned.cache_write_tokens,
        owned.total_tokens,
        -- cache_read / prompt tokens to four places, rounded half up in integers (as duration_minutes)
        cast(
            cast(floor(
                cast(20000 * owned.cache_read_tokens + owned.prompt_tokens as {{ type_decimal(38, 0) }})
                / nullif(2 * owned.prompt_tokens, 0)
            ) as {{ dbt.type_bigint() }}) * 0.0001
            as decimal(18, 4)
        ) as cache_read_ratio,
        {{ money('owned.cost_usd') }} as cost_usd,
        {{ money('owned.reported_cost_usd') }} as reported_cost_usd,
        {{ money('owned.list_cost_usd') }} as list_cost_usd,
        case
            when owned.requests = 0 then 'none'
            when owned.reported_cost_requests = owned.requests then 'reported'
            when owned.reported_cost_requests = 0 then 'list_price'
            else 'mixed'
        end as cost_source,
        owned.unpriced_token_count,
        owned.unpriced_token_count > 0 as has_unpriced_tokens,
        {{ money('turn_stats.first_turn_cost') }} as first_turn_cost_usd,
        {{ money('turn_stats.last_turn_cost') }} as last_turn_cost_usd,
        {{ money('turn_stats.max_turn_cost') }} as max_turn_cost_usd,
        owned.days_spanned > 0 as crosses_midnight,
        owned.days_spanned > 0 or mod(owned.started_ns, {{ day_ns }}) < {{ six_hours_ns }} as runs_overnight,
        (
            {{ dbt.datediff(dbt.date_trunc('week', 'owned.session_date'), 'owned.session_date', 'day') }} >= 5
            or {{ dbt.datediff(dbt.date_trunc('week', 'owned.ended_date'), 'owned.ended_date', 'day') }} >= 5
        ) as on_weekend,
        'USD' as currency
    from owned
    left join turn_stats
        on turn_stats.session_key = owned.session_key
    left join model_stats
        on model_stats.session_key = owned.session_key
    left join primary_models
        on primary_models.session_key = owned.session_key
    left join teams
        on teams.team_id = owned.team_id

)

select * from final
