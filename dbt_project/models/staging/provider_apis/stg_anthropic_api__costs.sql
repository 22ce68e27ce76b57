{#-
  Anthropic cost report renamed and cast.
  Grain: one row per row of raw.anthropic_cost_report (UTC day bucket x workspace x description x
  integration); model, token_type, cost_type, service_tier, context_window and inference_geo are
  what the report parsed out of the description. There is no API key dimension.

  billed_cost_usd = amount_usd, which ingest already divided by 100 exactly (the report's amount is
  in cents): never divide again. NULL for a currency other than USD.
-#}
with

source as (

    select * from {{ source('raw', 'anthropic_cost_report') }}

),

renamed as (

    select
        cast(bucket_start as timestamp) as usage_ts,
        cast(usage_date as date) as usage_date,
        cast(bucket_end as timestamp) as bucket_end,
        cast('anthropic_api' as varchar) as source,
        cast('anthropic' as varchar) as provider,
        cast(workspace_id as varchar) as project_id,
        cast(workspace_id as varchar) as workspace_id,
        cast(integration_user_id as varchar) as user_id,
        cast(integration_id as varchar) as integration_id,
        cast(description as varchar) as description,
        cast(cost_type as varchar) as cost_type,
        cast(model as varchar) as model,
        cast(token_type as varchar) as token_type,
        cast(service_tier as varchar) as provider_service_tier,
        cast(context_window as varchar) as context_window,
        cast(inference_geo as varchar) as inference_geo,
        cast(amount_cents as decimal(38, 12)) as amount_cents,
        cast(amount_usd as decimal(38, 12)) as amount_usd,
        cast(upper(trim(currency)) as varchar) as currency,
        cast(
            case when upper(trim(currency)) = 'USD' then amount_usd end as decimal(38, 12)
        ) as billed_cost_usd,
        cast(_file_sha256 as varchar) as _file_sha256,
        cast(_row_number as bigint) as _row_number,
        cast(_loaded_at as timestamp) as _loaded_at,
        cast(extracted_at as timestamp) as extracted_at

    from source

)

select * from renamed
