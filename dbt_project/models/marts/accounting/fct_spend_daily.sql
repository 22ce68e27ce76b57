{#-
  The authoritative spend: one row per usage_date x provider x model x project_id x integration_id,
  taken from the single most authoritative source for that day and provider (see
  int_spend_by_source and README "How meterr computes cost"); other sources' rows for the same day
  and provider are the same traffic seen again and are not added.
  A day's rows depend on that day's int_usage_priced_daily rows alone, so a build recomputes only
  the days those changed (macros/usage_day_builds.sql).
-#}
{{ usage_day_at_a_time(contracted=true) }}
-- depends_on: {{ ref('int_usage_priced_daily') }}

with

by_source as (

    select * from {{ ref('int_spend_by_source') }}
    where {{ usage_days_filter('usage_date') }}

),

final as (

    select
        cast(usage_date as date) as usage_date,
        cast(provider as varchar) as provider,
        cast(model as varchar) as model,
        cast(project_id as varchar) as project_id,
        cast(integration_id as varchar) as integration_id,
        cast(round(amount_usd, 6) as decimal(18, 6)) as spend_usd,
        cast(amount_basis as varchar) as spend_basis,
        cast(source as varchar) as authoritative_source,
        cast(source_rank as integer) as source_rank,
        cast(request_count as bigint) as request_count,
        cast(input_tokens as bigint) as input_tokens,
        cast(cached_input_tokens as bigint) as cached_input_tokens,
        cast(cache_write_tokens as bigint) as cache_write_tokens,
        cast(cache_write_1h_tokens as bigint) as cache_write_1h_tokens,
        cast(output_tokens as bigint) as output_tokens,
        cast(round(list_cost_usd, 6) as decimal(18, 6)) as list_cost_usd,
        cast(round(billed_cost_usd, 6) as decimal(18, 6)) as billed_cost_usd,
        cast(has_unpriced_usage as boolean) as has_unpriced_usage,
        cast(sources_seen as varchar) as sources_seen,
        cast(price_sources as varchar) as price_sources,
        cast(price_versions as varchar) as price_versions

    from by_source
    where is_authoritative

)

select * from final
