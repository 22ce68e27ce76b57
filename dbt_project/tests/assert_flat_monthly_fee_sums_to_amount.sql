{#-
  Under platform_fee_model 'flat_monthly', each month's fees in fct_usage_daily add up to exactly
  platform_fee_flat_monthly_usd. Returns the months that do not; nothing under other fee models.
-#}
with

fct as (

    select * from {{ ref('fct_usage_daily') }}

),

monthly as (

    select
        date_trunc('month', usage_date) as fee_month,
        sum(platform_fee_usd) as fee_usd
    from fct
    group by 1

)

select *
from monthly
{% if platform_fee_model() == 'flat_monthly' %}
where fee_usd <> {{ platform_fee_amount('platform_fee_flat_monthly_usd') }}
{% else %}
where false
{% endif %}
