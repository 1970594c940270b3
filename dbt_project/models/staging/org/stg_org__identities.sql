-- One row per (tool, external id): which person an id in a tool belongs to.
select lower(email) as email, tool, external_id from {{ source('org', 'identities') }}
