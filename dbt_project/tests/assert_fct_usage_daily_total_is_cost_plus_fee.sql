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
    on
    {%- for column in ['usage_date', 'source', 'provider', 'model', 'project_id', 'api_key_id',
                       'user_id', 'integration_id'] %}
    {% if not loop.first %}and {% endif %}fct.{{ column }} is not distinct from costs.{{ column }}
    {%- endfor %}
where fct.total_cost_usd is distinct from costs.cost_usd + fct.platform_fee_usd
    -- Said over the row's own columns too: billed and not priced costs what is billed ...
    or (fct.billed_cost_usd is not null and fct.list_cost_usd is null
        and fct.total_cost_usd is distinct from fct.billed_cost_usd + fct.platform_fee_usd)
    -- ... and neither known is unknown, never $0.
    or (fct.billed_cost_usd is null and fct.list_cost_usd is null and fct.total_cost_usd is not null)
