{#-
  Anthropic Console cost export renamed and cast to meterr's usage columns: cost lines, no tokens.
  Grain: one row per row of raw.anthropic_cost_export with a cost (UTC day x model x workspace
  name x API key name x usage type x context window x token type).

  cost_usd is DOLLARS (unlike the Admin API cost report's cents): billed_cost_usd = cost_usd,
  never divided by 100. Tokens and request_count are 0: the usage export carries them.

  model is a display name ('Claude Sonnet 4.5'); it becomes the API id through the seed
  anthropic_model_names (case- and whitespace-insensitive), else by rule for 4.x and later names
  ('Claude Sonnet 4.7' -> 'claude-sonnet-4-7', macros/export_sources.sql), else it stays as given
  (unpriced, visible). A line without a model (web search, code execution: the export writes
  '--') gets its cost_type as model ('web_search'). project_id / api_key_id are the workspace and
  API key NAMES, as in stg_anthropic_export__usage (newer files also carry api_key_id, an id
  the usage export lacks; names keep both exports on the same key).
-#}
with

source as (

    select * from {{ source('raw', 'anthropic_cost_export') }}
    where cost_usd is not null

),

model_names as (

    select
        {{ anthropic_display_name_key('display_name') }} as display_name_key,
        model_id

    from {{ ref('anthropic_model_names') }}

),

mapped as (

    select
        source.*,
        coalesce(
            model_names.model_id,
            {{ anthropic_display_name_fallback('source.model') }},
            nullif(trim(source.model), ''),
            nullif(trim(source.cost_type), ''),
            '(no model)'
        ) as _model_id

    from source
    left join model_names
        on {{ anthropic_display_name_key('source.model') }} = model_names.display_name_key

),

renamed as (

    select
        cast(usage_date_utc as timestamp) as usage_ts,
        cast(usage_date_utc as date) as usage_date,
        cast('anthropic_export' as varchar) as source,
        cast('anthropic' as varchar) as provider,
        cast(_model_id as varchar) as model,
        cast(workspace as varchar) as project_id,
        cast(api_key as varchar) as api_key_id,
        cast(null as varchar) as user_id,
        cast(null as varchar) as integration_id,
        cast(null as varchar) as request_id,
        cast(0 as bigint) as request_count,
        cast(0 as bigint) as input_tokens,
        cast(0 as bigint) as cached_input_tokens,
        cast(0 as bigint) as cache_write_tokens,
        cast(0 as bigint) as output_tokens,
        cast(cost_usd as decimal(38, 12)) as billed_cost_usd,
        cast(_file_sha256 as varchar) as _file_sha256,
        -- not union columns: what the line charges (int_anthropic_export__usage_billed shares it
        -- over the usage rows of that model and token type) and the raw row's identity.
        cast(model as varchar) as model_display_name,
        cast(token_type as varchar) as token_type,
        cast(cost_type as varchar) as cost_type,
        cast(context_window as varchar) as context_window,
        cast(_row_number as bigint) as _row_number

    from mapped

)

select * from renamed
