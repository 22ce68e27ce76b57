{#- Unpriced usage must carry a NULL list cost (never $0), and priced usage a non-NULL one. -#}
with

usage_priced as (

    select * from {{ ref('int_usage_priced') }}

)

select *
from usage_priced
where (not is_priced and list_cost_usd is not null)
    or (is_priced and list_cost_usd is null)
