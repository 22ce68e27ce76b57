{#-
  OpenAI API usage (completions + embeddings) with the Costs API's billed amounts shared out over
  it, plus the cost lines no usage explains. Rows in int_usage_unioned's columns (and the optional
  service_tier, cache_write_1h_tokens, is_long_context).
  Grain: one row per usage row of stg_openai_api__completions / stg_openai_api__embeddings
  (billing_basis 'allocated' or 'no_cost_line'), plus one row per USD cost line of
  stg_openai_api__costs that matches no usage (billing_basis 'cost_only', zero tokens).

  Matching (macros/api_cost_allocation.sql): same UTC day, integration and model (the model read
  out of line_item, case-insensitive; a line without a token type is tried as a whole-model line),
  strictly also the same project and API key (NULL-safe: the Costs API is grouped by both), else the
  same project only. The line's token type picks the tokens it is shared by: ', input' all input
  (uncached + cached + cache writes), ', cached input' cache reads, ', output' output, a
  whole-model line all tokens. Amounts are whole micro-dollars by largest remainder, so each line's
  shares add up to it and a day's rows add up to the Costs API's day total exactly (6 decimals).
  Usage that no line covers keeps billed_cost_usd NULL (list price applies downstream); a line
  that matches nothing (web search, a model without usage that day) becomes its own row, model =
  the parsed model, else the line item text.
-#}
with

completions as (

    select * from {{ ref('stg_openai_api__completions') }}

),

embeddings as (

    select * from {{ ref('stg_openai_api__embeddings') }}

),

costs as (

    select * from {{ ref('stg_openai_api__costs') }}

),

usage as materialized (

    select
        {{ api_row_key([
            "'completions'", 'integration_id', 'usage_ts', 'model', 'project_id', 'api_key_id',
            'provider_user_id', 'is_batch', 'provider_service_tier'
        ]) }} as usage_key,
        usage_ts,
        usage_date,
        source,
        provider,
        model,
        project_id,
        api_key_id,
        user_id,
        integration_id,
        request_count,
        input_tokens,
        cached_input_tokens,
        cache_write_tokens,
        cache_write_1h_tokens,
        output_tokens,
        service_tier,
        _file_sha256

    from completions

    union all

    select
        {{ api_row_key([
            "'embeddings'", 'integration_id', 'usage_ts', 'model', 'project_id', 'api_key_id',
            'provider_user_id'
        ]) }} as usage_key,
        usage_ts,
        usage_date,
        source,
        provider,
        model,
        project_id,
        api_key_id,
        user_id,
        integration_id,
        request_count,
        input_tokens,
        cached_input_tokens,
        cache_write_tokens,
        cache_write_1h_tokens,
        output_tokens,
        service_tier,
        _file_sha256

    from embeddings

),

cost_lines as materialized (

    select
        {{ api_row_key([
            'integration_id', 'usage_ts', 'project_id', 'api_key_id', 'line_item'
        ]) }} as cost_key,
        usage_ts,
        usage_date,
        source,
        provider,
        project_id,
        api_key_id,
        user_id,
        integration_id,
        line_item,
        model,
        -- A line without a token type may still name a whole model ('gpt-4o-2024-08-06').
        lower(coalesce(model, trim(line_item))) as match_model,
        coalesce(token_type, 'total') as token_bucket,
        billed_cost_usd,
        _file_sha256

    from costs
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
        usage.integration_id,
        cast(null as varchar) as request_id,
        usage.request_count,
        usage.input_tokens,
        usage.cached_input_tokens,
        usage.cache_write_tokens,
        usage.cache_write_1h_tokens,
        usage.output_tokens,
        usage.service_tier,
        cast(null as boolean) as is_long_context,
        {{ from_micro('usage_billed.billed_micro') }} as billed_cost_usd,
        case when usage_billed.usage_key is null then 'no_cost_line' else 'allocated' end
            as billing_basis,
        usage_billed.match_level,
        coalesce(usage_billed.cost_line_count, 0) as cost_line_count,
        usage.usage_key as row_key,
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
        coalesce(model, line_item, '(no line item)') as model,
        project_id,
        api_key_id,
        user_id,
        integration_id,
        cast(null as varchar) as request_id,
        cast(0 as bigint) as request_count,
        cast(0 as bigint) as input_tokens,
        cast(0 as bigint) as cached_input_tokens,
        cast(0 as bigint) as cache_write_tokens,
        cast(0 as bigint) as cache_write_1h_tokens,
        cast(0 as bigint) as output_tokens,
        cast('standard' as varchar) as service_tier,
        cast(null as boolean) as is_long_context,
        {{ from_micro('billed_micro') }} as billed_cost_usd,
        'cost_only' as billing_basis,
        cast(null as varchar) as match_level,
        cast(1 as bigint) as cost_line_count,
        cost_key as row_key,
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
        cast(integration_id as varchar) as integration_id,
        cast(request_id as varchar) as request_id,
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
        cast(row_key as varchar) as row_key,
        cast(_file_sha256 as varchar) as _file_sha256

    from unioned

)

select * from final
