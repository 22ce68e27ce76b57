{#-
  OpenAI usage API, completions, renamed and cast to meterr's disjoint token buckets.
  Grain: one row per row of raw.openai_usage_completions (UTC day bucket x model x project x API key
  x OpenAI org user x batch x service tier x integration).

  Buckets (macros/token_buckets.sql): input_tokens = input_uncached_tokens, or for responses older
  than 2026-07 input_tokens - cached - cache writes; cache reads and writes as reported (NULL = 0).
  The text/audio/image fields are parts of these totals and are never added. user_id is the meterr
  user who owns the integration (NULL for an environment key); OpenAI's own org-member id is
  provider_user_id.
-#}
with

source as (

    select * from {{ source('raw', 'openai_usage_completions') }}

),

renamed as (

    select
        cast(bucket_start as timestamp) as usage_ts,
        cast(usage_date as date) as usage_date,
        cast(bucket_end as timestamp) as bucket_end,
        cast('openai_api' as varchar) as source,
        cast('openai' as varchar) as provider,
        -- The APIs document model as nullable; NULL would fail the marts' not-null model.
        cast(coalesce(nullif(trim(model), ''), 'unknown') as varchar) as model,
        cast(project_id as varchar) as project_id,
        cast(api_key_id as varchar) as api_key_id,
        cast(integration_user_id as varchar) as user_id,
        cast(user_id as varchar) as provider_user_id,
        cast(integration_id as varchar) as integration_id,
        cast(batch as boolean) as is_batch,
        cast(service_tier as varchar) as provider_service_tier,
        cast({{ normalize_service_tier('service_tier', 'batch') }} as varchar) as service_tier,
        cast(num_model_requests as bigint) as request_count,
        {{ openai_uncached_input(
            'input_tokens', 'input_cached_tokens', 'input_cache_write_tokens',
            'input_uncached_tokens'
        ) }} as input_tokens,
        {{ openai_cache_read('input_cached_tokens') }} as cached_input_tokens,
        {{ openai_cache_write('input_cache_write_tokens') }} as cache_write_tokens,
        -- OpenAI reports no cache-write TTL split.
        cast(0 as bigint) as cache_write_1h_tokens,
        cast(output_tokens as bigint) as output_tokens,
        -- As reported, for the invariant tests (input = uncached + cached + cache writes).
        cast(input_tokens as bigint) as reported_input_tokens,
        cast(input_uncached_tokens as bigint) as reported_uncached_input_tokens,
        cast(_file_sha256 as varchar) as _file_sha256,
        cast(_row_number as bigint) as _row_number,
        cast(_loaded_at as timestamp) as _loaded_at,
        cast(extracted_at as timestamp) as extracted_at

    from source

)

select * from renamed
