{#-
  total_cost_usd must be the billed cost where known, else the list cost, plus the fee; and NULL
  (not $0) whenever neither cost is known. Returns the offending rows.
-#}
with

fct as (

    select * from {{ ref('fct_usage_daily') }}

)

select *
from fct
where total_cost_usd is distinct from
    coalesce(billed_cost_usd, list_cost_usd) + platform_fee_usd
    or (billed_cost_usd is null and list_cost_usd is null and total_cost_usd is not null)
