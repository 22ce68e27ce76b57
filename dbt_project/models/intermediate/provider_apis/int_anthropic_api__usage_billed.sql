{#-
  Anthropic API usage (usage report) with the cost report's billed amounts shared out over it,
  plus the cost lines no usage explains. Rows in int_usage_unioned's columns (and the optional
  service_tier, cache_write_1h_tokens, is_long_context).
  Grain: one row per usage row of stg_anthropic_api__messages (billing_basis 'allocated' or
  'no_cost_line'), plus one row per USD cost line of stg_anthropic_api__costs that matches no
  usage (billing_basis 'cost_only', zero tokens).

  Matching (macros/api_cost_allocation.sql): same UTC day, integration, workspace (NULL = the
  default workspace, NULL-safe) and model; strictly also the service tier, context window and
  inference geo wherever the line names them, else workspace and model only. The cost report has
  no API key, so a line is shared over every key's usage. The line's token_type picks the tokens
  it is shared by: uncached input, output, cache reads, 5-minute or 1-hour cache writes; a model
  line without a token type, all tokens. Amounts are whole micro-dollars by largest remainder, so
  each line's shares add up to it and a day's rows add up to the report's day total exactly
  (6 decimals; amount_usd is already cents / 100). Usage no line covers (Priority Tier usage is
  not in the cost report) keeps billed_cost_usd NULL; a line that matches nothing (web search,
  code execution, a model without usage that day) becomes its own row, model = the line's model,
  else its description. request_count is 0: the report has no request counts.
-#}
with

messages as (

    select * from {{ ref('stg_anthropic_api__messages') }}

),

costs as (

    select * from {{ ref('stg_anthropic_api__costs') }}

),

usage as materialized (

    select
        {{ api_row_key([
            'integration_id', 'usage_ts', 'model', 'workspace_id', 'api_key_id',
            'provider_service_tier', 'context_window', 'inference_geo'
        ]) }} as usage_key,
        *

    from messages

),

cost_lines as materialized (

    select
        {{ api_row_key(['integration_id', 'usage_ts', 'workspace_id', 'description']) }}
            as cost_key,
        *,
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

    from costs
    where billed_cost_usd is not null

),

{{ api_cost_allocation(
    strict_match="usage.workspace_id is not distinct from cost.workspace_id
        and (cost.provider_service_tier is null
            or lower(cost.provider_service_tier) = lower(usage.provider_service_tier))
        and (cost.context_window is null or cost.context_window = usage.context_window)
        and (cost.inference_geo is null or cost.inference_geo = usage.inference_geo)",
    relaxed_match="usage.workspace_id is not distinct from cost.workspace_id"
) }},

{{ billed_usage_rows(
    usage={'integration_id': 'usage.integration_id'},
    cost_only={
        'model': "coalesce(model, description, '(no description)')",
        'api_key_id': 'null',
        'integration_id': 'integration_id',
        'service_tier': normalize_service_tier('provider_service_tier'),
        'is_long_context': is_long_context_from_window('context_window'),
    },
    with_row_key=true
) }}

select * from final
