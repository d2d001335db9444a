{% test positive_or_null(model, column_name) %}
select {{ column_name }} from {{ model }} where {{ column_name }} is not null and not ({{ column_name }} > 0)
{% endtest %}
