{#-
  The "My integrations" statement: what each user's integrations cost in a calendar month, and
  meterr's platform fee on top. Grain: one row per month x user_id x integration_id x provider
  (an integration has one provider; spend without an integration, e.g. dropped files, is listed per
  provider). Amounts are in cents, as on an invoice.

  - user_id: the integration's owner (meta.integrations) where the spend came through a user's
    integration, else the user the spend was allocated to (fct_spend_allocated; NULL =
    unattributed).
  - provider_cost_usd: the line's authoritative spend (fct_spend_allocated) in cents: the user's
    month is rounded to cents once and split over their lines by largest remainder, so the lines
    add up to the rounded month (a line may differ from its own rounding by a cent); NULL when none
    of the line is priced.
  - platform_fee_usd: the fee is computed once per user and month, then split over the user's
    lines in whole cents by largest remainder, so the lines add up to it exactly:
      percentage    round(platform_fee_percent % x the user's monthly provider cost, 2)
      per_request   round(requests x platform_fee_per_request_usd, 2)
      flat_monthly  platform_fee_flat_monthly_usd per user with spend that month
      none          0
    split in proportion to cost (per_request: to requests). A line with unknown cost has an
    unknown percentage fee (NULL), never $0.
  - total_usd = provider_cost_usd + platform_fee_usd (NULL when the cost is unknown).
-#}
{%- set fee_model = platform_fee_model() -%}

with

allocated as (

    select * from {{ ref('fct_spend_allocated') }}

),

owners as (

    select * from {{ ref('int_integration_owners') }}

),

lines as (

    select
        cast(date_trunc('month', allocated.usage_date) as date) as month,
        coalesce(owners.owner_user_id, allocated.user_id) as user_id,
        allocated.integration_id,
        allocated.provider,
        sum(allocated.allocated_cost_usd) as cost_raw,
        bool_or(allocated.allocated_cost_usd is null) as has_unpriced_usage,
        cast(sum(allocated.request_count) as hugeint) as request_count

    from allocated
    left join owners on allocated.integration_id = owners.integration_id
    group by all

),

line_split_input as (

    select
        *,
        row_number() over (order by month, user_id, integration_id, provider) as line_order,
        coalesce({{ to_micro('cost_raw') }}, cast(0 as hugeint)) as cost_weight,
        -- The user's month in whole cents: lines are rounded so that they add up to it.
        coalesce(
            cast(round(sum(cost_raw) over (partition by month, user_id) * 100) as hugeint),
            cast(0 as hugeint)
        ) as user_cost_cents_total

    from lines

),

{{ largest_remainder(
    'line_split', 'line_split_input', 'month, user_id', 'cost_weight', 'user_cost_cents_total',
    'line_order'
) }},

cents as (

    select
        * exclude (allocated_units),
        case when cost_raw is not null then allocated_units end as cost_cents,
        cast(
            case when cost_raw is not null then cast(allocated_units as decimal(38, 0)) * 0.01 end
            as decimal(18, 2)
        ) as provider_cost_usd

    from line_split

),

user_months as (

    select
        *,
        sum(coalesce(cost_cents, 0)) over user_month as user_cost_cents,
        bool_or(cost_cents is not null) over user_month as user_has_known_cost,
        sum(request_count) over user_month as user_requests

    from cents
    window user_month as (partition by month, user_id)

),

fee_input as (

    select
        *,
        {% if fee_model == 'percentage' %}
        -- round() on DECIMAL rounds half away from zero: 103.2 cents -> 103.
        case
            when user_has_known_cost then cast(round(
                cast(user_cost_cents as decimal(38, 0))
                * {{ platform_fee_amount('platform_fee_percent') }} * 0.01
            ) as hugeint)
        end as user_fee_cents,
        coalesce(cost_cents, 0) as fee_weight
        {% elif fee_model == 'per_request' %}
        cast(round(
            cast(user_requests as decimal(38, 0))
            * {{ platform_fee_amount('platform_fee_per_request_usd') }} * 100
        ) as hugeint) as user_fee_cents,
        request_count as fee_weight
        {% elif fee_model == 'flat_monthly' %}
        cast(round({{ platform_fee_amount('platform_fee_flat_monthly_usd') }} * 100) as hugeint)
            as user_fee_cents,
        -- By cost; a user whose month has no known cost is split by requests (then evenly).
        case
            when user_cost_cents > 0 then coalesce(cost_cents, 0)
            else request_count
        end as fee_weight
        {% else %}
        cast(0 as hugeint) as user_fee_cents,
        cast(0 as hugeint) as fee_weight
        {% endif %}

    from user_months

),

split_input as (

    select
        *,
        coalesce(user_fee_cents, cast(0 as hugeint)) as fee_to_split

    from fee_input

),

{{ largest_remainder(
    'fee_split', 'split_input', 'month, user_id', 'fee_weight', 'fee_to_split', 'line_order'
) }},

with_fee as (

    select
        *,
        {% if fee_model == 'percentage' %}
        -- A percentage of an unknown cost is unknown.
        case when cost_cents is not null then cast(allocated_units as decimal(38, 0)) * 0.01 end
        {% else %}
        cast(allocated_units as decimal(38, 0)) * 0.01
        {% endif %}
            as fee_raw

    from fee_split

),

final as (

    select
        cast(month as date) as month,
        cast(user_id as varchar) as user_id,
        cast(integration_id as varchar) as integration_id,
        cast(provider as varchar) as provider,
        provider_cost_usd,
        cast(fee_raw as decimal(18, 2)) as platform_fee_usd,
        -- NULL when the cost is unknown: a fee alone is not what the line cost.
        cast(provider_cost_usd + fee_raw as decimal(18, 2)) as total_usd,
        cast(has_unpriced_usage as boolean) as has_unpriced_usage,
        cast(request_count as bigint) as request_count,
        cast('{{ fee_model }}' as varchar) as fee_model

    from with_fee

)

select * from final
