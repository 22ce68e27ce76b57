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
        usage.is_long_context,
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
        coalesce(model, description, '(no description)') as model,
        project_id,
        cast(null as varchar) as api_key_id,
        user_id,
        integration_id,
        cast(null as varchar) as request_id,
        cast(0 as bigint) as request_count,
        cast(0 as bigint) as input_tokens,
        cast(0 as bigint) as cached_input_tokens,
        cast(0 as bigint) as cache_write_tokens,
        cast(0 as bigint) as cache_write_1h_tokens,
        cast(0 as bigint) as output_tokens,
        {{ normalize_service_tier('provider_service_tier') }} as service_tier,
        {{ is_long_context_from_window('context_window') }} as is_long_context,
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
