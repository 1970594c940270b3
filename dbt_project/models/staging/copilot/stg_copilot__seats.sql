-- One row per Copilot seat holder, from the latest seat snapshot that lists them: plan and the days the seat ran.
-- A seat runs from its creation day until its pending cancellation day (exclusive); a login missing from a later
-- snapshot stopped the day after the last snapshot that listed it.
with

snapshots as (

    select * from {{ source('copilot', 'seats') }}
    where assignee_login is not null

),

latest_snapshot as (

    select max(snapshot_date) as snapshot_date from snapshots

),

ranked as (

    select
        snapshots.*,
        row_number() over (partition by lower(assignee_login) order by snapshot_date desc, observed_at desc) as row_rank
    from snapshots

)

select
    lower(ranked.assignee_login) as user_login,
    ranked.assignee_type,
    lower(ranked.plan_type) as plan_type,
    cast(ranked.created_at as date) as seat_start_date,
    case
        when ranked.snapshot_date < latest_snapshot.snapshot_date
            then least(
                coalesce(ranked.pending_cancellation_date, {{ dbt.dateadd('day', 1, 'ranked.snapshot_date') }}),
                {{ dbt.dateadd('day', 1, 'ranked.snapshot_date') }}
            )
        else ranked.pending_cancellation_date
    end as seat_end_date,
    ranked.last_activity_at,
    ranked.last_activity_editor,
    ranked.assigning_team_slug,
    ranked.snapshot_date as last_seen_snapshot_date
from ranked
cross join latest_snapshot
where ranked.row_rank = 1
