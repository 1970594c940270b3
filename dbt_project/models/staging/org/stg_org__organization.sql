-- The organisation's name from the org directory (one row).
select organization from {{ source('org', 'organization') }}
