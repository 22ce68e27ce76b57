{#-
  What each source says a day of usage cost, and which source is authoritative for it.
  Grain: one row per usage_date x provider x model x project_id x integration_id x source
  (NULL keys group together).

  amount_usd is the source's own figure for the group: each record counts with its billed cost
  where the source reports one, else its usage x price. This relies on the staging convention
  that a source reporting cost and usage separately (a cost endpoint or cost CSV next to a usage
  endpoint or usage CSV) attaches each cost line to the usage records it describes
  (macros/api_cost_allocation.sql) and keeps unmatched cost lines as zero-token records, so no
  usage is counted both as a cost line and as usage x price.

  The authoritative source is chosen per usage_date and provider, not per model: sources name
  models and projects differently (an API's 'gpt-4o-2024-08-06' is a log's 'gpt-4o'), so choosing
  per model would count the same traffic twice. The first of: sources with a known cost before
  sources without; then source_rank (macros/accounting.sql); then a fixed tie-break order.

  Reads int_usage_priced_daily: its rows are records summed per day whose records agree on having
  tokens (has_tokens), a billed cost and a list cost, so the per-record tests below hold for its
  rows, and record counts are sums of record_count.
-#}

with

usage_priced as (

    select * from {{ ref('int_usage_priced_daily') }}

),

grouped as (

    select
        usage_date,
        provider,
        model,
        project_id,
        integration_id,
        source,
        {{ source_class('source') }} as source_class,
        cast(sum(request_count) as bigint) as request_count,
        cast(sum(input_tokens) as bigint) as input_tokens,
        cast(sum(cached_input_tokens) as bigint) as cached_input_tokens,
        cast(sum(cache_write_tokens) as bigint) as cache_write_tokens,
        cast(sum(cache_write_1h_tokens) as bigint) as cache_write_1h_tokens,
        cast(sum(output_tokens) as bigint) as output_tokens,
        -- sum() skips NULLs: NULL only when no record of the group is priced / reports a cost.
        sum(list_cost_usd) as list_cost_raw,
        -- Usage x price of the records that carry usage (cost-only records have no tokens).
        sum(list_cost_usd) filter (where has_tokens) as usage_list_cost_raw,
        sum(billed_cost_usd) as billed_cost_raw,
        sum(coalesce(billed_cost_usd, list_cost_usd)) as record_cost_raw,
        cast(sum(record_count) as bigint) as record_count,
        {{ record_count_where('billed_cost_usd is not null') }} as billed_record_count,
        {{ record_count_where('has_tokens') }} as usage_record_count,
        {{ record_count_where('has_tokens and billed_cost_usd is null') }}
            as unbilled_usage_record_count,
        {{ record_count_where('not is_priced') }} as unpriced_record_count,
        {{ record_count_where('not is_priced and billed_cost_usd is null') }}
            as unknown_cost_record_count,
        {{ record_count_where("context_tier_basis = 'assumed_base'") }}
            as assumed_base_tier_record_count,
        {{ record_count_where("service_tier <> 'standard'") }}
            as non_standard_tier_record_count,
        coalesce(bool_or(cache_write_1h_per_mtok <> cache_write_per_mtok), false)
            as has_distinct_1h_cache_price,
        array_to_string(list_sort(list_distinct(list(price_source))), ',') as price_sources,
        array_to_string(list_sort(list_distinct(list(price_version))), ',') as price_versions

    from usage_priced
    group by all

),

amounts as (

    select
        *,
        record_cost_raw as amount_raw,
        case
            when record_cost_raw is null then 'unpriced'
            when billed_record_count = record_count then 'billed'
            when billed_record_count = 0 then 'priced'
            else 'billed_and_priced'
        end as amount_basis,
        -- Records with neither a billed cost nor a price are missing from amount_usd.
        unknown_cost_record_count > 0 as has_unpriced_usage

    from grouped

),

per_source_day as (

    select
        *,
        bool_or(billed_cost_raw is not null)
            over (partition by usage_date, provider, source) as source_has_billed,
        bool_or(amount_raw is not null)
            over (partition by usage_date, provider, source) as source_has_known_cost

    from amounts

),

ranked as (

    select
        *,
        {{ source_rank('source', 'source_has_billed') }} as source_rank,
        {{ source_tiebreak('source') }} as source_order

    from per_source_day

),

chosen as (

    select
        *,
        first_value(source) over (
            partition by usage_date, provider
            order by source_has_known_cost desc, source_rank, source_order
        ) as authoritative_source,
        array_to_string(
            list_sort(list_distinct(list(source) over (partition by usage_date, provider))), ','
        ) as sources_seen

    from ranked

),

final as (

    select
        usage_date,
        provider,
        model,
        project_id,
        integration_id,
        source,
        source_class,
        source_rank,
        source = authoritative_source as is_authoritative,
        authoritative_source,
        sources_seen,
        request_count,
        input_tokens,
        cached_input_tokens,
        cache_write_tokens,
        cache_write_1h_tokens,
        output_tokens,
        cast(list_cost_raw as decimal(38, 15)) as list_cost_usd,
        cast(usage_list_cost_raw as decimal(38, 15)) as usage_list_cost_usd,
        usage_record_count,
        unbilled_usage_record_count,
        cast(billed_cost_raw as decimal(38, 15)) as billed_cost_usd,
        cast(amount_raw as decimal(38, 15)) as amount_usd,
        amount_basis,
        has_unpriced_usage,
        record_count,
        billed_record_count,
        unpriced_record_count,
        unknown_cost_record_count,
        assumed_base_tier_record_count,
        non_standard_tier_record_count,
        has_distinct_1h_cache_price,
        nullif(price_sources, '') as price_sources,
        nullif(price_versions, '') as price_versions

    from chosen

)

select * from final
