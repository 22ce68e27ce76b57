-- Shown in Dagster as a check on fct_spend_allocated (the test reads several models).
{{ config(meta={'dagster': {'ref': {'name': 'fct_spend_allocated'}}}) }}
{#-
  For every fct_spend_daily row, fct_spend_allocated's shares add up to spend_usd exactly (NULL
  when the spend is unpriced) and to its request_count. Returns the rows that do not.
-#}
with

spend as (

    select * from {{ ref('fct_spend_daily') }}

),

allocated as (

    select
        usage_date, provider, model, project_id, integration_id,
        sum(allocated_cost_usd) as allocated_usd,
        sum(request_count) as allocated_requests,
        count(*) as allocation_rows

    from {{ ref('fct_spend_allocated') }}
    group by all

)

select spend.*, allocated.allocated_usd, allocated.allocated_requests
from spend
left join allocated
    on spend.usage_date = allocated.usage_date
    and spend.provider is not distinct from allocated.provider
    and spend.model is not distinct from allocated.model
    and spend.project_id is not distinct from allocated.project_id
    and spend.integration_id is not distinct from allocated.integration_id
where allocated.allocation_rows is null
    or allocated.allocated_usd is distinct from spend.spend_usd
    or allocated.allocated_requests is distinct from spend.request_count
