{#-
  OpenAI Costs API renamed and cast, with the model and token type read out of line_item.
  Grain: one row per row of raw.openai_costs (UTC day bucket x project x line item x API key x
  integration).

  amount_value is already in currency units (dollars for 'usd'; never divided). billed_cost_usd is
  that amount for USD rows, NULL for any other currency (meterr does not convert currencies).

  line_item is free text ('gpt-4o-2024-08-06, input', 'gpt-4o-2024-08-06, Output',
  'gpt-4o-mini, cached input', 'Web search', 'dall-e 3, standard, 1024x1792, 1792x1024'), so it is
  read defensively: the part before the first comma is the model only when a later part names a
  token type (input / uncached input / cached input / cache write / output, any
  case); otherwise model and
  token_type are NULL and the line is a non-token cost.
-#}
with

source as (

    select * from {{ source('raw', 'openai_costs') }}

),

parts as (

    select
        *,
        nullif(trim(split_part(line_item, ',', 1)), '') as _line_head,
        case
            when strpos(line_item, ',') > 0
                then lower(trim(substr(line_item, strpos(line_item, ',') + 1)))
        end as _line_tail

    from source

),

renamed as (

    select
        cast(bucket_start as timestamp) as usage_ts,
        cast(usage_date as date) as usage_date,
        cast(bucket_end as timestamp) as bucket_end,
        cast('openai_api' as varchar) as source,
        cast('openai' as varchar) as provider,
        cast(project_id as varchar) as project_id,
        cast(api_key_id as varchar) as api_key_id,
        cast(integration_user_id as varchar) as user_id,
        cast(integration_id as varchar) as integration_id,
        cast(line_item as varchar) as line_item,
        cast(
            case
                when _line_tail like '%cache%'
                    and (_line_tail like '%write%' or _line_tail like '%creat%')
                    then 'cache_write'
                when _line_tail like '%uncached%' then 'uncached_input'
                when _line_tail like '%cached%' or _line_tail like '%cache read%'
                    or _line_tail like '%cache_read%'
                    then 'cache_read'
                when _line_tail like '%input%' then 'input'
                when _line_tail like '%output%' then 'output'
            end as varchar
        ) as token_type,
        cast(amount_value as decimal(38, 12)) as amount_value,
        cast(lower(trim(amount_currency)) as varchar) as currency,
        cast(
            case when lower(trim(amount_currency)) = 'usd' then amount_value end as decimal(38, 12)
        ) as billed_cost_usd,
        cast(quantity as decimal(38, 12)) as quantity,
        cast(quantity_unit as varchar) as quantity_unit,
        cast(_line_head as varchar) as _line_head,
        cast(_file_sha256 as varchar) as _file_sha256,
        cast(_row_number as bigint) as _row_number,
        cast(_loaded_at as timestamp) as _loaded_at,
        cast(extracted_at as timestamp) as extracted_at

    from parts

),

final as (

    select
        * exclude (_line_head),
        cast(case when token_type is not null then _line_head end as varchar) as model

    from renamed

)

select * from final
