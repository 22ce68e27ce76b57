{#-
  Daily usage and cost per source and attribution key, with meterr's platform fee.
  Grain: one row per usage_date x source x provider x model x project_id x api_key_id x user_id x
  integration_id. Columns and types are the contract's (enforced).
-#}
{%- set fee_model = platform_fee_model() -%}

with

-- cost_usd: what the usage cost the customer, billed where the source reports it, else list,
-- record by record (int_usage_daily_aggregated).
costed as (

    select * from {{ ref('int_usage_daily_aggregated') }}

),

{% if fee_model == 'flat_monthly' %}
{#-
  The month's flat fee is split over the month's rows in proportion to cost, in whole micro-dollars
  (the columns' 6 decimals), by largest remainder: every row gets the floor of its exact share and
  the leftover micro-dollars go one each to the rows with the largest remainders, so the month's
  fees add up to the flat amount exactly. Integer (HUGEINT) arithmetic keeps it exact.
  A month with no known cost is split by request count instead (else evenly), so the fee is still
  charged in full.
-#}
weighted as (

    select
        *,
        date_trunc('month', usage_date) as fee_month,
        cast(coalesce(cost_usd, 0) * 1000000 as hugeint) as cost_micro

    from costed

),

month_weights as (

    select
        *,
        case
            when sum(cost_micro) over (partition by fee_month) > 0 then cost_micro
            when sum(request_count) over (partition by fee_month) > 0
                then cast(request_count as hugeint)
            else cast(1 as hugeint)
        end as weight

    from weighted

),

shares as (

    select
        *,
        cast(round({{ platform_fee_amount('platform_fee_flat_monthly_usd') }} * 1000000) as hugeint)
            * weight as weighted_fee_micro,
        sum(weight) over (partition by fee_month) as month_weight

    from month_weights

),

floored as (

    select
        *,
        weighted_fee_micro // month_weight as floor_fee_micro,
        weighted_fee_micro % month_weight as remainder_micro

    from shares

),

ranked as (

    select
        *,
        cast(round({{ platform_fee_amount('platform_fee_flat_monthly_usd') }} * 1000000) as hugeint)
            - sum(floor_fee_micro) over (partition by fee_month) as leftover_micro,
        row_number() over (
            partition by fee_month
            order by
                remainder_micro desc, weight desc, usage_date, source, provider, model,
                project_id, api_key_id, user_id, integration_id
        ) as remainder_rank

    from floored

),

with_fee as (

    select
        *,
        cast(
            floor_fee_micro + case when remainder_rank <= leftover_micro then 1 else 0 end
            as decimal(38, 0)
        ) * 0.000001 as platform_fee_raw

    from ranked

),
{% else %}
with_fee as (

    select
        *,
        {% if fee_model == 'percentage' %}
        -- A percentage of an unknown cost is unknown: NULL for unpriced rows.
        round(cost_usd * {{ platform_fee_amount('platform_fee_percent') }} * 0.01, 6)
        {% elif fee_model == 'per_request' %}
        request_count * {{ platform_fee_amount('platform_fee_per_request_usd') }}
        {% else %}
        0
        {% endif %}
            as platform_fee_raw

    from costed

),
{% endif %}

final as (

    select
        cast(usage_date as date) as usage_date,
        cast(source as varchar) as source,
        cast(provider as varchar) as provider,
        cast(model as varchar) as model,
        cast(project_id as varchar) as project_id,
        cast(api_key_id as varchar) as api_key_id,
        cast(user_id as varchar) as user_id,
        cast(integration_id as varchar) as integration_id,
        cast(request_count as bigint) as request_count,
        cast(input_tokens as bigint) as input_tokens,
        cast(cached_input_tokens as bigint) as cached_input_tokens,
        cast(cache_write_tokens as bigint) as cache_write_tokens,
        cast(output_tokens as bigint) as output_tokens,
        cast(list_cost_usd as decimal(18, 6)) as list_cost_usd,
        cast(billed_cost_usd as decimal(18, 6)) as billed_cost_usd,
        cast(platform_fee_raw as decimal(18, 6)) as platform_fee_usd,
        -- NULL when the cost is unknown (unpriced and not billed): never $0.
        cast(cost_usd + platform_fee_raw as decimal(18, 6)) as total_cost_usd

    from with_fee

)

select * from final
