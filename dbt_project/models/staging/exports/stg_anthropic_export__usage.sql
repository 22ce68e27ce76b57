{#-
  Anthropic Console usage (tokens) export renamed and cast to meterr's usage columns.
  Grain: one row per row of raw.anthropic_usage_export (UTC day x model x API key name x workspace
  name x usage type x context window).

  Buckets (macros/token_buckets.sql; the export's counts are disjoint, like the Admin API's):
  input_tokens = usage_input_tokens_no_cache; cached_input_tokens = ..._cache_read;
  cache_write_tokens = ..._cache_write_5m + ..._cache_write_1h (+ the single
  ..._cache_write column of older exports, which predate 1-hour writes); output_tokens =
  usage_output_tokens. The 1-hour writes are also the optional cache_write_1h_tokens (priced
  apart). request_count is 0: the export has no request counts (0 reported, not 0 made).
  web_search_count is a request count of a non-token tool; its cost is in the cost export.

  Attribution is by NAME, as the Console exports it: project_id = the workspace name ('Default' =
  the default workspace; the APIs use workspace ids instead), api_key_id = the API key's name
  (NULL where the export has '--', e.g. Console/Workbench usage). model = model_version, the API
  id. usage_type ('standard', 'batch', ...) is the service tier; context_window ('≤ 200k' /
  '> 200k') says whether the long-context price applies. No cost here (billed_cost_usd NULL;
  int_anthropic_export__usage_billed shares the cost export over these rows).
-#}
with

source as (

    select * from {{ source('raw', 'anthropic_usage_export') }}

),

renamed as (

    select
        cast(usage_date_utc as timestamp) as usage_ts,
        cast(usage_date_utc as date) as usage_date,
        cast('anthropic_export' as varchar) as source,
        cast('anthropic' as varchar) as provider,
        cast(coalesce(nullif(trim(model_version), ''), 'unknown') as varchar) as model,
        cast(workspace as varchar) as project_id,
        cast(api_key as varchar) as api_key_id,
        cast(null as varchar) as user_id,
        cast(null as varchar) as integration_id,
        cast(null as varchar) as request_id,
        cast(0 as bigint) as request_count,
        {{ anthropic_uncached_input('usage_input_tokens_no_cache') }} as input_tokens,
        {{ token_count('usage_input_tokens_cache_read') }} as cached_input_tokens,
        cast(
            {{ anthropic_cache_write('usage_input_tokens_cache_write_5m', 'usage_input_tokens_cache_write_1h') }}
            + {{ token_count('usage_input_tokens_cache_write') }}
            as bigint
        ) as cache_write_tokens,
        {{ token_count('usage_output_tokens') }} as output_tokens,
        cast(null as decimal(38, 12)) as billed_cost_usd,
        cast(_file_sha256 as varchar) as _file_sha256,
        -- optional union columns
        cast({{ normalize_service_tier('usage_type') }} as varchar) as service_tier,
        {{ anthropic_cache_write_1h('usage_input_tokens_cache_write_1h') }} as cache_write_1h_tokens,
        cast({{ is_long_context_from_window('context_window') }} as boolean) as is_long_context,
        -- not union columns: kept for matching cost lines and the raw row's identity.
        cast(context_window as varchar) as context_window,
        cast(_row_number as bigint) as _row_number

    from source

)

select * from renamed
