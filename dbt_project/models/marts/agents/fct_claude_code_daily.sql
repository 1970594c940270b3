-- One row per day x principal (a directory person, an email the directory does not know, or an API key) x terminal
-- (x customer type x subscription type: one value each per actor in practice) of Claude Code: the Claude Code
-- Analytics report's activity (sessions, lines, commits, pull requests, tool actions) with its tokens and Anthropic's
-- estimated cost summed over models.
--
-- ACTIVITY, not billed money: estimated_cost_usd is Claude Code's own estimate at list prices. Claude Code's
-- API-billed spend is already in the Anthropic cost report of the ledger (fct_ai_usage_daily), and subscription seats
-- are not in this API: this mart is never added to spend totals (it has no billed_cost_usd column on purpose).
--
-- Who: a user_actor's email resolves to a directory person through the org directory (the person's claude_code
-- identity for that email, else the person with that email); an email the directory does not know is kept (under
-- team 'unallocated', never dropped); an api_actor is the service 'service:<api key name>', unallocated.
-- The activity (one row per actor-day) and the per-model usage are summed separately then put side by side, so that
-- no actor-day fact is counted once per model; an actor-day with usage but no activity row (ingestion quarantined it)
-- keeps its tokens and cost.
with

activity as (

    select * from {{ ref('stg_anthropic__claude_code_activity') }}

),

usage as (

    select * from {{ ref('stg_anthropic__claude_code_usage') }}

),

people as (

    select * from {{ ref('stg_org__people') }}

),

-- the directory's Claude Code identities: an email Claude Code knows (its account email) -> the directory email
claude_code_identities as (

    select
        lower(external_id) as external_email,
        min(email) as email
    from {{ ref('stg_org__identities') }}
    where tool = 'claude_code'
    group by lower(external_id)

),

-- activity lines and model lines in one shape: the actor-day's counts on its activity line, the model's tokens and
-- estimated cost on each model line (zeros elsewhere)
lines as (

    select
        usage_date,
        actor_type,
        case when actor_type = 'api_actor' then api_key_name else actor_email end as actor_id,
        coalesce(terminal_type, 'unknown') as terminal_type,
        coalesce(customer_type, 'unknown') as customer_type,
        subscription_type,
        cast(null as {{ dbt.type_string() }}) as model_ref,
        sessions,
        lines_added,
        lines_removed,
        commits,
        pull_requests,
        tool_actions_accepted,
        tool_actions_rejected,
        0 as input_tokens,
        0 as output_tokens,
        0 as cache_read_tokens,
        0 as cache_creation_tokens,
        {{ money('0') }} as estimated_cost_usd
    from activity

    union all

    select
        usage_date,
        actor_type,
        case when actor_type = 'api_actor' then api_key_name else actor_email end as actor_id,
        coalesce(terminal_type, 'unknown') as terminal_type,
        coalesce(customer_type, 'unknown') as customer_type,
        subscription_type,
        model_ref,
        0 as sessions,
        0 as lines_added,
        0 as lines_removed,
        0 as commits,
        0 as pull_requests,
        0 as tool_actions_accepted,
        0 as tool_actions_rejected,
        input_tokens,
        output_tokens,
        cache_read_tokens,
        cache_creation_tokens,
        estimated_cost_usd
    from usage

),

actors as (

    select distinct actor_type, actor_id from lines

),

-- a user's email -> the directory person: their claude_code identity for that email, else the person with that email
resolved as (

    select
        actors.actor_type,
        actors.actor_id,
        case
            when actors.actor_type = 'user_actor' then coalesce(identity.email, email_person.email)
        end as directory_email
    from actors
    left join claude_code_identities as identity
        on identity.external_email = actors.actor_id
    left join people as email_person
        on email_person.email = actors.actor_id

),

owned as (

    select
        resolved.actor_type,
        resolved.actor_id,
        case
            when resolved.actor_type = 'api_actor' then 'service'
            when people.email is not null then 'person'
            else 'unknown'
        end as principal_type,
        case
            when resolved.actor_type = 'api_actor' then {{ dbt.concat(["'service:'", 'resolved.actor_id']) }}
            when people.email is not null then {{ person_label('people.email') }}
            else {{ person_label('resolved.actor_id') }}
        end as principal_id,
        {{ person_label('people.email') }} as person_email,
        coalesce(people.team_id, 'unallocated') as team_id
    from resolved
    left join people
        on people.email = resolved.directory_email

),

keyed as (

    select
        lines.*,
        owned.principal_id,
        owned.principal_type,
        owned.person_email,
        owned.team_id
    from lines
    inner join owned
        on owned.actor_type = lines.actor_type
        and owned.actor_id = lines.actor_id

),

-- the primary model of each row: the one with the highest estimated cost, then the most tokens, then the first by name
model_costs as (

    select
        usage_date,
        principal_id,
        terminal_type,
        customer_type,
        coalesce(subscription_type, '') as subscription_key,
        model_ref,
        sum(estimated_cost_usd) as model_cost,
        sum(input_tokens + output_tokens + cache_read_tokens + cache_creation_tokens) as model_tokens
    from keyed
    where model_ref is not null
    group by usage_date, principal_id, terminal_type, customer_type, coalesce(subscription_type, ''), model_ref

),

primary_models as (

    select *
    from (
        select
            model_costs.*,
            row_number() over (
                partition by usage_date, principal_id, terminal_type, customer_type, subscription_key
                order by model_cost desc, model_tokens desc, model_ref
            ) as model_rank
        from model_costs
    ) as ranked
    where model_rank = 1

),

daily as (

    select
        usage_date,
        principal_id,
        principal_type,
        person_email,
        team_id,
        customer_type,
        subscription_type,
        coalesce(subscription_type, '') as subscription_key,
        terminal_type,
        cast(sum(sessions) as {{ dbt.type_bigint() }}) as sessions,
        cast(sum(lines_added) as {{ dbt.type_bigint() }}) as lines_added,
        cast(sum(lines_removed) as {{ dbt.type_bigint() }}) as lines_removed,
        cast(sum(commits) as {{ dbt.type_bigint() }}) as commits,
        cast(sum(pull_requests) as {{ dbt.type_bigint() }}) as pull_requests,
        cast(sum(tool_actions_accepted) as {{ dbt.type_bigint() }}) as tool_actions_accepted,
        cast(sum(tool_actions_rejected) as {{ dbt.type_bigint() }}) as tool_actions_rejected,
        cast(sum(input_tokens) as {{ dbt.type_bigint() }}) as input_tokens,
        cast(sum(output_tokens) as {{ dbt.type_bigint() }}) as output_tokens,
        cast(sum(cache_read_tokens) as {{ dbt.type_bigint() }}) as cache_read_tokens,
        cast(sum(cache_creation_tokens) as {{ dbt.type_bigint() }}) as cache_creation_tokens,
        sum(estimated_cost_usd) as estimated_cost_usd
    from keyed
    group by
        usage_date, principal_id, principal_type, person_email, team_id, customer_type, subscription_type, terminal_type

),

final as (

    select
        {{ surrogate_key([
            'daily.usage_date', 'daily.principal_id', 'daily.terminal_type', 'daily.customer_type',
            'daily.subscription_type',
        ]) }} as claude_code_day_key,
        daily.usage_date,
        daily.principal_id,
        daily.principal_type,
        daily.person_email,
        daily.team_id,
        daily.customer_type,
        daily.subscription_type,
        daily.terminal_type,
        daily.sessions,
        daily.lines_added,
        daily.lines_removed,
        daily.commits,
        daily.pull_requests,
        daily.tool_actions_accepted,
        daily.tool_actions_rejected,
        -- accepted / (accepted + rejected) to four places, rounded half up in integers (the same digits on every
        -- engine); null when no tool action was proposed
        cast(
            cast(floor(
                cast(20000 * daily.tool_actions_accepted + daily.tool_actions_accepted + daily.tool_actions_rejected
                    as {{ type_decimal(38, 0) }})
                / nullif(2 * (daily.tool_actions_accepted + daily.tool_actions_rejected), 0)
            ) as {{ dbt.type_bigint() }}) * 0.0001
            as decimal(18, 4)
        ) as acceptance_rate,
        daily.input_tokens,
        daily.output_tokens,
        daily.cache_read_tokens,
        daily.cache_creation_tokens,
        {{ money('daily.estimated_cost_usd') }} as estimated_cost_usd,
        primary_models.model_ref as primary_model,
        -- dollars per line added, to a millionth of a dollar; null when no line was added
        {{ money(rounded_ratio('daily.estimated_cost_usd', 'daily.lines_added', 6)) }} as estimated_cost_per_line_usd
    from daily
    left join primary_models
        on primary_models.usage_date = daily.usage_date
        and primary_models.principal_id = daily.principal_id
        and primary_models.terminal_type = daily.terminal_type
        and primary_models.customer_type = daily.customer_type
        and primary_models.subscription_key = daily.subscription_key

)

select * from final
