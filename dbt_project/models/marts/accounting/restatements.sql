{#-
  What a re-pricing (or late usage) changed: one row per usage_date x source x provider x model x
  build whose list cost differs from the previous build's, with the old and new figures and which
  prices produced them. Built from marts.cost_history.

  restatement_reason: price_change (same usage, different price or price version),
  usage_change (the usage itself changed, same prices), price_and_usage_change, usage_removed.
-#}
with

history as (

    select * from {{ ref('cost_history') }}

),

sequenced as (

    select
        *,
        lag(list_cost_usd) over keyed as old_list_cost_usd,
        lag(price_sources) over keyed as old_price_sources,
        lag(price_versions) over keyed as old_price_versions,
        lag(request_count) over keyed as old_request_count,
        lag(input_tokens + cached_input_tokens + cache_write_tokens + output_tokens) over keyed
            as old_total_tokens,
        lag(state_hash) over keyed as old_state_hash,
        lag(build_id) over keyed as previous_build_id,
        lag(built_at) over keyed as previous_built_at,
        lag(
            concat_ws('|', request_count, input_tokens, cached_input_tokens, cache_write_tokens,
                output_tokens)
        ) over keyed as old_usage_signature,
        concat_ws('|', request_count, input_tokens, cached_input_tokens, cache_write_tokens,
            output_tokens) as usage_signature

    from history
    window keyed as (partition by usage_date, source, provider, model order by built_at)

),

restated as (

    select *
    from sequenced
    where previous_built_at is not null
        and list_cost_usd is distinct from old_list_cost_usd

),

final as (

    select
        cast(usage_date as date) as usage_date,
        cast(source as varchar) as source,
        cast(provider as varchar) as provider,
        cast(model as varchar) as model,
        cast(old_list_cost_usd as decimal(18, 6)) as old_list_cost_usd,
        cast(list_cost_usd as decimal(18, 6)) as new_list_cost_usd,
        cast(list_cost_usd - old_list_cost_usd as decimal(18, 6)) as delta_usd,
        cast(old_price_sources as varchar) as old_price_sources,
        cast(old_price_versions as varchar) as old_price_versions,
        cast(price_sources as varchar) as new_price_sources,
        cast(price_versions as varchar) as new_price_versions,
        cast(old_total_tokens as bigint) as old_total_tokens,
        cast(input_tokens + cached_input_tokens + cache_write_tokens + output_tokens as bigint)
            as new_total_tokens,
        cast(
            case
                when is_removed then 'usage_removed'
                when usage_signature is distinct from old_usage_signature
                    and (
                        price_versions is distinct from old_price_versions
                        or price_sources is distinct from old_price_sources
                    ) then 'price_and_usage_change'
                when usage_signature is distinct from old_usage_signature then 'usage_change'
                else 'price_change'
            end as varchar
        ) as restatement_reason,
        cast(built_at as timestamp) as restated_at,
        cast(build_id as varchar) as build_id,
        cast(previous_build_id as varchar) as previous_build_id

    from restated

)

select * from final
