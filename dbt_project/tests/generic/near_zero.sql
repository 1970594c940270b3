{% test near_zero(model, column_name, tolerance=0.0001) %}
-- rows where the column is further from zero than the tolerance (a gap that must not exist); nulls pass
select {{ column_name }} from {{ model }} where abs({{ column_name }}) > {{ tolerance }}
{% endtest %}
