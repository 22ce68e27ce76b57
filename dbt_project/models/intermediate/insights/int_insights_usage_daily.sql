{#-
  The one read of priced usage that every insights model starts from, one source per day.
  Grain: one row per usage_date x provider x model x service_tier x project_id x api_key_id x
  user_id x integration_id (NULL keys group together), from the day's authoritative source only.

  - One source per usage_date and provider: the one int_spend_by_source names authoritative
    (provider API > console export > request log, see README "How meterr computes cost"). Where
    an export and an API pull cover the same days, counting both would double the spend and show
    up as a spike; a second source arriving must not look like an anomaly.
  - cost_usd follows the accounting rule for that source: request logs (custom, webhook,
    helicone, ...) count each record's billed cost, else its list cost; provider APIs and console
    exports report cost and usage as separate records, so a group's billed cost is taken when it
    has any, else its usage at list price (never both). NULL when neither is known. Before
    meterr's fee.
  - input_per_mtok / cached_input_per_mtok: the rates int_usage_priced applied (for the cache
    hit-rate effect in explanations).
  Reads int_usage_priced_daily (records already summed per day; its rows' records agree on
  whether billed and list cost are known, so the per-record tests below hold for its rows).
  A day's rows depend on that day's int_usage_priced_daily rows alone, so a build recomputes only
  the days those changed (macros/usage_day_builds.sql).
-#}
{{ usage_day_at_a_time() }}

with

usage_priced as (

    select * from {{ ref('int_usage_priced_daily') }}
    where {{ usage_days_filter('usage_date') }}

),

spend_by_source as (

    select * from {{ ref('int_spend_by_source') }}
    where {{ usage_days_filter('usage_date') }}

),

authoritative_sources as (

    select distinct usage_date, provider, authoritative_source
    from spend_by_source

),

authoritative_usage as (

    select usage_priced.*
    from usage_priced
    inner join authoritative_sources
        on usage_priced.usage_date = authoritative_sources.usage_date
        and usage_priced.provider is not distinct from authoritative_sources.provider
        and usage_priced.source = authoritative_sources.authoritative_source

),

aggregated as (

    select
        usage_date,
        source,
        provider,
        model,
        service_tier,
        project_id,
        api_key_id,
        user_id,
        integration_id,
        sum(request_count) as request_count,
        sum(input_tokens) as input_tokens,
        sum(cached_input_tokens) as cached_input_tokens,
        sum(cache_write_tokens) as cache_write_tokens,
        sum(cache_write_1h_tokens) as cache_write_1h_tokens,
        sum(output_tokens) as output_tokens,
        -- sum() skips NULLs: NULL only when no record's cost is known.
        case
            when {{ source_class('source') }} = 'request_log'
                then sum(coalesce(billed_cost_usd, list_cost_usd))
            else coalesce(sum(billed_cost_usd), sum(list_cost_usd))
        end as cost_usd,
        {{ record_count_where('billed_cost_usd is null and list_cost_usd is null') }}
            as unknown_cost_records,
        max(input_per_mtok) as input_per_mtok,
        max(coalesce(cached_input_per_mtok, input_per_mtok)) as cached_input_per_mtok

    from authoritative_usage
    group by
        usage_date, source, provider, model, service_tier, project_id, api_key_id, user_id,
        integration_id

),

final as (

    select
        cast(usage_date as date) as usage_date,
        cast(source as varchar) as source,
        cast(provider as varchar) as provider,
        cast(model as varchar) as model,
        cast(service_tier as varchar) as service_tier,
        cast(project_id as varchar) as project_id,
        cast(api_key_id as varchar) as api_key_id,
        cast(user_id as varchar) as user_id,
        cast(integration_id as varchar) as integration_id,
        cast(request_count as bigint) as request_count,
        cast(input_tokens as bigint) as input_tokens,
        cast(cached_input_tokens as bigint) as cached_input_tokens,
        cast(cache_write_tokens as bigint) as cache_write_tokens,
        cast(cache_write_1h_tokens as bigint) as cache_write_1h_tokens,
        cast(output_tokens as bigint) as output_tokens,
        cast(cost_usd as decimal(38, 15)) as cost_usd,
        cast(unknown_cost_records as bigint) as unknown_cost_records,
        cast(input_per_mtok as decimal(18, 9)) as input_per_mtok,
        cast(cached_input_per_mtok as decimal(18, 9)) as cached_input_per_mtok

    from aggregated

)

select * from final
