{#-
  List prices from the genai-prices catalogue for the models seen in usage: the standard service
  tier's base (below any long-context threshold) rates. Grain: one row per provider x model x
  effective period. Kept with this shape for models that want "the catalogue price that day";
  pricing itself uses the full int_price_list (overrides, service tiers, long-context tiers).
-#}
with

price_list as (

    select * from {{ ref('int_price_list') }}

),

final as (

    select
        provider,
        model,
        catalogue_model_id,
        catalogue_provider_id,
        effective_from,
        effective_to,
        input_per_mtok,
        cached_input_per_mtok,
        cache_write_per_mtok,
        cache_write_1h_per_mtok,
        output_per_mtok,
        has_tiered_prices,
        has_time_of_day_prices,
        price_source,
        price_version,
        catalogue_version

    from price_list
    where price_source = 'genai-prices'
        and service_tier = 'standard'
        and context_tier = 0

)

select * from final
