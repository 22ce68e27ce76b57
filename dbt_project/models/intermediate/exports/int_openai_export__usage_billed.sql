{#-
  OpenAI dashboard exports: the usage export's rows with the cost export's amounts shared out over
  them, plus the cost lines no usage row explains. Rows in int_usage_unioned's columns (and the
  optional service_tier, cache_write_1h_tokens, is_long_context), source 'openai_export'.
  Grain: one row per row of stg_openai_export__usage (billing_basis 'allocated' or
  'no_cost_line'), plus one row per line of stg_openai_export__costs that matches no usage row
  (billing_basis 'cost_only', zero tokens).

  Why not just union the two: a day's usage rows would then count at list price AND the same
  day's cost lines at their billed amount, so fct_usage_daily's total_cost_usd for the source would
  count that usage twice. Sharing each line over the usage it bills (as the provider API path
  does, macros/api_cost_allocation.sql) keeps both totals exact: tokens = the usage export's,
  billed = the cost export's day totals (to the micro-dollar).

  Matching: same UTC day and model (read out of line_item, case-insensitive; a line without a
  token type is tried as a whole-model line), strictly also the same project and API key
  (NULL-safe), else the same project only. ', input' lines are shared by all input tokens
  (uncached + cached + cache writes), ', cached input' by cache reads, ', output' by output, a
  whole-model line by all tokens. Usage no line covers keeps billed_cost_usd NULL (list price
  applies downstream); a line that matches nothing (web search, a day without a usage export)
  becomes its own row with its amount, model = the parsed model, else the line item text.
  Dropped files have no integration: integration_id is NULL (the allocation runs on '').
-#}
with

usage_export as (

    select * from {{ ref('stg_openai_export__usage') }}

),

cost_export as (

    select * from {{ ref('stg_openai_export__costs') }}

),

usage as materialized (

    select
        {{ api_row_key(['_file_sha256', '_row_number']) }} as usage_key,
        usage_ts,
        usage_date,
        source,
        provider,
        model,
        project_id,
        api_key_id,
        user_id,
        '' as integration_id,
        request_count,
        input_tokens,
        cached_input_tokens,
        cache_write_tokens,
        cast(0 as bigint) as cache_write_1h_tokens,
        output_tokens,
        service_tier,
        _file_sha256

    from usage_export

),

cost_lines as materialized (

    select
        {{ api_row_key(['_file_sha256', '_row_number']) }} as cost_key,
        usage_ts,
        usage_date,
        source,
        provider,
        model,
        project_id,
        api_key_id,
        user_id,
        '' as integration_id,
        lower(model) as match_model,
        coalesce(token_type, 'total') as token_bucket,
        billed_cost_usd,
        _file_sha256

    from cost_export
    where billed_cost_usd is not null

),

{{ api_cost_allocation(
    strict_match="usage.project_id is not distinct from cost.project_id
        and usage.api_key_id is not distinct from cost.api_key_id",
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
        cast(null as boolean) as is_long_context,
        cast(billed_cost_usd as decimal(38, 12)) as billed_cost_usd,
        cast(billing_basis as varchar) as billing_basis,
        cast(match_level as varchar) as match_level,
        cast(cost_line_count as bigint) as cost_line_count,
        cast(_file_sha256 as varchar) as _file_sha256

    from unioned

)

select * from final
