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
  window where the line names one, else the same workspace only, else (match_level 'loose') any
  workspace where either export leaves the workspace empty ('--' or no column: the view was not
  grouped by workspace, so the line covers every workspace). A token line without a model (a
  cost view not grouped by model) covers every model. The line's token_type picks the
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
        -- NULL: a token line of a cost view not grouped by model names no model (staging gave
        -- it its cost_type as model); it covers every model.
        case
            when model_display_name is null and token_type is not null then null
            else lower(model)
        end as match_model,
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
    relaxed_match="usage.project_id is not distinct from cost.project_id",
    loose_match="(usage.project_id is not distinct from cost.project_id
        or usage.project_id is null or cost.project_id is null)",
    model_match="(cost.match_model is null or lower(usage.model) = cost.match_model)"
) }},

{{ billed_usage_rows(
    cost_only={'is_long_context': is_long_context_from_window('context_window')}
) }}

select * from final
