{#-
  Helicone request exports renamed and cast to meterr's usage columns.
  Grain: one row per request (row of raw.helicone_requests; the same request exported as CSV,
  JSON or JSONL is one row there, keyed by helicone_id).

  Buckets (macros/token_buckets.sql): prompt_tokens is already UNCACHED input (Helicone prices
  cache reads and writes on top of it), so input_tokens = prompt_tokens; cached_input_tokens =
  prompt_cache_read_tokens; cache_write_tokens = prompt_cache_write_tokens; output_tokens =
  completion_tokens + reasoning_tokens (Helicone's total_tokens is prompt + completion +
  reasoning). request_count = 1. billed_cost_usd = Helicone's cost (USD, from its own price
  table: an observed cost, not the provider's bill; NULL when the export has none).

  provider: Helicone's, as ingest mapped it; NULL there (a provider meterr does not know, e.g.
  'LOCAL') -> inferred from the model id, else 'unknown' (macros/export_sources.sql).
  request_id = helicone_id (the response id, else the request id: the record key).
  user_id = request_user_id (Helicone-User-Id). No project or API key in the export.
-#}
with

source as (

    select * from {{ source('raw', 'helicone_requests') }}

),

renamed as (

    select
        cast(request_created_at as timestamp) as usage_ts,
        cast(request_created_at as date) as usage_date,
        cast('helicone' as varchar) as source,
        {{ usage_provider('provider', 'model') }} as provider,
        cast(coalesce(nullif(trim(model), ''), 'unknown') as varchar) as model,
        cast(null as varchar) as project_id,
        cast(null as varchar) as api_key_id,
        cast(request_user_id as varchar) as user_id,
        cast(null as varchar) as integration_id,
        cast(helicone_id as varchar) as request_id,
        cast(1 as bigint) as request_count,
        {{ helicone_uncached_input('prompt_tokens') }} as input_tokens,
        {{ token_count('prompt_cache_read_tokens') }} as cached_input_tokens,
        {{ token_count('prompt_cache_write_tokens') }} as cache_write_tokens,
        {{ helicone_output('completion_tokens', 'reasoning_tokens') }} as output_tokens,
        cast(cost_usd as decimal(38, 12)) as billed_cost_usd,
        cast(_file_sha256 as varchar) as _file_sha256

    from source

)

select * from renamed
