-- One row per deployment to a tracked environment; deploy_date is the day it first succeeded (else created).
with

source as (

    select * from {{ source('github', 'deployments') }}

)

select
    deployment_id,
    lower(repository) as repository,
    environment,
    sha,
    lower(creator_login) as creator_login,
    created_at,
    created_date,
    latest_state,
    coalesce(is_success, false) as is_success,
    succeeded_at,
    coalesce(cast(succeeded_at as date), created_date) as deploy_date
from source
