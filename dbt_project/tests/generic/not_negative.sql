{% test not_negative(model, column_name) %}
-- rows where the column is below zero (nulls pass: not_null says whether they may exist)
select {{ column_name }} from {{ model }} where {{ column_name }} < 0
{% endtest %}
