{#-
  Anthropic usage report (messages) renamed and cast to meterr's disjoint token buckets.
  Grain: one row per row of raw.anthropic_usage_messages (UTC day bucket x model x workspace x API
  key x service tier x context window x inference geo x integration).

  input_tokens = uncached_input_tokens; cached_input_tokens = cache reads; cache_write_tokens =
  5-minute + 1-hour cache writes, both also kept apart (they are priced differently).
  project_id is the workspace (NULL = the default workspace). request_count is 0: the classic usage
  report has no request counts (0 requests reported, not 0 requests made).
-#}
with

source as (

    select * from {{ source('raw', 'anthropic_usage_messages') }}

),

renamed as (

    select
        cast(bucket_start as timestamp) as usage_ts,
        cast(usage_date as date) as usage_date,
        cast(bucket_end as timestamp) as bucket_end,
        cast('anthropic_api' as varchar) as source,
        cast('anthropic' as varchar) as provider,
        -- The APIs document model as nullable; NULL would fail the marts' not-null model.
        cast(coalesce(nullif(trim(model), ''), 'unknown') as varchar) as model,
        cast(workspace_id as varchar) as project_id,
        cast(workspace_id as varchar) as workspace_id,
        cast(api_key_id as varchar) as api_key_id,
        cast(integration_user_id as varchar) as user_id,
        cast(integration_id as varchar) as integration_id,
        cast(service_tier as varchar) as provider_service_tier,
        cast({{ normalize_service_tier('service_tier') }} as varchar) as service_tier,
        cast(context_window as varchar) as context_window,
        cast({{ is_long_context_from_window('context_window') }} as boolean) as is_long_context,
        cast(inference_geo as varchar) as inference_geo,
        cast(0 as bigint) as request_count,
        {{ anthropic_uncached_input('uncached_input_tokens') }} as input_tokens,
        {{ token_count('cache_read_input_tokens') }} as cached_input_tokens,
        {{ token_count('cache_creation_5m_input_tokens') }} as cache_write_5m_tokens,
        {{ anthropic_cache_write_1h('cache_creation_1h_input_tokens') }} as cache_write_1h_tokens,
        {{ anthropic_cache_write(
            'cache_creation_5m_input_tokens', 'cache_creation_1h_input_tokens'
        ) }} as cache_write_tokens,
        cast(output_tokens as bigint) as output_tokens,
        cast(web_search_requests as bigint) as web_search_requests,
        cast(_file_sha256 as varchar) as _file_sha256,
        cast(_row_number as bigint) as _row_number,
        cast(_loaded_at as timestamp) as _loaded_at,
        cast(extracted_at as timestamp) as extracted_at

    from source

)

select * from renamed
