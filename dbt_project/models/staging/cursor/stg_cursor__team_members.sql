-- One row per member of the Cursor team (removed members included), email lower-cased.
select
    member_id,
    lower(trim(email)) as email,
    name as member_name,
    role,
    coalesce(is_removed, false) as is_removed,
    observed_at
from {{ source('cursor', 'team_members') }}
