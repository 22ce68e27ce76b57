{#-
  The body of int_usage_priced (one row per usage record, priced; the rules are in that model's
  comment and in README "How meterr computes cost"), shared with int_usage_priced_daily.

  days_filter: none for every record, else a SQL condition on usage_date (e.g.
  "usage_date in (date '2026-05-04')") that keeps only the records of the days to price.

  grouped: false gives one row per record. true first sums the records that are priced alike
  (same day, dimensions, tier key, and the same answer record by record to every test the
  pricing makes: which token buckets are zero, whether it is a single request, whether it has a
  billed cost, tokens, requests), then prices each sum; record_count says how many records a row
  sums and _file_cost_hash is their part of the day fingerprint. A price is per token, and the
  decimal arithmetic is exact, so pricing a sum gives exactly the sum of the records' prices;
  millions of records become thousands of rows before the joins and the decimal work.
-#}
{% macro usage_priced_sql(days_filter=none, grouped=false) %}
with

records as (

    select
        *,
        -- Only a single request's size can select a long-context tier (tiers apply per request).
        case
            when request_count = 1 then input_tokens + cached_input_tokens + cache_write_tokens
        end as request_input_tokens

    from {{ ref('int_usage_normalized') }}
    {%- if days_filter is not none %}
    -- Here, on the read itself: DuckDB pushes it down into the raw scans.
    where {{ days_filter }}
    {%- endif %}

),

model_prices as (

    select * from {{ ref('int_price_list') }}

),

-- Every long-context threshold any price has (a handful of values).
thresholds as (

    select list(distinct context_threshold_tokens) as all_thresholds
    from model_prices
    where context_threshold_tokens is not null

),

-- Which price applies depends on a record only through its day, provider, model, service tier,
-- is_long_context and which thresholds its request size is above. tier_key is the largest
-- threshold (of any price) the request is above, so "request above threshold t" is exactly
-- "tier_key >= t" for every threshold t: records are priced per key (thousands), not one by one
-- (millions), and the key's price joins back to each record.
keyed_records as (

    select
        records.*,
        records.request_input_tokens is not null as is_single_request,
        list_max(list_filter(
            thresholds.all_thresholds, lambda threshold: threshold < records.request_input_tokens
        )) as tier_key

    from records
    cross join thresholds

),

{% if grouped -%}
-- Records that every test below answers alike, summed (the sign of a bucket decides whether
-- "tokens = 0" holds for each record and for their sum).
keyed_usage as (

    select
        {{ usage_grain_columns() | join(',\n        ') }},
        tier_key,
        is_single_request,
        billed_cost_usd is not null as _has_billed_cost,
        input_tokens + cached_input_tokens + cache_write_tokens + output_tokens > 0 as _has_tokens,
        request_count > 0 as _has_requests,
        sign(input_tokens) as _input_sign,
        sign(cached_input_tokens) as _cached_input_sign,
        sign(cache_write_tokens - cache_write_1h_tokens) as _cache_write_5m_sign,
        sign(cache_write_1h_tokens) as _cache_write_1h_sign,
        sign(output_tokens) as _output_sign,
        cast(count(*) as bigint) as record_count,
        cast(sum(hash(_file_sha256, billed_cost_usd)) as hugeint) as _file_cost_hash,
        cast(sum(request_count) as bigint) as request_count,
        cast(sum(input_tokens) as bigint) as input_tokens,
        cast(sum(cached_input_tokens) as bigint) as cached_input_tokens,
        cast(sum(cache_write_tokens) as bigint) as cache_write_tokens,
        cast(sum(cache_write_1h_tokens) as bigint) as cache_write_1h_tokens,
        cast(sum(output_tokens) as bigint) as output_tokens,
        cast(sum(billed_cost_usd) as decimal(38, 12)) as billed_cost_usd

    from keyed_records
    group by all

),
{%- else -%}
keyed_usage as (

    select * from keyed_records

),
{%- endif %}

price_keys as (

    select
        row_number() over () as price_key,
        *

    from (
        select distinct usage_date, provider, model, service_tier, is_long_context, tier_key
        from keyed_usage
    )

),

candidates as (

    select
        price_keys.price_key,
        model_prices.*

    from price_keys
    inner join model_prices
        on price_keys.provider = model_prices.provider
        and price_keys.model = model_prices.model
        and price_keys.service_tier = model_prices.service_tier
        and model_prices.effective_from <= price_keys.usage_date
        -- effective_to is exclusive; NULL means the price is still in force.
        and price_keys.usage_date < coalesce(model_prices.effective_to, date '9999-12-31')
        and (
            model_prices.context_threshold_tokens is null
            or (price_keys.is_long_context and model_prices.context_tier = 1)
            or (
                price_keys.is_long_context is null
                and price_keys.tier_key >= model_prices.context_threshold_tokens
            )
        )

),

winning as (

    select *
    from candidates
    qualify row_number() over (
        partition by price_key
        order by case when price_source = 'override' then 0 else 1 end, context_tier desc
    ) = 1

),

catalogue as (

    select *
    from candidates
    where price_source = 'genai-prices'
    qualify row_number() over (partition by price_key order by context_tier desc) = 1

),

known_models as (

    select distinct provider, model from model_prices

),

key_prices as (

    select
        price_keys.*,
        winning.price_key is not null as has_price,
        known_models.model is not null as is_known_model,
        winning.price_source,
        winning.price_version,
        winning.price_basis,
        winning.context_tier,
        winning.catalogue_model_id,
        winning.catalogue_version,
        winning.has_tiered_prices,
        winning.has_time_of_day_prices,
        winning.input_per_mtok as input_rate,
        coalesce(winning.cached_input_per_mtok, winning.input_per_mtok) as cached_input_rate,
        coalesce(winning.cache_write_per_mtok, winning.input_per_mtok) as cache_write_rate,
        coalesce(
            winning.cache_write_1h_per_mtok, winning.cache_write_per_mtok, winning.input_per_mtok
        ) as cache_write_1h_rate,
        winning.output_per_mtok as output_rate,
        catalogue.price_key is not null as has_catalogue_price,
        catalogue.input_per_mtok as catalogue_input_rate,
        coalesce(catalogue.cached_input_per_mtok, catalogue.input_per_mtok)
            as catalogue_cached_input_rate,
        coalesce(catalogue.cache_write_per_mtok, catalogue.input_per_mtok)
            as catalogue_cache_write_rate,
        coalesce(
            catalogue.cache_write_1h_per_mtok,
            catalogue.cache_write_per_mtok,
            catalogue.input_per_mtok
        ) as catalogue_cache_write_1h_rate,
        catalogue.output_per_mtok as catalogue_output_rate

    from price_keys
    left join winning on price_keys.price_key = winning.price_key
    left join catalogue on price_keys.price_key = catalogue.price_key
    left join known_models
        on price_keys.provider = known_models.provider
        and price_keys.model = known_models.model

),

joined as (

    select
        keyed_usage.*,
        keyed_usage.cache_write_tokens - keyed_usage.cache_write_1h_tokens
            as cache_write_5m_tokens,
        key_prices.* exclude (
            price_key, usage_date, provider, model, service_tier, is_long_context, tier_key
        )

    from keyed_usage
    inner join key_prices
        on keyed_usage.usage_date is not distinct from key_prices.usage_date
        and keyed_usage.provider is not distinct from key_prices.provider
        and keyed_usage.model is not distinct from key_prices.model
        and keyed_usage.service_tier is not distinct from key_prices.service_tier
        and keyed_usage.is_long_context is not distinct from key_prices.is_long_context
        and keyed_usage.tier_key is not distinct from key_prices.tier_key

),

checked as (

    select
        *,
        -- Priced only when every bucket with tokens has a rate: an unknown model, or tokens the
        -- price cannot cover, give an unknown cost, never $0.
        has_price
        and (input_tokens = 0 or input_rate is not null)
        and (cached_input_tokens = 0 or cached_input_rate is not null)
        and (cache_write_5m_tokens = 0 or cache_write_rate is not null)
        and (cache_write_1h_tokens = 0 or cache_write_1h_rate is not null)
        and (output_tokens = 0 or output_rate is not null) as is_priced,
        has_catalogue_price
        and (input_tokens = 0 or catalogue_input_rate is not null)
        and (cached_input_tokens = 0 or catalogue_cached_input_rate is not null)
        and (cache_write_5m_tokens = 0 or catalogue_cache_write_rate is not null)
        and (cache_write_1h_tokens = 0 or catalogue_cache_write_1h_rate is not null)
        and (output_tokens = 0 or catalogue_output_rate is not null) as is_catalogue_priced

    from joined

),

priced as (

    select
        *,
        -- rates are per million tokens; multiplying keeps DECIMAL (DuckDB's decimal division
        -- returns DOUBLE).
        case when is_priced then input_tokens * coalesce(input_rate, 0) * 0.000001 end
            as input_cost_raw,
        case when is_priced then cached_input_tokens * coalesce(cached_input_rate, 0) * 0.000001 end
            as cached_input_cost_raw,
        case when is_priced then cache_write_5m_tokens * coalesce(cache_write_rate, 0) * 0.000001 end
            as cache_write_cost_raw,
        case
            when is_priced then cache_write_1h_tokens * coalesce(cache_write_1h_rate, 0) * 0.000001
        end as cache_write_1h_cost_raw,
        case when is_priced then output_tokens * coalesce(output_rate, 0) * 0.000001 end
            as output_cost_raw,
        case
            when is_catalogue_priced then
                (
                    input_tokens * coalesce(catalogue_input_rate, 0)
                    + cached_input_tokens * coalesce(catalogue_cached_input_rate, 0)
                    + cache_write_5m_tokens * coalesce(catalogue_cache_write_rate, 0)
                    + cache_write_1h_tokens * coalesce(catalogue_cache_write_1h_rate, 0)
                    + output_tokens * coalesce(catalogue_output_rate, 0)
                ) * 0.000001
        end as catalogue_cost_raw

    from checked

),

final as (

    select
        {%- if not grouped %}
        usage_ts,
        {%- endif %}
        usage_date,
        source,
        provider,
        model,
        project_id,
        api_key_id,
        user_id,
        integration_id,
        {%- if grouped %}
        record_count,
        _file_cost_hash,
        {%- else %}
        request_id,
        {%- endif %}
        request_count,
        input_tokens,
        cached_input_tokens,
        cache_write_tokens,
        cache_write_1h_tokens,
        output_tokens,
        service_tier,
        is_long_context,
        billed_cost_usd,
        cast(
            input_cost_raw + cached_input_cost_raw + cache_write_cost_raw
            + cache_write_1h_cost_raw + output_cost_raw
            as decimal(38, 15)
        ) as list_cost_usd,
        is_priced,
        case
            when is_priced then null
            when not is_known_model then 'unknown_model'
            when not has_price and service_tier <> 'standard' then 'unpriced_service_tier'
            when not has_price then 'no_price_on_date'
            else 'bucket_without_price'
        end as unpriced_reason,
        price_source,
        price_version,
        price_basis,
        context_tier,
        case
            when not has_price then null
            when not has_tiered_prices then 'flat'
            when is_long_context is not null then 'source_reported'
            when is_single_request then 'per_request'
            else 'assumed_base'
        end as context_tier_basis,
        catalogue_model_id,
        catalogue_version,
        coalesce(has_tiered_prices, false) as has_tiered_prices,
        coalesce(has_time_of_day_prices, false) as has_time_of_day_prices,
        cast(input_rate as decimal(18, 9)) as input_per_mtok,
        cast(cached_input_rate as decimal(18, 9)) as cached_input_per_mtok,
        cast(cache_write_rate as decimal(18, 9)) as cache_write_per_mtok,
        cast(cache_write_1h_rate as decimal(18, 9)) as cache_write_1h_per_mtok,
        cast(output_rate as decimal(18, 9)) as output_per_mtok,
        cast(input_cost_raw as decimal(38, 15)) as input_cost_usd,
        cast(cached_input_cost_raw as decimal(38, 15)) as cached_input_cost_usd,
        cast(cache_write_cost_raw as decimal(38, 15)) as cache_write_cost_usd,
        cast(cache_write_1h_cost_raw as decimal(38, 15)) as cache_write_1h_cost_usd,
        cast(output_cost_raw as decimal(38, 15)) as output_cost_usd,
        cast(catalogue_cost_raw as decimal(38, 15)) as catalogue_list_cost_usd,
        cast(catalogue_input_rate as decimal(18, 9)) as catalogue_input_per_mtok,
        cast(catalogue_cached_input_rate as decimal(18, 9)) as catalogue_cached_input_per_mtok,
        cast(catalogue_cache_write_rate as decimal(18, 9)) as catalogue_cache_write_per_mtok,
        cast(catalogue_cache_write_1h_rate as decimal(18, 9))
            as catalogue_cache_write_1h_per_mtok,
        cast(catalogue_output_rate as decimal(18, 9)) as catalogue_output_per_mtok
        {%- if not grouped %},
        _file_sha256
        {%- endif %}

    from priced

)

select * from final
{% endmacro %}

{#-
  count(*) filter (where condition) over int_usage_priced's records, on int_usage_priced_daily:
  how many records behind the rows meet the condition (0, not NULL, when none do). Exact for
  per-record conditions on the daily model's group columns and flags.
-#}
{% macro record_count_where(condition) -%}
    cast(coalesce(sum(record_count) filter (where {{ condition }}), 0) as bigint)
{%- endmacro %}

{#-
  The dimensions of usage that int_usage_priced_daily keeps (its grain, before the price and flag
  columns): the grouped pricing above sums within them, the daily model groups by them.
-#}
{% macro usage_grain_columns() -%}
    {{ return([
        'usage_date', 'source', 'provider', 'model', 'project_id', 'api_key_id', 'user_id',
        'integration_id', 'service_tier', 'is_long_context',
    ]) }}
{%- endmacro %}
