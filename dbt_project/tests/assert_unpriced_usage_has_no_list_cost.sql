{#-
  Unpriced usage must carry a NULL list cost (never $0), and priced usage a non-NULL one. Checked
  on int_usage_priced_daily, which the marts read: a row is priced or not as a whole, and its list
  cost is NULL exactly when every record's is.
-#}
with

usage_priced as (

    select * from {{ ref('int_usage_priced_daily') }}

)

select *
from usage_priced
where (not is_priced and list_cost_usd is not null)
    or (is_priced and list_cost_usd is null)
