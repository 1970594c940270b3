{{
    config(
        materialized='incremental',
        incremental_strategy=append_strategy(),
        pre_hook="{{ delete_rebuilt_periods('month_start', 'month', 1) }}",
        on_schema_change='fail',
    )
}}
-- One row per recommendation x month the ledger has spend in: what to change, who owns it, the evidence in figures,
-- and the money it would have saved that month, computed from the price book and the seat prices (nothing hard-coded).
-- A month still in progress counts its days so far. Advice, never enforcement: nothing here blocks anyone.
--
--   idle_seat            a Copilot seat (seat list: last activity) or a Cursor member (daily usage: active days) with no
--                        activity for recommendation_idle_days (30) days as of the month's latest ledger day; a seat
--                        whose cancellation is already pending is left out. Saving: the seat's monthly price (Copilot:
--                        the plan's price per user-month on GitHub's bill; Cursor: the directory's seat price).
--   premium_model_for_autocomplete
--                        premium-tier tokens doing autocomplete-class work: ledger lines with use case 'autocomplete',
--                        and agent requests (telemetry) on a premium model that returned at most
--                        recommendation_small_request_output_tokens (200) output tokens. Saving: their tokens at the
--                        model's list price minus the same tokens (same token types, price context, context tier, day)
--                        at the list price of the family's recommendation_alternative_tier ('standard') model - the one
--                        of that family and tier the organisation uses most (ledger tokens), so the advice can be
--                        followed. List prices on both sides (what a switch changes), not the bill.
--   low_cache_reads      agent sessions of at least recommendation_cache_min_turns (5) turns whose cache_read_ratio is
--                        below recommendation_cache_read_ratio_threshold (0.5). Saving: the uncached input tokens that
--                        a recommendation_cache_read_target (0.8) ratio would have read from the cache
--                        (target x prompt tokens - cache reads, at most the uncached input) x (input price - cache read
--                        price) of the session's primary model. The cache writes a cache needs are not deducted (a
--                        write costs 1.25x input once, a read 0.1x every turn after): an upper bound.
--   reset_context        agent sessions in which a turn cost at least recommendation_context_reset_ratio (5) x the
--                        first turn (the context kept growing). Saving: per turn, its cost above that many times the
--                        first turn's cost (what a reset or compaction would have kept it near), summed.
-- Usage findings are grouped per month x principal (a person's pseudonym when pseudonymize_people is on, a service)
-- and tool (and model, for premium models); a finding saving less than recommendation_min_savings_usd ($1) is left out.
--
-- Incremental (macros/periods.sql): a run rebuilds the months its window touches and the month after (whose idle
-- seats look back into it); earlier months keep the advice as it stood when they were last rebuilt, e.g. a Copilot
-- seat cancelled since then stays in the month it was idle in. The first build computes every month.
{%- set idle_days = var('recommendation_idle_days', 30) -%}
{%- set small_output_tokens = var('recommendation_small_request_output_tokens', 200) -%}
{%- set alternative_tier = var('recommendation_alternative_tier', 'standard') -%}
{%- set cache_min_turns = var('recommendation_cache_min_turns', 5) -%}
{%- set cache_threshold = var('recommendation_cache_read_ratio_threshold', 0.5) -%}
{%- set cache_target = var('recommendation_cache_read_target', 0.8) -%}
{%- set reset_ratio = var('recommendation_context_reset_ratio', 5) -%}
{%- set min_savings = var('recommendation_min_savings_usd', 1) -%}
{%- set pseudonymize = var('pseudonymize_people') | string | lower in ('true', '1', 'yes', 'on') -%}
{%- set text = dbt.type_string() -%}
{#- a Copilot seat is shown by its GitHub login; when people are pseudonymized, by the holder's pseudonym -#}
{%- set copilot_holder = person_label('coalesce(person_email, user_login)') if pseudonymize else 'user_login' -%}
{%- set bigint = dbt.type_bigint() -%}
{%- set token_columns = [
    ('input_tokens', 'input'),
    ('output_tokens', 'output'),
    ('cache_write_tokens', 'cache_write_5m'),
    ('cache_read_tokens', 'cache_read'),
] %}

with

-- read twice: recomputed where read rather than buffered whole on DuckDB (cte_inlined, see docs/warehouses.md)
ledger as {{ cte_inlined() }} (

    select * from {{ ref('fct_ai_usage_daily') }}
    {% if is_incremental() %}
    where usage_date >= {{ rebuilt_period_start('month') }}
    {% endif %}

),

-- tokens per model over the whole ledger, also on an incremental run: which model of a tier the organisation uses most
model_tokens as (

    select provider, model_ref, sum(token_count) as token_count
    from {{ ref('fct_ai_usage_daily') }}
    group by provider, model_ref

),

months as (

    select
        cast({{ dbt.date_trunc('month', 'usage_date') }} as date) as month_start,
        max(usage_date) as as_of_date
    from ledger
    group by cast({{ dbt.date_trunc('month', 'usage_date') }} as date)

),

-- the months this run rebuilds (every month on the first build): every recommendation is of one of them
month_names as (

    select
        month_start,
        as_of_date,
        {{ month_name_text('month_start') }} as month_name
    from months
    {%- if is_incremental() %}
    where {{ is_rebuilt_period('month_start', 'month', 1) }}
    {%- endif %}

),

people as (

    select * from {{ ref('stg_org__people') }}

),

identities as (

    select * from {{ ref('stg_org__identities') }}

),

refs as (

    select * from {{ ref('int_model_refs_unioned') }}

),

prices as (

    select * from {{ ref('stg_pricing__model_prices') }}

),

catalog as (

    select * from {{ ref('model_catalog') }}

),

-- on an incremental run, the sessions with a day in the rebuilt months: those started in them, and those started before
-- whose requests reach into them (ended_date is on or after every request's day)
sessions as (

    select * from {{ ref('fct_agent_sessions') }}
    {% if is_incremental() %}
    where ended_date >= {{ rebuilt_period_start('month') }}
    {% endif %}

),

-- a session's requests are on or after its day, so the rebuilt months' sessions have all of theirs from here on
requests as (

    select * from {{ ref('stg_agent_telemetry__requests') }}
    {% if is_incremental() %}
    where usage_date >= {{ rebuilt_period_start('month') }}
    {% endif %}

),

-- ------------------------------------------------------------------------------------------------ idle seats

copilot_seats as (

    select
        seats.*,
        people.email as person_email,
        coalesce(people.team_id, 'unallocated') as team_id
    from {{ ref('stg_copilot__seats') }} as seats
    left join identities
        on identities.tool = 'github'
        and lower(identities.external_id) = seats.user_login
    left join people
        on people.email = identities.email

),

copilot_seat_prices as (

    select plan_type, usage_date, price_per_unit
    from {{ ref('stg_copilot__billing_usage') }}
    where cost_type = 'seat' and price_per_unit is not null

),

copilot_idle as (

    select
        month_names.month_start,
        month_names.as_of_date,
        copilot_seats.user_login,
        copilot_seats.person_email,
        copilot_seats.team_id,
        copilot_seats.plan_type,
        copilot_seats.seat_start_date,
        cast(copilot_seats.last_activity_at as date) as last_active_date,
        {{ dbt.datediff(
            'coalesce(cast(copilot_seats.last_activity_at as date), copilot_seats.seat_start_date)',
            'month_names.as_of_date', 'day') }} as idle_days
    from copilot_seats
    cross join month_names
    where copilot_seats.seat_start_date <= month_names.as_of_date
        -- a seat whose cancellation is pending (or that left the seat list) is already being dealt with
        and copilot_seats.seat_end_date is null
        and (
            copilot_seats.last_activity_at is null
            or cast(copilot_seats.last_activity_at as date) <= month_names.as_of_date
        )

),

-- the plan's price per user-month on GitHub's bill: the latest seat line on or before the day
copilot_idle_priced as (

    select
        copilot_idle.*,
        prices.price_per_unit as seat_price,
        row_number() over (
            partition by copilot_idle.month_start, copilot_idle.user_login order by prices.usage_date desc
        ) as price_rank
    from copilot_idle
    inner join copilot_seat_prices as prices
        on prices.plan_type = copilot_idle.plan_type
        and prices.usage_date <= copilot_idle.as_of_date
    where copilot_idle.idle_days >= {{ idle_days }}

),

cursor_members as (

    select * from {{ ref('stg_cursor__daily_usage') }}

),

cursor_listed as (

    select
        month_names.month_start,
        month_names.as_of_date,
        listed.email,
        min(history.usage_date) as first_listed_date,
        max(case when history.is_active then history.usage_date end) as last_active_date
    from month_names
    inner join cursor_members as listed
        on listed.usage_date = month_names.as_of_date
    inner join cursor_members as history
        on history.email = listed.email
        and history.usage_date <= month_names.as_of_date
    group by month_names.month_start, month_names.as_of_date, listed.email

),

cursor_seat_prices as (

    select * from {{ ref('stg_org__fixed_costs') }}
    where cost_kind = 'seats' and provider = 'cursor'

),

cursor_idle as (

    select
        cursor_listed.*,
        case
            when cursor_listed.last_active_date is not null
                then {{ dbt.datediff('cursor_listed.last_active_date', 'cursor_listed.as_of_date', 'day') }}
            -- never active in the days the warehouse has: idle for as long as it has listed the member
            else {{ dbt.datediff('cursor_listed.first_listed_date', 'cursor_listed.as_of_date', 'day') }} + 1
        end as idle_days,
        cursor_seat_prices.usd_per_month as seat_price,
        coalesce(people.team_id, identity_people.team_id, 'unallocated') as team_id,
        coalesce(people.email, identity_people.email) as person_email
    from cursor_listed
    inner join cursor_seat_prices
        on (cursor_seat_prices.valid_from is null or cursor_listed.as_of_date >= cursor_seat_prices.valid_from)
        and (cursor_seat_prices.valid_to is null or cursor_listed.as_of_date < cursor_seat_prices.valid_to)
    left join identities
        on identities.tool = 'cursor'
        and lower(identities.external_id) = cursor_listed.email
    left join people as identity_people
        on identity_people.email = identities.email
    left join people
        on people.email = cursor_listed.email

),

idle_seats as (

    {{ recommendation_rows(
        'copilot_idle_priced', 'idle_seat', 'copilot_seat',
        entity_id=copilot_holder,
        savings='seat_price',
        evidence=dbt.concat([
            "'GitHub Copilot '", 'plan_type', "' seat: '",
            "case when last_active_date is null then "
                ~ dbt.concat(["'never used since it was assigned on '", 'cast(seat_start_date as ' ~ text ~ ')'])
                ~ " else " ~ dbt.concat(["'last used on '", 'cast(last_active_date as ' ~ text ~ ')']) ~ " end",
            "' ('", 'cast(idle_days as ' ~ text ~ ')', "' days before '", 'cast(as_of_date as ' ~ text ~ ')',
            "'); the plan costs '", grouped_usd_text('seat_price'), text_literal(" per user and month on GitHub's bill."),
        ]),
        action="'Unassign the Copilot seat (organization settings > Copilot > Access), or ask its holder whether they still need it; GitHub stops billing it from the next billing cycle.'",
        sentence=dbt.concat([
            "'Removing the idle Copilot '", 'plan_type', "' seat of '",
            copilot_holder,
            "' (no activity for '", 'cast(idle_days as ' ~ text ~ ')', "' days) saves '",
            grouped_usd_text('seat_price'), "' a month.'",
        ]),
        by_month_name=false,
        where='price_rank = 1'
    ) }}

    union all

    {{ recommendation_rows(
        'cursor_idle', 'idle_seat', 'cursor_seat',
        entity_id=person_label('email'),
        savings='seat_price',
        evidence=dbt.concat([
            "'Cursor seat: '",
            "case when last_active_date is null then "
                ~ dbt.concat(["'no active day since the member was first listed on '",
                              'cast(first_listed_date as ' ~ text ~ ')'])
                ~ " else " ~ dbt.concat(["'last active on '", 'cast(last_active_date as ' ~ text ~ ')']) ~ " end",
            "' ('", 'cast(idle_days as ' ~ text ~ ')', "' days before '", 'cast(as_of_date as ' ~ text ~ ')',
            "'); a seat costs '", grouped_usd_text('seat_price'), text_literal(" a month (the directory's seat price)."),
        ]),
        action="'Remove the member from the Cursor team (or downgrade them), or ask whether they still need the seat.'",
        sentence=dbt.concat([
            "'Removing the idle Cursor seat of '", person_label('email'),
            "' (no activity for '", 'cast(idle_days as ' ~ text ~ ')', "' days) saves '",
            grouped_usd_text('seat_price'), "' a month.'",
        ]),
        by_month_name=false,
        where='idle_days >= ' ~ idle_days
    ) }}

),

-- ------------------------------------------------------------------------------------- model classes and prices

-- every model id this mart prices, classified by the model_catalog seed (most specific pattern wins, as dim_models)
model_ids as (

    select distinct model_ref from model_tokens
    union distinct
    select distinct model_ref from requests where model_ref is not null

),

model_classes as (

    select model_ref, model_family, model_tier
    from (
        select
            model_ids.model_ref,
            catalog.model_family,
            catalog.model_tier,
            row_number() over (partition by model_ids.model_ref order by catalog.priority, catalog.pattern) as match_rank
        from model_ids
        inner join catalog
            on lower(model_ids.model_ref) like catalog.pattern
    ) as matched
    where match_rank = 1

),

-- per family, the alternative: the priced model of the target tier the organisation used most (ledger tokens)
alternatives as (

    select model_family, price_provider, price_model_id
    from (
        select
            model_classes.model_family,
            refs.price_provider,
            refs.price_model_id,
            row_number() over (
                partition by model_classes.model_family
                order by sum(model_tokens.token_count) desc, refs.price_model_id
            ) as usage_rank
        from model_tokens
        inner join model_classes
            on model_classes.model_ref = model_tokens.model_ref
        inner join refs
            on refs.provider = model_tokens.provider
            and refs.model_ref = model_tokens.model_ref
        where model_classes.model_tier = '{{ alternative_tier }}'
            and refs.price_model_id is not null
        group by model_classes.model_family, refs.price_provider, refs.price_model_id
    ) as ranked
    where usage_rank = 1

),

-- ------------------------------------------------------------------------- premium models on autocomplete-class work

-- ledger lines: premium-tier tokens with use case autocomplete
autocomplete_lines as (

    select
        cast({{ dbt.date_trunc('month', 'ledger.usage_date') }} as date) as month_start,
        ledger.principal_id,
        ledger.team_id,
        ledger.tool,
        ledger.provider,
        ledger.model_ref,
        model_classes.model_family,
        ledger.usage_date,
        ledger.service_tier as price_context,
        ledger.context_tier,
        case ledger.token_type when 'cache_write' then 'cache_write_5m' else ledger.token_type end as price_key,
        ledger.token_count,
        cast(null as {{ text }}) as event_key,
        ledger.list_cost_usd as list_cost
    from ledger
    inner join model_classes
        on model_classes.model_ref = ledger.model_ref
    where ledger.use_case = 'autocomplete'
        and ledger.cost_type = 'tokens'
        and model_classes.model_tier = 'premium'
        and ledger.token_count > 0
        and ledger.list_cost_usd is not null

),

-- agent requests: an answered request on a premium model that returned few output tokens
small_requests as (

    select
        cast({{ dbt.date_trunc('month', 'requests.usage_date') }} as date) as month_start,
        sessions.principal_id,
        sessions.team_id,
        requests.tool,
        requests.provider,
        requests.model_ref,
        model_classes.model_family,
        requests.usage_date,
        {{ request_context_tier('requests') }} as context_tier,
        requests.event_key,
        requests.input_tokens,
        requests.output_tokens,
        requests.cache_write_tokens,
        requests.cache_read_tokens
    from requests
    inner join sessions
        on sessions.session_key = requests.session_key
    inner join model_classes
        on model_classes.model_ref = requests.model_ref
    where requests.is_request
        and model_classes.model_tier = 'premium'
        and coalesce(requests.output_tokens, 0) <= {{ small_output_tokens }}

),

small_request_lines as (

    {% for column, price_key in token_columns %}
    select
        month_start, principal_id, team_id, tool, provider, model_ref, model_family, usage_date,
        'standard' as price_context,
        context_tier,
        '{{ price_key }}' as price_key,
        {{ column }} as token_count,
        event_key,
        cast(null as {{ type_money() }}) as list_cost
    from small_requests
    where {{ column }} > 0
    {% if not loop.last %}union all{% endif %}
    {% endfor %}

),

premium_lines as (

    select 'autocomplete' as finding_source, autocomplete_lines.* from autocomplete_lines
    union all
    select 'small_requests' as finding_source, small_request_lines.* from small_request_lines

),

-- each line at its own model's list price (the ledger's list cost, or the price book for telemetry) and at the
-- alternative's, same price context, context tier, token type and day; a line either side cannot price is left out
premium_priced as (

    select
        premium_lines.*,
        alternatives.price_model_id as alternative_model,
        coalesce(
            premium_lines.list_cost,
            premium_lines.token_count * own_price.usd_per_million_tokens * 0.000001
        ) as current_cost,
        premium_lines.token_count * alternative_price.usd_per_million_tokens * 0.000001 as alternative_cost
    from premium_lines
    inner join alternatives
        on alternatives.model_family = premium_lines.model_family
    left join refs
        on refs.provider = premium_lines.provider
        and refs.model_ref = premium_lines.model_ref
    left join prices as own_price
        on own_price.provider = coalesce(refs.price_provider, premium_lines.provider)
        and own_price.price_model_id = coalesce(refs.price_model_id, premium_lines.model_ref)
        and own_price.price_context = premium_lines.price_context
        and own_price.context_tier = premium_lines.context_tier
        and own_price.price_key = premium_lines.price_key
        and premium_lines.usage_date >= own_price.valid_from
        and premium_lines.usage_date < own_price.valid_to
    inner join prices as alternative_price
        on alternative_price.provider = alternatives.price_provider
        and alternative_price.price_model_id = alternatives.price_model_id
        and alternative_price.price_context = premium_lines.price_context
        and alternative_price.context_tier = premium_lines.context_tier
        and alternative_price.price_key = premium_lines.price_key
        and premium_lines.usage_date >= alternative_price.valid_from
        and premium_lines.usage_date < alternative_price.valid_to

),

premium_findings as (

    select
        finding_source,
        month_start,
        principal_id,
        team_id,
        tool,
        model_ref,
        alternative_model,
        count(distinct event_key) as request_count,
        sum(token_count) as token_count,
        sum(current_cost) as current_cost,
        sum(alternative_cost) as alternative_cost,
        sum(current_cost) - sum(alternative_cost) as savings
    from premium_priced
    where current_cost is not null
    group by finding_source, month_start, principal_id, team_id, tool, model_ref, alternative_model

),

premium_models as (

    {{ recommendation_rows(
        'premium_findings', 'premium_model_for_autocomplete', 'principal_model',
        entity_id=dbt.concat(['premium_findings.principal_id', "' / '", 'premium_findings.model_ref', "' ('",
                              'premium_findings.tool', "')'"]),
        savings='premium_findings.savings',
        evidence="case when premium_findings.finding_source = 'autocomplete' then " ~ dbt.concat([
                grouped_count_text('premium_findings.token_count'),
                "' autocomplete tokens on the premium model '", 'premium_findings.model_ref', "' in '",
                'month_names.month_name', "' cost '", grouped_usd_text('premium_findings.current_cost'),
                "' at list price; at '", 'premium_findings.alternative_model', text_literal("'s list price they cost "),
                grouped_usd_text('premium_findings.alternative_cost'), "'.'",
            ]) ~ " else " ~ dbt.concat([
                grouped_count_text('premium_findings.request_count'), "' '", 'premium_findings.tool',
                "' requests to the premium model '", 'premium_findings.model_ref', "' in '", 'month_names.month_name',
                "' returned at most " ~ small_output_tokens ~ " output tokens (autocomplete-sized); their '",
                grouped_count_text('premium_findings.token_count'), "' tokens cost '",
                grouped_usd_text('premium_findings.current_cost'), "' at list price, and would cost '",
                grouped_usd_text('premium_findings.alternative_cost'), "' on '",
                'premium_findings.alternative_model', "'.'",
            ]) ~ " end",
        action=dbt.concat([
            "'Send short, autocomplete-class requests to '", 'premium_findings.alternative_model',
            text_literal(" (the tool's small/fast model setting, or the key's default model) and keep "),
            'premium_findings.model_ref', "' for the long, hard tasks.'",
        ]),
        sentence=dbt.concat([
            "'Moving '", 'premium_findings.principal_id', text_literal("'s autocomplete-sized "), 'premium_findings.model_ref',
            "' traffic to '", 'premium_findings.alternative_model', "' would have saved '",
            grouped_usd_text('premium_findings.savings'), "' in '", 'month_names.month_name', "'.'",
        ])
    ) }}

),

-- --------------------------------------------------------------------------------------- agent sessions' prices

-- the session's primary model's input and cache-read list prices on its day (standard price context, base tier)
session_prices as (

    select
        sessions.session_key,
        max(case when prices.price_key = 'input' then prices.usd_per_million_tokens end) as input_price,
        max(case when prices.price_key = 'cache_read' then prices.usd_per_million_tokens end) as cache_read_price
    from sessions
    left join refs
        on refs.provider = sessions.provider
        and refs.model_ref = sessions.primary_model_ref
    inner join prices
        on prices.provider = coalesce(refs.price_provider, sessions.provider)
        and prices.price_model_id = coalesce(refs.price_model_id, sessions.primary_model_ref)
        and prices.price_context = 'standard'
        and prices.context_tier = 'base'
        and prices.price_key in ('input', 'cache_read')
        and sessions.session_date >= prices.valid_from
        and sessions.session_date < prices.valid_to
    group by sessions.session_key

),

-- ------------------------------------------------------------------------------------------- low cache reads

cache_sessions as (

    select
        cast({{ dbt.date_trunc('month', 'sessions.session_date') }} as date) as month_start,
        sessions.tool,
        sessions.principal_id,
        sessions.team_id,
        sessions.session_key,
        sessions.turns,
        sessions.input_tokens + sessions.cache_read_tokens + sessions.cache_write_tokens as prompt_tokens,
        sessions.cache_read_tokens,
        -- the uncached input a target ratio would have read from the cache (never more than the uncached input)
        case
            when {{ cache_target }} * (sessions.input_tokens + sessions.cache_read_tokens + sessions.cache_write_tokens)
                - sessions.cache_read_tokens > sessions.input_tokens then sessions.input_tokens
            else {{ cache_target }} * (sessions.input_tokens + sessions.cache_read_tokens + sessions.cache_write_tokens)
                - sessions.cache_read_tokens
        end as cacheable_tokens,
        session_prices.input_price,
        session_prices.cache_read_price
    from sessions
    inner join session_prices
        on session_prices.session_key = sessions.session_key
    where sessions.turns >= {{ cache_min_turns }}
        and sessions.cache_read_ratio < {{ cache_threshold }}
        and session_prices.input_price > session_prices.cache_read_price

),

cache_findings as (

    select
        month_start,
        tool,
        principal_id,
        team_id,
        count(*) as session_count,
        sum(turns) as turn_count,
        sum(prompt_tokens) as prompt_tokens,
        sum(cache_read_tokens) as cache_read_tokens,
        sum(cacheable_tokens) as cacheable_tokens,
        sum(cacheable_tokens * (input_price - cache_read_price) * 0.000001) as savings
    from cache_sessions
    where cacheable_tokens > 0
    group by month_start, tool, principal_id, team_id

),

low_cache as (

    {{ recommendation_rows(
        'cache_findings', 'low_cache_reads', 'agent_workload',
        entity_id=dbt.concat(['cache_findings.principal_id', "' ('", 'cache_findings.tool', "')'"]),
        savings='cache_findings.savings',
        evidence=dbt.concat([
            grouped_count_text('cache_findings.session_count'), "' '", 'cache_findings.tool',
            "' sessions in '", 'month_names.month_name', "' ran '",
            grouped_count_text('cache_findings.turn_count'), "' turns reading only '",
            whole_percent_text('cache_findings.cache_read_tokens * 1.0 / cache_findings.prompt_tokens'),
            "' of their '", grouped_count_text('cache_findings.prompt_tokens'),
            "' prompt tokens from the cache (threshold " ~ (cache_threshold * 100) | round | int ~ "%); at "
                ~ (cache_target * 100) | round | int ~ "% another '",
            grouped_count_text('cache_findings.cacheable_tokens'),
            "' input tokens would have been cache reads.'",
        ]),
        action="'Turn on prompt caching (cache_control breakpoints on the system prompt, tools and long context) and keep the stable part of the prompt first, unchanged between turns.'",
        sentence=dbt.concat([
            "'Caching the repeated context of '", 'cache_findings.principal_id', text_literal("'s "), 'cache_findings.tool',
            "' sessions would have saved '", grouped_usd_text('cache_findings.savings'), "' in '",
            'month_names.month_name', "'.'",
        ])
    ) }}

),

-- ----------------------------------------------------------------------------------------------- reset context

-- sessions where some turn cost at least N x the first
bloated_sessions as (

    select *
    from sessions
    where first_turn_cost_usd > 0
        and max_turn_cost_usd >= {{ reset_ratio }} * first_turn_cost_usd

),

-- each request's cost as fct_agent_sessions counts it: the telemetry's cost, else its tokens at list price
bloated_request_lines as (

    {% for column, price_key in token_columns %}
    select
        requests.event_key,
        requests.provider,
        requests.model_ref,
        requests.usage_date,
        {{ request_context_tier('requests') }} as context_tier,
        '{{ price_key }}' as price_key,
        requests.{{ column }} as token_count
    from requests
    inner join bloated_sessions
        on bloated_sessions.session_key = requests.session_key
    where requests.reported_cost_usd is null
        and requests.{{ column }} > 0
    {% if not loop.last %}union all{% endif %}
    {% endfor %}

),

bloated_list_costs as (

    select
        lines.event_key,
        sum(lines.token_count * prices.usd_per_million_tokens * 0.000001) as list_cost
    from bloated_request_lines as lines
    left join refs
        on refs.provider = lines.provider
        and refs.model_ref = lines.model_ref
    inner join prices
        on prices.provider = coalesce(refs.price_provider, lines.provider)
        and prices.price_model_id = coalesce(refs.price_model_id, lines.model_ref)
        and prices.price_context = 'standard'
        and prices.context_tier = lines.context_tier
        and prices.price_key = lines.price_key
        and lines.usage_date >= prices.valid_from
        and lines.usage_date < prices.valid_to
    group by lines.event_key

),

bloated_turns as (

    select
        requests.session_key,
        coalesce(requests.prompt_id, requests.event_key) as turn_id,
        sum(coalesce(requests.reported_cost_usd, bloated_list_costs.list_cost, 0)) as turn_cost
    from requests
    inner join bloated_sessions
        on bloated_sessions.session_key = requests.session_key
    left join bloated_list_costs
        on bloated_list_costs.event_key = requests.event_key
    group by requests.session_key, coalesce(requests.prompt_id, requests.event_key)

),

reset_sessions as (

    select
        cast({{ dbt.date_trunc('month', 'bloated_sessions.session_date') }} as date) as month_start,
        bloated_sessions.tool,
        bloated_sessions.principal_id,
        bloated_sessions.team_id,
        bloated_sessions.session_key,
        bloated_sessions.session_date,
        bloated_sessions.turns,
        bloated_sessions.cost_usd,
        bloated_sessions.first_turn_cost_usd,
        bloated_sessions.max_turn_cost_usd,
        sum(case
            when bloated_turns.turn_cost > {{ reset_ratio }} * bloated_sessions.first_turn_cost_usd
                then bloated_turns.turn_cost - {{ reset_ratio }} * bloated_sessions.first_turn_cost_usd
            else 0
        end) as savings,
        sum(case
            when bloated_turns.turn_cost >= {{ reset_ratio }} * bloated_sessions.first_turn_cost_usd then 1 else 0
        end) as bloated_turn_count
    from bloated_sessions
    inner join bloated_turns
        on bloated_turns.session_key = bloated_sessions.session_key
    group by
        bloated_sessions.session_date, bloated_sessions.tool, bloated_sessions.principal_id, bloated_sessions.team_id,
        bloated_sessions.session_key, bloated_sessions.turns, bloated_sessions.cost_usd,
        bloated_sessions.first_turn_cost_usd, bloated_sessions.max_turn_cost_usd

),

-- per principal and tool: the sessions, and the worst one (the highest last-to-first ratio) for the evidence
reset_ranked as (

    select
        reset_sessions.*,
        row_number() over (
            partition by month_start, tool, principal_id, team_id
            order by max_turn_cost_usd / first_turn_cost_usd desc, session_key
        ) as worst_rank,
        count(*) over (partition by month_start, tool, principal_id, team_id) as session_count,
        sum(savings) over (partition by month_start, tool, principal_id, team_id) as total_savings
    from reset_sessions

),

reset_context as (

    {{ recommendation_rows(
        'reset_ranked', 'reset_context', 'agent_workload',
        entity_id=dbt.concat(['reset_ranked.principal_id', "' ('", 'reset_ranked.tool', "')'"]),
        savings='reset_ranked.total_savings',
        evidence=dbt.concat([
            grouped_count_text('reset_ranked.session_count'), "' '", 'reset_ranked.tool',
            "' session(s) in '", 'month_names.month_name',
            "' had a turn costing " ~ reset_ratio ~ "x the first or more; the worst, on '",
            'cast(reset_ranked.session_date as ' ~ text ~ ')', "', ran '", 'cast(reset_ranked.turns as ' ~ text ~ ')',
            "' turns for '", grouped_usd_text('reset_ranked.cost_usd'), "': first turn '",
            grouped_usd_text('reset_ranked.first_turn_cost_usd'), "', most expensive turn '",
            grouped_usd_text('reset_ranked.max_turn_cost_usd'), "' ('",
            "cast(cast(round(reset_ranked.max_turn_cost_usd / reset_ranked.first_turn_cost_usd, 0) as " ~ bigint ~ ") as " ~ text ~ ")",
            text_literal("x). The turns' cost above " ~ reset_ratio ~ "x the first came to "),
            grouped_usd_text('reset_ranked.total_savings'), "'.'",
        ]),
        action="'Start a new session (or /compact, /clear) when the task changes or the context passes a few hundred thousand tokens; carry over a short summary instead of the whole history.'",
        sentence=dbt.concat([
            "'Resetting context in '", 'reset_ranked.principal_id', text_literal("'s long "), 'reset_ranked.tool',
            "' sessions would have saved about '", grouped_usd_text('reset_ranked.total_savings'),
            "' in '", 'month_names.month_name', "'.'",
        ]),
        where='reset_ranked.worst_rank = 1'
    ) }}

),

recommendations as (

    select * from idle_seats
    union all
    select * from premium_models
    union all
    select * from low_cache
    union all
    select * from reset_context

)

select
    {{ surrogate_key(['recommendation_type', 'entity_type', 'entity_id', 'team_id', 'month_start']) }}
        as recommendation_key,
    recommendation_type,
    entity_type,
    entity_id,
    team_id,
    month_start,
    evidence,
    cast(round(savings, 2) as {{ type_money() }}) as estimated_monthly_savings_usd,
    action,
    sentence
from recommendations
where savings >= {{ min_savings }}
