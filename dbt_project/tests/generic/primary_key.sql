{#- The column is the model's key: no value twice and none null (dbt's unique + not_null in one scan and one test node;
    delivery/lookml.py reads it as the table's primary key). Fails with the duplicated values and the null group. -#}
{% test primary_key(model, column_name) %}
select {{ column_name }} as key_value, count(*) as occurrences
from {{ model }}
group by {{ column_name }}
having count(*) > 1 or {{ column_name }} is null
{% endtest %}
