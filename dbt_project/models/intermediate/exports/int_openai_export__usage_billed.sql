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
  (NULL-safe), else the same project only, else (match_level 'loose') any project where either
  export leaves the project empty. The dashboard exports what the view is grouped by: a cost
  export not grouped by project has no project on its lines, a usage export not grouped by
  project none on its rows, and the line then covers every project. Likewise a cost export not
  grouped by line item (no line_item: one amount per day and project) is shared over the usage
  of every model by all tokens; otherwise that spend would count twice, once at list price on
  the usage and once as a line no usage row explains. ', input' lines are shared by all input tokens
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
        -- NULL: the export is not grouped by line item, so the line names no model and covers
        -- every model.
        case when nullif(trim(line_item), '') is not null then lower(model) end as match_model,
        coalesce(token_type, 'total') as token_bucket,
        billed_cost_usd,
        _file_sha256

    from cost_export
    where billed_cost_usd is not null

),

{{ api_cost_allocation(
    strict_match="usage.project_id is not distinct from cost.project_id
        and usage.api_key_id is not distinct from cost.api_key_id",
    relaxed_match="usage.project_id is not distinct from cost.project_id",
    loose_match="(usage.project_id is not distinct from cost.project_id
        or usage.project_id is null or cost.project_id is null)",
    model_match="(cost.match_model is null or lower(usage.model) = cost.match_model)"
) }},

{{ billed_usage_rows(usage={'is_long_context': 'null'}) }}

select * from final
