-- One row per FOCUS cost row of an export file (row_key): typed and renamed, with the three allocation tags read
-- out of the Tags JSON.
--
-- Tags: keys are matched without regard to case or surrounding blanks, and AWS's `user:` prefix for user-defined
-- cost allocation tags is ignored (`Team`, ` team `, `user:Team` are all the team tag). Which keys count is
-- configuration (dbt vars, a list or comma-separated text):
--   focus_tag_team_keys         default ['team']
--   focus_tag_project_keys      default ['project']
--   focus_tag_environment_keys  default ['env', 'environment']
-- Only those keys: `cost-center`, `owner` and the like are not a team unless configured. When several keys of a row
-- match the same tag, the one listed first wins, then the key already in lower case, then the first key in order.
-- An empty value counts as no tag. Values are kept as tagged (trimmed); the intermediate layer matches them to the
-- org directory and normalises environments.
--
-- Money stays as landed (decimal(38,12), USD: ingestion refuses other currencies): the marts round once, after
-- summing. No dedupe: row_key (file + row number) is unique by construction, and a re-read file replaces its rows.
{%- set tag_keys = {
    'team': list_var('focus_tag_team_keys', ['team']),
    'project': list_var('focus_tag_project_keys', ['project']),
    'environment': list_var('focus_tag_environment_keys', ['env', 'environment']),
} %}

with

source as (

    select * from {{ source('focus_files', 'focus_costs') }}

),

tag_entries as (

    {{ json_object_entries('source', 'row_key', 'tags') }}

),

tag_keys_normalized as (

    select
        entry_id,
        entry_key,
        trim(entry_value) as tag_value,
        case
            when lower(trim(entry_key)) like 'user:%' then substr(lower(trim(entry_key)), 6)
            else lower(trim(entry_key))
        end as normalized_key
    from tag_entries

),

tags_classified as (

    select
        entry_id,
        entry_key,
        tag_value,
        case
            when 1 = 0 then null  -- (no key configured for any tag)
            {%- for tag, keys in tag_keys.items() %}
            {%- for key in keys %}
            when normalized_key = '{{ key }}' then '{{ tag }}'
            {%- endfor %}
            {%- endfor %}
        end as tag_name,
        case
            when 1 = 0 then null
            {%- for tag, keys in tag_keys.items() %}
            {%- for key in keys %}
            when normalized_key = '{{ key }}' then {{ loop.index }}
            {%- endfor %}
            {%- endfor %}
        end as key_rank,
        case when entry_key = normalized_key then 0 else 1 end as spelling_rank
    from tag_keys_normalized
    where tag_value is not null and tag_value <> ''

),

tags_picked as (

    select
        entry_id,
        tag_name,
        tag_value,
        row_number() over (
            partition by entry_id, tag_name order by key_rank, spelling_rank, entry_key
        ) as tag_rank
    from tags_classified
    where tag_name is not null

),

tags_pivoted as (

    select
        entry_id as row_key,
        max(case when tag_name = 'team' then tag_value end) as tag_team,
        max(case when tag_name = 'project' then tag_value end) as tag_project,
        max(case when tag_name = 'environment' then tag_value end) as tag_environment
    from tags_picked
    where tag_rank = 1
    group by entry_id

),

final as (

    select
        source.row_key as cost_row_id,
        source.charge_date,
        source.charge_period_start,
        source.charge_period_end,
        source.billing_period_start,
        source.billing_period_end,
        -- who bills
        source.billing_account_id,
        source.billing_account_name,
        source.billing_currency,
        source.provider_name,
        source.publisher_name,
        source.invoice_issuer_name,
        source.invoice_id,
        -- the charge
        source.charge_category,
        source.charge_class,
        source.charge_frequency,
        source.charge_description,
        source.pricing_category,
        -- what
        source.service_category,
        source.service_subcategory,
        source.service_name,
        source.sub_account_id,
        source.sub_account_name,
        source.resource_id,
        source.resource_name,
        source.resource_type,
        source.region_id,
        source.region_name,
        source.sku_id,
        source.sku_price_id,
        source.commitment_discount_id,
        source.commitment_discount_category,
        source.commitment_discount_status,
        -- quantities
        source.consumed_quantity,
        source.consumed_unit,
        source.pricing_quantity,
        source.pricing_unit,
        -- money (USD, signed: credits are negative)
        source.billed_cost,
        source.effective_cost,
        source.list_cost,
        source.contracted_cost,
        -- tags
        source.tags,
        tags_pivoted.tag_team,
        tags_pivoted.tag_project,
        tags_pivoted.tag_environment,
        source.x_columns,
        -- lineage
        source.source_file,
        source.source_row,
        source.file_modified_at
    from source
    left join tags_pivoted on tags_pivoted.row_key = source.row_key

)

select * from final
