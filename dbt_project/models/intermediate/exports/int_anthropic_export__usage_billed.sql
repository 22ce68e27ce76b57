{#-
  Anthropic Console exports: the usage export's rows with the cost export's amounts shared out
  over them, plus the cost lines no usage row explains. Rows in int_usage_unioned's columns (and
  the optional service_tier, cache_write_1h_tokens, is_long_context), source 'anthropic_export'.
  Grain: one row per row of stg_anthropic_export__usage (billing_basis 'allocated' or
  'no_cost_line'), plus one row per line of stg_anthropic_export__costs that matches no usage row
  (billing_basis 'cost_only', zero tokens).

  Why not just union the two: see int_openai_export__usage_billed (usage at list price plus the
  same usage's billed lines would count it twice in fct_usage_daily's total_cost_usd).

  Matching (macros/api_cost_allocation.sql): same UTC day and model (the cost export's display
  name mapped to the API id in staging, compared case-insensitively with the usage export's
  model_version), strictly also the same workspace and API key names (NULL-safe) and the context
  window where the line names one, else the same workspace only. The line's token_type picks the
  tokens it is shared by: input_no_cache uncached input, input_cache_read cache reads, cache
  write 5m / 1h lines those writes, output output; a line without a token type all tokens.
  Amounts are whole micro-dollars by largest remainder: each line's shares add up to it and a
  day's rows to the export's day total (6 decimals; cost_usd is dollars, never divided). A line
  that matches nothing (web search, a model without usage that day) becomes its own row.
  request_count is 0: neither export has request counts.
-#}
with

usage_export as (

    select * from {{ ref('stg_anthropic_export__usage') }}

),

cost_export as (

    select * from {{ ref('stg_anthropic_export__costs') }}

),

usage as materialized (

    select
        {{ api_row_key(['_file_sha256', '_row_number']) }} as usage_key,
        * exclude (integration_id),
        '' as integration_id

    from usage_export

),

cost_lines as materialized (

    select
        {{ api_row_key(['_file_sha256', '_row_number']) }} as cost_key,
        * exclude (integration_id),
        '' as integration_id,
        lower(model) as match_model,
        case
            when token_type is null then 'total'
            when lower(token_type) like '%1h%' then 'cache_write_1h'
            when lower(token_type) like '%5m%' then 'cache_write_5m'
            when lower(token_type) like '%cache_creation%' or lower(token_type) like '%cache_write%'
                then 'cache_write'
            when lower(token_type) like '%cache_read%' then 'cache_read'
            when lower(token_type) like '%output%' then 'output'
            when lower(token_type) like '%input%' then 'uncached_input'
            else 'total'
        end as token_bucket

    from cost_export
    where billed_cost_usd is not null

),

{{ api_cost_allocation(
    strict_match="usage.project_id is not distinct from cost.project_id
        and usage.api_key_id is not distinct from cost.api_key_id
        and (cost.context_window is null or cost.context_window = usage.context_window)",
    relaxed_match="usage.project_id is not distinct from cost.project_id"
) }},

usage_rows as (

    select
        usage.usage_ts,
        usage.usage_date,
        usage.source,
        usage.provider,
        usage.model,
        usage.project_id,
        usage.api_key_id,
        usage.user_id,
        usage.request_count,
        usage.input_tokens,
        usage.cached_input_tokens,
        usage.cache_write_tokens,
        usage.cache_write_1h_tokens,
        usage.output_tokens,
        usage.service_tier,
        usage.is_long_context,
        {{ from_micro('usage_billed.billed_micro') }} as billed_cost_usd,
        case when usage_billed.usage_key is null then 'no_cost_line' else 'allocated' end
            as billing_basis,
        usage_billed.match_level,
        coalesce(usage_billed.cost_line_count, 0) as cost_line_count,
        usage._file_sha256

    from usage
    left join usage_billed on usage.usage_key = usage_billed.usage_key

),

cost_only_rows as (

    select
        usage_ts,
        usage_date,
        source,
        provider,
        model,
        project_id,
        api_key_id,
        user_id,
        cast(0 as bigint) as request_count,
        cast(0 as bigint) as input_tokens,
        cast(0 as bigint) as cached_input_tokens,
        cast(0 as bigint) as cache_write_tokens,
        cast(0 as bigint) as cache_write_1h_tokens,
        cast(0 as bigint) as output_tokens,
        'standard' as service_tier,
        {{ is_long_context_from_window('context_window') }} as is_long_context,
        {{ from_micro('billed_micro') }} as billed_cost_usd,
        'cost_only' as billing_basis,
        cast(null as varchar) as match_level,
        cast(1 as bigint) as cost_line_count,
        _file_sha256

    from cost_unmatched

),

unioned as (

    select * from usage_rows
    union all
    select * from cost_only_rows

),

final as (

    select
        cast(usage_ts as timestamp) as usage_ts,
        cast(usage_date as date) as usage_date,
        cast(source as varchar) as source,
        cast(provider as varchar) as provider,
        cast(model as varchar) as model,
        cast(project_id as varchar) as project_id,
        cast(api_key_id as varchar) as api_key_id,
        cast(user_id as varchar) as user_id,
        cast(null as varchar) as integration_id,
        cast(null as varchar) as request_id,
        cast(request_count as bigint) as request_count,
        cast(input_tokens as bigint) as input_tokens,
        cast(cached_input_tokens as bigint) as cached_input_tokens,
        cast(cache_write_tokens as bigint) as cache_write_tokens,
        cast(cache_write_1h_tokens as bigint) as cache_write_1h_tokens,
        cast(output_tokens as bigint) as output_tokens,
        cast(service_tier as varchar) as service_tier,
        cast(is_long_context as boolean) as is_long_context,
        cast(billed_cost_usd as decimal(38, 12)) as billed_cost_usd,
        cast(billing_basis as varchar) as billing_basis,
        cast(match_level as varchar) as match_level,
        cast(cost_line_count as bigint) as cost_line_count,
        cast(_file_sha256 as varchar) as _file_sha256

    from unioned

)

select * from final
