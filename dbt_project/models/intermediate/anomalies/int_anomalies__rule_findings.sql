{{ config(materialized='table') }}
-- One row per flagged period of every rule but the statistical one (that one reads this to keep these days out of its
-- training data), grouped into episodes: consecutive flagged periods of one rule and entity are one finding
-- (finding_id = rule:entity_type:entity_id:first day), first_seen_date .. last_seen_date its interval so far, is_new
-- its first period only. marts.fct_cost_anomalies adds the statistical rule, the feedback and the figures.
{%- set rules = [
    'developer_daily_spike', 'team_weekly_change', 'team_monthly_change', 'premium_share', 'model_share_jump',
    'new_model', 'expensive_session', 'forgotten_agent', 'context_bloat', 'retry_loop', 'verbose_prompt',
] %}
{%- set columns = [
    'rule', 'entity_type', 'entity_id', 'entity_name', 'team_id', 'period_type', 'period_start', 'period_end',
    'observed', 'baseline', 'expected_usd', 'actual_usd', 'top_contributors', 'sentence',
] %}

with

flagged as (

    {% for rule in rules %}
    select {{ columns | join(', ') }} from {{ ref('int_anomalies__' ~ rule) }}
    {% if not loop.last %}union all{% endif %}
    {% endfor %}

),

{{ anomaly_episode_ctes('flagged') }}

select
    finding_id,
    {{ columns | join(', ') }},
    first_seen_date,
    last_seen_date,
    is_new
from episodes
