{#-
  The priced daily cost as each build saw it: an append-only log for restatements.
  Grain: one row per usage_date x source x provider x model x build in which that day's state
  (tokens, requests, list cost, price sources and versions) first appeared or changed; a row with
  is_removed marks a day that disappeared from usage.

  Incremental on purpose and exempt from --full-refresh: rebuilding it would forget what earlier
  builds reported, which is exactly what marts.restatements compares against. List cost is
  recomputed from raw usage whenever prices change (int_usage_priced_daily re-prices the days of
  every model whose prices changed), so a changed catalogue or prices.yaml shows up here as a new
  state with new price versions.
-#}
{{ config(
    materialized='incremental',
    full_refresh=false,
    on_schema_change='append_new_columns',
) }}

with

usage_priced as (

    select * from {{ ref('int_usage_priced_daily') }}

),

current_state as (

    select
        usage_date,
        source,
        provider,
        model,
        cast(sum(request_count) as bigint) as request_count,
        cast(sum(input_tokens) as bigint) as input_tokens,
        cast(sum(cached_input_tokens) as bigint) as cached_input_tokens,
        cast(sum(cache_write_tokens) as bigint) as cache_write_tokens,
        cast(sum(output_tokens) as bigint) as output_tokens,
        cast(round(sum(list_cost_usd), 6) as decimal(18, 6)) as list_cost_usd,
        {{ record_count_where('not is_priced') }} as unpriced_record_count,
        nullif(array_to_string(list_sort(list_distinct(list(price_source))), ','), '')
            as price_sources,
        nullif(array_to_string(list_sort(list_distinct(list(price_version))), ','), '')
            as price_versions

    from usage_priced
    group by usage_date, source, provider, model

),

stamped as (

    select
        *,
        md5(concat_ws(
            '|',
            request_count, input_tokens, cached_input_tokens, cache_write_tokens, output_tokens,
            coalesce(cast(list_cost_usd as varchar), 'unpriced'), unpriced_record_count,
            coalesce(price_sources, ''), coalesce(price_versions, '')
        )) as state_hash,
        false as is_removed

    from current_state

),

{% if is_incremental() %}

latest as (

    select *
    from {{ this }}
    qualify row_number() over (
        partition by usage_date, source, provider, model order by built_at desc
    ) = 1

),

changed as (

    select stamped.*
    from stamped
    left join latest
        on stamped.usage_date = latest.usage_date
        and stamped.source is not distinct from latest.source
        and stamped.provider is not distinct from latest.provider
        and stamped.model is not distinct from latest.model
    where latest.state_hash is null
        or latest.is_removed
        or latest.state_hash <> stamped.state_hash

),

removed as (

    select
        latest.usage_date,
        latest.source,
        latest.provider,
        latest.model,
        cast(0 as bigint) as request_count,
        cast(0 as bigint) as input_tokens,
        cast(0 as bigint) as cached_input_tokens,
        cast(0 as bigint) as cache_write_tokens,
        cast(0 as bigint) as output_tokens,
        -- The usage is gone, so is its cost: 0, not unknown.
        cast(0 as decimal(18, 6)) as list_cost_usd,
        cast(0 as bigint) as unpriced_record_count,
        cast(null as varchar) as price_sources,
        cast(null as varchar) as price_versions,
        'removed' as state_hash,
        true as is_removed

    from latest
    left join stamped
        on stamped.usage_date = latest.usage_date
        and stamped.source is not distinct from latest.source
        and stamped.provider is not distinct from latest.provider
        and stamped.model is not distinct from latest.model
    where stamped.usage_date is null
        and not latest.is_removed

),

new_states as (

    select * from changed
    union all by name
    select * from removed

),

{% else %}

new_states as (

    select * from stamped

),

{% endif %}

final as (

    select
        cast(usage_date as date) as usage_date,
        cast(source as varchar) as source,
        cast(provider as varchar) as provider,
        cast(model as varchar) as model,
        request_count,
        input_tokens,
        cached_input_tokens,
        cache_write_tokens,
        output_tokens,
        list_cost_usd,
        unpriced_record_count,
        cast(price_sources as varchar) as price_sources,
        cast(price_versions as varchar) as price_versions,
        cast(state_hash as varchar) as state_hash,
        cast(is_removed as boolean) as is_removed,
        cast('{{ invocation_id }}' as varchar) as build_id,
        cast('{{ run_started_at.strftime("%Y-%m-%d %H:%M:%S.%f") }}' as timestamp) as built_at

    from new_states

)

select * from final
