{#-
  Fails for every combination of the given columns that occurs more than once. NULL-safe: GROUP BY
  puts NULLs together, so two rows that differ only in being NULL in the same key column count as
  duplicates (attribution keys such as project_id are often NULL and still part of the grain).
-#}
{% test unique_combination_null_safe(model, combination_of_columns) %}

select
    {{ combination_of_columns | join(', ') }},
    count(*) as row_count
from {{ model }}
group by {{ combination_of_columns | join(', ') }}
having count(*) > 1

{% endtest %}
