{#-
  The price list meterr priced usage with: the genai-prices catalogue for the models seen in usage
  plus every prices.yaml override. Grain: one row per provider x model x price_source x
  service_tier x context_tier x effective_from. On a day both apply, the override wins.
-#}
with

model_prices as (

    select * from {{ ref('int_price_list') }}

),

final as (

    select
        cast(provider as varchar) as provider,
        cast(model as varchar) as model,
        cast(price_source as varchar) as price_source,
        cast(price_version as varchar) as price_version,
        cast(price_basis as varchar) as price_basis,
        cast(service_tier as varchar) as service_tier,
        cast(context_tier as integer) as context_tier,
        cast(context_threshold_tokens as bigint) as context_threshold_tokens,
        cast(effective_from as date) as effective_from,
        cast(effective_to as date) as effective_to,
        cast(input_per_mtok as decimal(18, 9)) as input_per_mtok,
        cast(cached_input_per_mtok as decimal(18, 9)) as cached_input_per_mtok,
        cast(cache_write_per_mtok as decimal(18, 9)) as cache_write_per_mtok,
        cast(cache_write_1h_per_mtok as decimal(18, 9)) as cache_write_1h_per_mtok,
        cast(output_per_mtok as decimal(18, 9)) as output_per_mtok,
        cast(catalogue_model_id as varchar) as catalogue_model_id,
        cast(catalogue_provider_id as varchar) as catalogue_provider_id,
        cast(catalogue_version as varchar) as catalogue_version,
        cast(has_tiered_prices as boolean) as has_tiered_prices,
        cast(has_time_of_day_prices as boolean) as has_time_of_day_prices,
        cast(note as varchar) as note

    from model_prices

)

select * from final
