{#-
  Fails for every row where the column is below zero (NULL passes: use not_null for that).
  Token counts, request counts and costs are never negative; a negative value means a parser or
  sign error upstream, so it fails the build rather than silently reducing totals.
-#}
{% test non_negative(model, column_name) %}

select {{ column_name }} as negative_value
from {{ model }}
where {{ column_name }} < 0

{% endtest %}
