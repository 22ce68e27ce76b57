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
  same project only, else (a line without a project: costs the API did not put in a project) any
  project, so the same spend is not counted once billed and again at list price. The line's token
  type picks the tokens it is shared by: ', input' all input (uncached + cached + cache writes),
  ', cached input' cache reads, ', output' output, a whole-model line all tokens. Amounts are whole micro-dollars by largest remainder, so each line's
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
    relaxed_match="usage.project_id is not distinct from cost.project_id",
    loose_match="(usage.project_id is not distinct from cost.project_id
        or cost.project_id is null)"
) }},

{{ billed_usage_rows(
    usage={'integration_id': 'usage.integration_id', 'is_long_context': 'null'},
    cost_only={
        'model': "coalesce(model, line_item, '(no line item)')",
        'integration_id': 'integration_id',
    },
    with_row_key=true
) }}

select * from final
