{#-
  Each usage record with its list cost at the catalogue price in force on its UTC day.
  Grain: one row per usage record from any source (as int_usage_unioned).
-#}
with

usage as (

    select * from {{ ref('int_usage_unioned') }}

),

model_prices as (

    select * from {{ ref('int_model_prices') }}

),

joined as (

    select
        usage.*,
        model_prices.catalogue_model_id,
        model_prices.catalogue_version,
        model_prices.has_tiered_prices,
        model_prices.has_time_of_day_prices,
        model_prices.catalogue_model_id is not null as has_catalogue_price,
        model_prices.input_per_mtok as input_rate,
        -- A cache read or write the catalogue has no price for is charged at the input price:
        -- providers without a separate cache-write charge (OpenAI) bill those tokens as input,
        -- and it is what genai-prices computes, since its input total includes cache tokens.
        coalesce(model_prices.cached_input_per_mtok, model_prices.input_per_mtok)
            as cached_input_rate,
        coalesce(model_prices.cache_write_per_mtok, model_prices.input_per_mtok)
            as cache_write_rate,
        model_prices.output_per_mtok as output_rate

    from usage
    left join model_prices
        on usage.provider = model_prices.provider
        and usage.model = model_prices.model
        and model_prices.effective_from <= usage.usage_date
        -- effective_to is exclusive; NULL means the price is still in force.
        and usage.usage_date < coalesce(model_prices.effective_to, date '9999-12-31')

),

checked as (

    select
        *,
        -- Priced only when every bucket with tokens has a rate: an unknown model, or tokens the
        -- catalogue cannot price, give an unknown cost, never $0.
        has_catalogue_price
        and (input_tokens = 0 or input_rate is not null)
        and (cached_input_tokens = 0 or cached_input_rate is not null)
        and (cache_write_tokens = 0 or cache_write_rate is not null)
        and (output_tokens = 0 or output_rate is not null) as is_priced

    from joined

),

priced as (

    select
        *,
        case
            when is_priced then
                (
                    input_tokens * coalesce(input_rate, 0)
                    + cached_input_tokens * coalesce(cached_input_rate, 0)
                    + cache_write_tokens * coalesce(cache_write_rate, 0)
                    + output_tokens * coalesce(output_rate, 0)
                )
                -- rates are per million tokens; multiplying keeps DECIMAL (DuckDB's decimal
                -- division returns DOUBLE).
                * 0.000001
        end as list_cost_raw

    from checked

),

final as (

    select
        usage_ts,
        usage_date,
        source,
        provider,
        model,
        project_id,
        api_key_id,
        user_id,
        integration_id,
        request_id,
        request_count,
        input_tokens,
        cached_input_tokens,
        cache_write_tokens,
        output_tokens,
        billed_cost_usd,
        cast(list_cost_raw as decimal(38, 15)) as list_cost_usd,
        is_priced,
        catalogue_model_id,
        catalogue_version,
        coalesce(has_tiered_prices, false) as has_tiered_prices,
        coalesce(has_time_of_day_prices, false) as has_time_of_day_prices,
        cast(input_rate as decimal(18, 9)) as input_per_mtok,
        cast(cached_input_rate as decimal(18, 9)) as cached_input_per_mtok,
        cast(cache_write_rate as decimal(18, 9)) as cache_write_per_mtok,
        cast(output_rate as decimal(18, 9)) as output_per_mtok,
        _file_sha256

    from priced

)

select * from final
