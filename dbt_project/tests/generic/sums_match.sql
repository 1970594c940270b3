{% test sums_match(model, column_name, compare_model, compare_column, group_by, tolerance=0.0001, compare_where=none,
                   window_groups_from=none, window_groups_where=none) %}
-- groups where sum(column) in this model differs from sum(compare_column) in compare_model by more than the
-- tolerance (missing groups on either side count as zero): the conservation invariants of the warehouse.
-- The test's `where` config narrows `model`; `compare_where` narrows `compare_model` the same way (both may say
-- __window_start__ and __window_end__: macros/run_window.sql).
-- window_groups_from (a model) and window_groups_where (its rows of the run's window, saying __window_start__ and
-- __window_end__): on a run with a window, only the groups those rows name are compared, each whole on both sides,
-- for a group whose rows are not all dated (an agent session crossing the window's edge is rebuilt whole); on a
-- build without a window, every group.
{%- set narrowed = window_groups_from is not none and has_run_window() %}
{%- if window_groups_from is not none and not window_groups_where %}
    {{ exceptions.raise_compiler_error("sums_match on " ~ model ~ ": window_groups_from needs window_groups_where") }}
{%- endif %}
{#- a row of `alias` whose group is one of window_groups' -#}
{%- set in_window_group -%}
    exists (
        select 1 from window_groups
        where {% for col in group_by %}window_groups.{{ col }} = __alias__.{{ col }}{% if not loop.last %} and {% endif %}{% endfor %}
    )
{%- endset %}
with
{%- if narrowed %}
window_groups as (
    select distinct {{ group_by | join(', ') }}
    from {{ window_groups_from }}
    where {{ with_run_window(window_groups_where) }}
),
{%- endif %}
left_side as (
    select {{ group_by | join(', ') }}, sum({{ column_name }}) as total
    from (select * from {{ model }}) as tested
    {% if narrowed %}where {{ in_window_group | replace('__alias__', 'tested') }}{% endif %}
    group by {{ group_by | join(', ') }}
),
right_side as (
    select {{ group_by | join(', ') }}, sum({{ compare_column }}) as total
    from (
        select * from {{ compare_model }}
        {% if compare_where %}where {{ with_run_window(compare_where) }}{% endif %}
    ) as compared
    {% if narrowed %}where {{ in_window_group | replace('__alias__', 'compared') }}{% endif %}
    group by {{ group_by | join(', ') }}
)
select
    {% for col in group_by %}coalesce(left_side.{{ col }}, right_side.{{ col }}) as {{ col }},{% endfor %}
    coalesce(left_side.total, 0) as model_total,
    coalesce(right_side.total, 0) as compare_total
from left_side
full outer join right_side
    on {% for col in group_by %}left_side.{{ col }} = right_side.{{ col }}{% if not loop.last %} and {% endif %}{% endfor %}
where abs(coalesce(left_side.total, 0) - coalesce(right_side.total, 0)) > {{ tolerance }}
{% endtest %}
