{#-
  Generic tests for the insights models (tests/generic belongs to the whole project; these are
  specific to insights, so they live beside its macros).
-#}

{#- Fails for every row where the SQL boolean `expression` is not true. -#}
{% test insights_expression_is_true(model, expression) %}

select *
from {{ model }}
where not coalesce(({{ expression }}), false)

{% endtest %}
