{% test sums_match(model, column_name, compare_model, compare_column, group_by, tolerance=0.0001, compare_where=none) %}
-- groups where sum(column) in this model differs from sum(compare_column) in compare_model by more than the
-- tolerance (missing groups on either side count as zero): the conservation invariants of the warehouse.
-- The test's `where` config narrows `model`; `compare_where` narrows `compare_model` the same way (both may say
-- __window_start__ and __window_end__: macros/run_window.sql).
with
left_side as (
    select {{ group_by | join(', ') }}, sum({{ column_name }}) as total
    from {{ model }}
    group by {{ group_by | join(', ') }}
),
right_side as (
    select {{ group_by | join(', ') }}, sum({{ compare_column }}) as total
    from {{ compare_model }}
    {% if compare_where %}where {{ with_run_window(compare_where) }}{% endif %}
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
