-- Shown in Dagster as a check on fct_usage_daily (the test reads several models).
{{ config(meta={'dagster': {'ref': {'name': 'fct_usage_daily'}}}) }}
{#-
  Provider APIs: each day's billed cost in marts.fct_usage_daily equals what the cost endpoints
  reported for that day and integration (USD lines; OpenAI amount.value dollars, Anthropic cents /
  100), rounded to 6 decimals, exactly. Returns the days that differ.
-#}
with

reported as (

    select 'openai_api' as source, usage_date, integration_id, billed_cost_usd
    from {{ ref('stg_openai_api__costs') }}
    where billed_cost_usd is not null
    union all
    select 'anthropic_api', usage_date, integration_id, billed_cost_usd
    from {{ ref('stg_anthropic_api__costs') }}
    where billed_cost_usd is not null

),

reported_days as (

    select source, usage_date, integration_id, round(sum(billed_cost_usd), 6) as reported_usd
    from reported
    group by all

),

fct_days as (

    select source, usage_date, integration_id, sum(billed_cost_usd) as billed_usd
    from {{ ref('fct_usage_daily') }}
    where source in ('openai_api', 'anthropic_api') and billed_cost_usd is not null
    group by all

)

select *
from reported_days
full outer join fct_days using (source, usage_date, integration_id)
where reported_usd is distinct from billed_usd
