{#-
  Estimated vs billed vs observed cost, side by side. Grain: one row per usage_date x provider x
  model x project_id (NULL project groups together; integrations are summed).

    estimated  usage x price from the provider's own usage data: the usage API, else the console
               usage export (estimated_source says which)
    billed     what the provider reports as cost: the cost API, else the console cost export
    observed   what the best request log (helicone, langfuse, litellm, custom, webhook; one
               source, never summed) says: its reported cost where it has one, else usage x price

  A difference within the tolerance (vars reconciliation_tolerance_usd /
  reconciliation_tolerance_pct of the reference amount) counts as a match. reason_code names the
  first explanation that the data supports (README "Reconciliation reason codes").
-#}
{%- set tolerance_usd = platform_fee_amount('reconciliation_tolerance_usd') -%}
{%- set tolerance_pct = platform_fee_amount('reconciliation_tolerance_pct') -%}

with

by_source as (

    select * from {{ ref('int_spend_by_source') }}

),

by_class as (

    select
        usage_date,
        provider,
        model,
        project_id,
        -- The provider's own data per class: usage x price of its records with tokens, and the
        -- cost it billed (attached to those records, or cost-only records).
        sum(usage_list_cost_usd) filter (where source_class = 'provider_api') as api_usage_cost,
        sum(usage_record_count) filter (where source_class = 'provider_api') as api_usage_records,
        sum(unbilled_usage_record_count) filter (where source_class = 'provider_api')
            as api_unbilled_records,
        sum(billed_cost_usd) filter (where source_class = 'provider_api') as api_billed,
        sum(usage_list_cost_usd) filter (where source_class = 'console_export')
            as export_usage_cost,
        sum(usage_record_count) filter (where source_class = 'console_export')
            as export_usage_records,
        sum(unbilled_usage_record_count) filter (where source_class = 'console_export')
            as export_unbilled_records,
        sum(billed_cost_usd) filter (where source_class = 'console_export') as export_billed,
        max(sources_seen) as sources_seen

    from by_source
    group by all

),

class_details as (

    select
        usage_date,
        provider,
        model,
        project_id,
        source_class,
        sum(input_tokens + cached_input_tokens + cache_write_tokens + output_tokens) as tokens,
        sum(unpriced_record_count) as unpriced_records,
        sum(assumed_base_tier_record_count) as assumed_base_tier_records,
        sum(non_standard_tier_record_count) as non_standard_tier_records,
        sum(cache_write_tokens) as cache_write_tokens,
        sum(cache_write_1h_tokens) as cache_write_1h_tokens,
        bool_or(has_distinct_1h_cache_price) as has_distinct_1h_cache_price

    from by_source
    where source_class <> 'request_log'
    group by all

),

observed as (

    select
        usage_date,
        provider,
        model,
        project_id,
        source as observed_source,
        sum(amount_usd) as observed_cost,
        sum(input_tokens + cached_input_tokens + cache_write_tokens + output_tokens)
            as observed_tokens

    from by_source
    where source_class = 'request_log'
    group by usage_date, provider, model, project_id, source
    qualify row_number() over (
        partition by usage_date, provider, model, project_id
        order by min({{ source_tiebreak('source') }})
    ) = 1

),

day_flags as (

    -- Whether the provider's own data covered the day: any reported cost (a cost endpoint or cost
    -- export), any usage records (a usage endpoint or usage export).
    select
        usage_date,
        provider,
        bool_or(billed_cost_usd is not null) as day_has_billed,
        bool_or(usage_record_count > 0) as day_has_usage
    from by_source
    where source_class <> 'request_log'
    group by all

),

figures as (

    select
        by_class.usage_date,
        by_class.provider,
        by_class.model,
        by_class.project_id,
        case
            when by_class.api_usage_records > 0 then 'provider_api'
            when by_class.export_usage_records > 0 then 'console_export'
        end as estimate_class,
        case
            when by_class.api_usage_records > 0 then by_class.api_usage_cost
            when by_class.export_usage_records > 0 then by_class.export_usage_cost
        end as estimated_cost,
        case
            when by_class.api_usage_records > 0 then by_class.api_unbilled_records
            when by_class.export_usage_records > 0 then by_class.export_unbilled_records
            else 0
        end as unbilled_usage_records,
        case
            when by_class.api_billed is not null then 'provider_api'
            when by_class.export_billed is not null then 'console_export'
        end as billed_source,
        coalesce(by_class.api_billed, by_class.export_billed) as billed_cost,
        observed.observed_source,
        observed.observed_cost,
        observed.observed_tokens,
        coalesce(day_flags.day_has_billed, false) as day_has_billed,
        coalesce(day_flags.day_has_usage, false) as day_has_usage,
        by_class.sources_seen

    from by_class
    left join observed
        on by_class.usage_date = observed.usage_date
        and by_class.provider = observed.provider
        and by_class.model = observed.model
        and by_class.project_id is not distinct from observed.project_id
    left join day_flags
        on by_class.usage_date = day_flags.usage_date
        and by_class.provider = day_flags.provider

),

with_details as (

    select
        figures.*,
        class_details.tokens as estimated_tokens,
        coalesce(class_details.unpriced_records, 0) as unpriced_records,
        coalesce(class_details.assumed_base_tier_records, 0) as assumed_base_tier_records,
        coalesce(class_details.non_standard_tier_records, 0) as non_standard_tier_records,
        coalesce(class_details.cache_write_tokens, 0) as cache_write_tokens,
        coalesce(class_details.cache_write_1h_tokens, 0) as cache_write_1h_tokens,
        coalesce(class_details.has_distinct_1h_cache_price, false) as has_distinct_1h_cache_price

    from figures
    left join class_details
        on figures.usage_date = class_details.usage_date
        and figures.provider = class_details.provider
        and figures.model = class_details.model
        and figures.project_id is not distinct from class_details.project_id
        and figures.estimate_class = class_details.source_class

),

compared as (

    select
        *,
        coalesce(billed_cost, estimated_cost) as reference_cost,
        billed_cost - estimated_cost as billed_minus_estimated,
        observed_cost - coalesce(billed_cost, estimated_cost) as observed_minus_reference,
        observed_tokens - estimated_tokens as observed_minus_estimated_tokens,
        (case when estimated_cost is not null then 1 else 0 end)
        + (case when billed_cost is not null then 1 else 0 end)
        + (case when observed_cost is not null then 1 else 0 end) as figure_count

    from with_details

),

judged as (

    select
        *,
        abs(billed_minus_estimated) > greatest(
            {{ tolerance_usd }}, abs(billed_cost) * {{ tolerance_pct }} * 0.01
        ) as billed_estimated_differ,
        abs(observed_minus_reference) > greatest(
            {{ tolerance_usd }}, abs(reference_cost) * {{ tolerance_pct }} * 0.01
        ) as observed_differs

    from compared

),

reasoned as (

    select
        *,
        case
            when figure_count = 0 then 'unpriced'
            when coalesce(billed_estimated_differ, false) or coalesce(observed_differs, false)
                then 'mismatch'
            when estimated_cost is not null and billed_cost is null and day_has_billed
                then 'mismatch'
            when billed_cost is not null and estimated_cost is null and day_has_usage
                then 'mismatch'
            when figure_count = 1 then 'single_source'
            else 'matched'
        end as status

    from judged

),

final as (

    select
        cast(usage_date as date) as usage_date,
        cast(provider as varchar) as provider,
        cast(model as varchar) as model,
        cast(project_id as varchar) as project_id,
        cast(round(estimated_cost, 6) as decimal(18, 6)) as estimated_cost_usd,
        cast(estimate_class as varchar) as estimated_source,
        cast(round(billed_cost, 6) as decimal(18, 6)) as billed_cost_usd,
        cast(billed_source as varchar) as billed_source,
        cast(round(observed_cost, 6) as decimal(18, 6)) as observed_cost_usd,
        cast(observed_source as varchar) as observed_source,
        cast(estimated_tokens as bigint) as estimated_tokens,
        cast(observed_tokens as bigint) as observed_tokens,
        cast(round(billed_minus_estimated, 6) as decimal(18, 6)) as billed_minus_estimated_usd,
        cast(round(observed_minus_reference, 6) as decimal(18, 6)) as observed_minus_reference_usd,
        cast(observed_minus_estimated_tokens as bigint) as observed_minus_estimated_tokens,
        cast(status as varchar) as status,
        cast(
            case
                when status not in ('mismatch', 'unpriced') then null
                when billed_cost is not null and estimated_cost is null
                    and coalesce(estimated_tokens, 0) = 0 then 'cost_without_usage'
                when estimated_cost is not null and billed_cost is null and day_has_billed
                    then 'usage_without_cost'
                when billed_estimated_differ and unbilled_usage_records > 0 and day_has_billed
                    then 'usage_without_cost'
                when unpriced_records > 0 or status = 'unpriced' then 'unpriced_model'
                when billed_estimated_differ
                    and (assumed_base_tier_records > 0 or non_standard_tier_records > 0)
                    then 'tier_mix'
                when billed_estimated_differ
                    and cache_write_tokens > 0
                    and cache_write_1h_tokens = 0
                    and has_distinct_1h_cache_price then 'cache_write_ttl'
                when observed_differs and observed_minus_estimated_tokens < 0
                    then 'observability_missing_traffic'
                when observed_differs and observed_minus_estimated_tokens > 0
                    then 'observability_extra_traffic'
                when billed_estimated_differ then 'price_difference'
                else 'observed_price_difference'
            end as varchar
        ) as reason_code,
        cast(sources_seen as varchar) as sources_seen

    from reasoned

)

select * from final
