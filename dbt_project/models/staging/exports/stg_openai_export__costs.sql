{#-
  OpenAI dashboard cost export renamed and cast to meterr's usage columns: cost lines, no tokens.
  Grain: one row per row of raw.openai_cost_export that has an amount in USD (day bucket x the
  export's grouping: project, line item, API key, user).

  Left out: the export's empty days (rows with only the time columns, amount NULL) and lines in
  another currency (meterr does not convert; a warn test on the source flags them).
  amount_value is already dollars (a long decimal, kept exact): billed_cost_usd = amount_value,
  never divided. Tokens and request_count are 0: the usage export carries them.

  line_item is free text ('gpt-4o-2024-08-06, input', 'gpt-4o-mini, cached input',
  'Web search'). As for the Costs API (stg_openai_api__costs) the part before the first comma is
  the model only when a later part names a token type (input / uncached input / cached input /
  cache write / output, any case); token_type says which. Any other line is a non-token cost
  ('Web search', image or audio lines): model = the line item text as given, token_type NULL,
  so the cost stays visible under its own name (unpriced, billed).
-#}
with

source as (

    select * from {{ source('raw', 'openai_cost_export') }}

),

usd_lines as (

    select
        *,
        nullif(trim(split_part(line_item, ',', 1)), '') as _line_head,
        case
            when strpos(line_item, ',') > 0
                then lower(trim(substr(line_item, strpos(line_item, ',') + 1)))
        end as _line_tail

    from source
    where amount_value is not null
        and coalesce(lower(trim(amount_currency)), 'usd') = 'usd'

),

typed as (

    select
        *,
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
        end as _token_type

    from usd_lines

),

renamed as (

    select
        cast(start_time as timestamp) as usage_ts,
        cast(start_time as date) as usage_date,
        cast('openai_export' as varchar) as source,
        cast('openai' as varchar) as provider,
        cast(
            case
                when _token_type is not null and _line_head is not null then _line_head
                else coalesce(nullif(trim(line_item), ''), '(no line item)')
            end as varchar
        ) as model,
        cast(project_id as varchar) as project_id,
        cast(api_key_id as varchar) as api_key_id,
        cast(user_id as varchar) as user_id,
        cast(null as varchar) as integration_id,
        cast(null as varchar) as request_id,
        cast(0 as bigint) as request_count,
        cast(0 as bigint) as input_tokens,
        cast(0 as bigint) as cached_input_tokens,
        cast(0 as bigint) as cache_write_tokens,
        cast(0 as bigint) as output_tokens,
        cast(amount_value as decimal(38, 12)) as billed_cost_usd,
        cast(_file_sha256 as varchar) as _file_sha256,
        -- not union columns: what the line charges (int_openai_export__usage_billed shares it
        -- over the usage rows of that model and token type) and the raw row's identity.
        cast(_token_type as varchar) as token_type,
        cast(line_item as varchar) as line_item,
        cast(_row_number as bigint) as _row_number

    from typed

)

select * from renamed
