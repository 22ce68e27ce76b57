{#-
  OpenAI dashboard Activity (usage) exports renamed and cast to meterr's usage columns.
  Grain: one row per row of raw.openai_usage_export whose usage_kind carries tokens (time bucket,
  1 minute to 1 day, x the export's grouping: project, API key, user, model, batch, tier...).

  Only token-bearing kinds (completions, embeddings, moderations) are usage here. Images, audio
  seconds/characters, vector storage, code interpreter sessions and web/file search calls have no
  tokens to price: their cost is in the cost export (stg_openai_export__costs), and a zero-token
  row would show them as $0 list cost.

  Buckets (macros/token_buckets.sql): input_tokens = input_uncached_tokens where the export has it,
  else input_tokens - cached - cache writes (OpenAI's input_tokens includes both);
  cached_input_tokens = input_cached_tokens; cache_write_tokens = input_cache_write_tokens;
  output_tokens = output_tokens (0 for embeddings). Text/audio/image breakdowns are parts of these
  totals and never added. request_count = num_model_requests. The export reports no cost
  (billed_cost_usd NULL; int_openai_export__usage_billed shares the cost export over these rows).
  user_id is OpenAI's org member (the export's user_id), NULL unless the export was grouped by
  user. A row without a model (export not grouped by model) gets model 'unknown' (unpriced).
-#}
with

source as (

    select * from {{ source('raw', 'openai_usage_export') }}

),

token_usage as (

    select *
    from source
    where usage_kind in ('completions', 'embeddings', 'moderations')

),

renamed as (

    select
        cast(start_time as timestamp) as usage_ts,
        cast(start_time as date) as usage_date,
        cast('openai_export' as varchar) as source,
        cast('openai' as varchar) as provider,
        cast(coalesce(nullif(trim(model), ''), 'unknown') as varchar) as model,
        cast(project_id as varchar) as project_id,
        cast(api_key_id as varchar) as api_key_id,
        cast(user_id as varchar) as user_id,
        -- dropped files are not tied to a configured integration.
        cast(null as varchar) as integration_id,
        cast(null as varchar) as request_id,
        {{ token_count('num_model_requests') }} as request_count,
        {{ openai_uncached_input(
            'input_tokens', 'input_cached_tokens', 'input_cache_write_tokens',
            'input_uncached_tokens'
        ) }} as input_tokens,
        {{ openai_cache_read('input_cached_tokens') }} as cached_input_tokens,
        {{ openai_cache_write('input_cache_write_tokens') }} as cache_write_tokens,
        {{ token_count('output_tokens') }} as output_tokens,
        cast(null as decimal(38, 12)) as billed_cost_usd,
        cast(_file_sha256 as varchar) as _file_sha256,
        -- optional union column: 'batch' for Batch API rows, else the export's tier.
        cast({{ normalize_service_tier('service_tier', 'coalesce(batch, false)') }} as varchar)
            as service_tier,
        -- not a union column: with _file_sha256 it identifies the raw row.
        cast(_row_number as bigint) as _row_number

    from token_usage

)

select * from renamed
