{#-
  The price of every model in usage and every cheaper sibling, as it stands on the last usage day.
  Grain: one row per provider x model x service_tier x context_tier (0 = base price, 1, 2, ... =
  long-context tiers from context_threshold_tokens input tokens per request), from the price
  source that wins that day: a prices.yaml override over the genai-prices catalogue, exactly as
  int_usage_priced chooses. Savings are forward-looking, so they use the price in force now.
  Sources: int_price_list (models in usage: the full price table behind int_model_prices) and
  int_insights_sibling_prices (siblings nobody uses yet), which share one shape.
-#}

with

price_list as (

    select * from {{ ref('int_price_list') }}

),

sibling_prices as (

    select * from {{ ref('int_insights_sibling_prices') }}

),

usage_daily as (

    select * from {{ ref('int_insights_usage_daily') }}

),

price_day as (

    select max(usage_date) as price_date from usage_daily

),

all_prices as (

    select *, true as is_in_usage from price_list
    union all by name
    select *, false as is_in_usage from sibling_prices

),

in_force as (

    select all_prices.*, price_day.price_date
    from all_prices
    cross join price_day
    where all_prices.effective_from <= price_day.price_date
        and price_day.price_date < coalesce(all_prices.effective_to, date '9999-12-31')
    -- The override wins over the catalogue for the whole (provider, model, tier) that day.
    qualify rank() over (
        partition by all_prices.provider, all_prices.model, all_prices.service_tier
        order by case when all_prices.price_source = 'override' then 0 else 1 end
    ) = 1

),

final as (

    select
        cast(provider as varchar) as provider,
        cast(model as varchar) as model,
        cast(service_tier as varchar) as service_tier,
        cast(context_tier as integer) as context_tier,
        cast(context_threshold_tokens as bigint) as context_threshold_tokens,
        cast(price_date as date) as price_date,
        cast(price_source as varchar) as price_source,
        cast(price_basis as varchar) as price_basis,
        cast(catalogue_model_id as varchar) as catalogue_model_id,
        cast(input_per_mtok as decimal(18, 9)) as input_per_mtok,
        cast(cached_input_per_mtok as decimal(18, 9)) as cached_input_per_mtok,
        cast(cache_write_per_mtok as decimal(18, 9)) as cache_write_per_mtok,
        cast(cache_write_1h_per_mtok as decimal(18, 9)) as cache_write_1h_per_mtok,
        cast(output_per_mtok as decimal(18, 9)) as output_per_mtok,
        cast(is_in_usage as boolean) as is_in_usage

    from in_force

)

select * from final
