-- One row per Cursor request (usage event): typed, email lower-cased, tokens as zeros where the call was not token
-- based, and its money in US dollars.
--
-- billed_cost is what Cursor charges for the request beyond the plan: the charged cents (model cost plus Cursor's
-- token fee) when the event is chargeable, else 0. `isChargeable` and `chargedCents` are newer fields: where the API
-- does not send them, a 'Usage-based' kind means chargeable and the charge is the tokens' cents plus the token fee.
-- Included requests ('Included in Business', ...) are paid by the seat and bill nothing here; their cents stay in
-- model_cost_usd (what the request costs at Cursor's rates).
-- No window dedupe here: ingestion quarantines an event listed twice, and row_key is tested unique in the window.
with

source as (

    select * from {{ source('cursor', 'usage_events') }}

),

typed as (

    select
        row_key as event_id,
        bucket_date as usage_date,
        event_at,
        lower(trim(user_email)) as user_email,
        coalesce(model, '(unknown)') as model_ref,
        kind,
        coalesce(max_mode, false) as is_max_mode,
        coalesce(
            is_token_based_call,
            input_tokens is not null or output_tokens is not null
                or cache_write_tokens is not null or cache_read_tokens is not null
        ) as is_token_based,
        coalesce(is_chargeable, lower(kind) = 'usage-based', false) as is_chargeable,
        coalesce(is_headless, false) as is_headless,
        coalesce(is_free_bugbot, false) as is_free_bugbot,
        requests_costs as request_units,
        coalesce(input_tokens, 0) as input_tokens,
        coalesce(output_tokens, 0) as output_tokens,
        coalesce(cache_write_tokens, 0) as cache_write_tokens,
        coalesce(cache_read_tokens, 0) as cache_read_tokens,
        total_cents,
        charged_cents,
        cursor_token_fee_cents
    from source

),

final as (

    select
        event_id,
        usage_date,
        event_at,
        user_email,
        model_ref,
        kind,
        is_max_mode,
        is_token_based,
        is_chargeable,
        is_headless,
        is_free_bugbot,
        request_units,
        input_tokens,
        output_tokens,
        cache_write_tokens,
        cache_read_tokens,
        -- cents to dollars by multiplying (exact decimals; a division would go through floating point on DuckDB),
        -- left at the cents' scale plus two: not cast to the money type here, event by event. Rescaling a 38-digit
        -- decimal is a wide division with rounding (DuckDB: 1.8 s for a month of L's 8.8M events, each of the two
        -- columns, against 0.1 s for their sums); the models that add events up cast their sums, which also rounds
        -- once per sum rather than once per event.
        coalesce(total_cents, 0) * 0.01 as model_cost_usd,
        case
            when is_chargeable
                then coalesce(charged_cents, coalesce(total_cents, 0) + coalesce(cursor_token_fee_cents, 0))
            else 0
        end * 0.01 as billed_cost,
        'USD' as currency
    from typed

)

select * from final
