-- One row per merged pull request.
with

source as (

    select * from {{ source('github', 'pull_requests') }}

)

select
    pr_key,
    lower(repository) as repository,
    number as pr_number,
    title,
    lower(author_login) as author_login,
    coalesce(author_type = 'Bot' or author_login like '%[bot]', false) as is_bot,
    created_at,
    merged_at,
    merged_date,
    cast(created_at as date) as created_date,
    coalesce(additions, 0) as lines_added,
    coalesce(deletions, 0) as lines_deleted,
    coalesce(changed_files, 0) as changed_files,
    labels
from source
