-- Shown in Dagster as a check on fct_usage_daily (the test reads several models).
{{ config(meta={'dagster': {'ref': {'name': 'fct_usage_daily'}}}) }}
{#-
  Console exports: each day's billed cost in marts.fct_usage_daily equals what the cost exports
  reported for that day (USD lines; OpenAI amount_value and Anthropic cost_usd are both dollars),
  rounded to 6 decimals, exactly. Returns the days that differ.
-#}
with

reported as (

    select source, usage_date, billed_cost_usd
    from {{ ref('stg_openai_export__costs') }}
    union all
    select source, usage_date, billed_cost_usd
    from {{ ref('stg_anthropic_export__costs') }}

),

reported_days as (

    select source, usage_date, round(sum(billed_cost_usd), 6) as reported_usd
    from reported
    where billed_cost_usd is not null
    group by all

),

fct_days as (

    select source, usage_date, sum(billed_cost_usd) as billed_usd
    from {{ ref('fct_usage_daily') }}
    where source in ('openai_export', 'anthropic_export') and billed_cost_usd is not null
    group by all

)

select *
from reported_days
full outer join fct_days using (source, usage_date)
where reported_usd is distinct from billed_usd
