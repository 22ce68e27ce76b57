{#- meterr's custom format, renamed and cast to the common usage columns: one row per record,
    source 'webhook' for payloads pushed to the webhook receiver, else 'custom'. -#}
with

source as (

    select * from {{ source('raw', 'custom_usage') }}

),

renamed as (

    select
        cast("timestamp" as timestamp) as usage_ts,
        -- raw timestamps are UTC, so the cast to DATE is the UTC day.
        cast("timestamp" as date) as usage_date,
        -- rows the webhook receiver wrote (drop/webhooks/) are the contract's 'webhook' source.
        cast(case when _origin = 'webhook' then 'webhook' else 'custom' end as varchar) as source,
        cast(provider as varchar) as provider,
        cast(model as varchar) as model,
        cast(project_id as varchar) as project_id,
        cast(api_key_id as varchar) as api_key_id,
        cast(user_id as varchar) as user_id,
        -- custom files are not tied to a configured integration.
        cast(null as varchar) as integration_id,
        cast(request_id as varchar) as request_id,
        -- the format documents a missing count as one request and missing tokens as none.
        cast(coalesce(request_count, 1) as bigint) as request_count,
        cast(coalesce(input_tokens, 0) as bigint) as input_tokens,
        cast(coalesce(cached_input_tokens, 0) as bigint) as cached_input_tokens,
        cast(coalesce(cache_write_tokens, 0) as bigint) as cache_write_tokens,
        cast(coalesce(output_tokens, 0) as bigint) as output_tokens,
        cast(cost_usd as decimal(38, 12)) as billed_cost_usd,
        cast(_file_sha256 as varchar) as _file_sha256

    from source

)

select * from renamed
