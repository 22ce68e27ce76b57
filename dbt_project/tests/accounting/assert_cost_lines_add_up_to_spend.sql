-- Shown in Dagster as a check on fct_cost_lines (the test reads several models).
{{ config(meta={'dagster': {'ref': {'name': 'fct_cost_lines'}}}) }}
{#- fct_cost_lines' billed cost adds up to fct_spend_daily's spend_usd for every priced row. -#}
with

spend as (

    select * from {{ ref('fct_spend_daily') }}
    where spend_usd is not null

),

lines as (

    select
        usage_date, provider, model, project_id, integration_id,
        sum(billed_cost_usd) as billed_usd

    from {{ ref('fct_cost_lines') }}
    group by all

)

select spend.*, lines.billed_usd
from spend
left join lines
    on spend.usage_date = lines.usage_date
    and spend.provider is not distinct from lines.provider
    and spend.model is not distinct from lines.model
    and spend.project_id is not distinct from lines.project_id
    and spend.integration_id is not distinct from lines.integration_id
where lines.billed_usd is distinct from spend.spend_usd
