{#-
  OpenAI usage API, embeddings, renamed and cast to meterr's token buckets.
  Grain: one row per row of raw.openai_usage_embeddings (UTC day bucket x model x project x API key
  x OpenAI org user x integration). Embeddings only have input tokens: all uncached.
-#}
with

source as (

    select * from {{ source('raw', 'openai_usage_embeddings') }}

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
        -- The embeddings endpoint cannot be grouped by service tier or batch.
        cast('standard' as varchar) as service_tier,
        cast(num_model_requests as bigint) as request_count,
        {{ token_count('input_tokens') }} as input_tokens,
        cast(0 as bigint) as cached_input_tokens,
        cast(0 as bigint) as cache_write_tokens,
        cast(0 as bigint) as cache_write_1h_tokens,
        cast(0 as bigint) as output_tokens,
        cast(_file_sha256 as varchar) as _file_sha256,
        cast(_row_number as bigint) as _row_number,
        cast(_loaded_at as timestamp) as _loaded_at,
        cast(extracted_at as timestamp) as extracted_at

    from source

)

select * from renamed
