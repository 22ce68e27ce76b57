{#-
  total_cost_usd must be each record's billed cost where known, else its list cost, summed, plus
  the fee; and NULL (not $0) whenever neither cost is known. Returns the offending rows.
-#}
with

fct as (

    select * from {{ ref('fct_usage_daily') }}

),

costs as (

    select * from {{ ref('int_usage_daily_aggregated') }}

)

select fct.*
from fct
left join costs
    on fct.usage_date = costs.usage_date
    and fct.source = costs.source
    and fct.provider is not distinct from costs.provider
    and fct.model is not distinct from costs.model
    and fct.project_id is not distinct from costs.project_id
    and fct.api_key_id is not distinct from costs.api_key_id
    and fct.user_id is not distinct from costs.user_id
    and fct.integration_id is not distinct from costs.integration_id
where fct.total_cost_usd is distinct from costs.cost_usd + fct.platform_fee_usd
    -- The cost lies between what is billed and what is listed when the row is partly billed.
    or (fct.billed_cost_usd is not null and fct.list_cost_usd is null
        and fct.total_cost_usd is distinct from fct.billed_cost_usd + fct.platform_fee_usd)
    or (fct.billed_cost_usd is null and fct.list_cost_usd is null and fct.total_cost_usd is not null)
