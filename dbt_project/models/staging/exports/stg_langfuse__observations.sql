{#-
  Langfuse observation exports renamed and cast to meterr's usage columns.
  Grain: one row per observation of raw.langfuse_observations that names a model or has usage or
  cost (generations, embeddings...). Spans, events and other observations without any of those
  are left out: they describe the trace, not model usage.

  Buckets: ingest already split usageDetails (keys containing 'input' / 'output'; cache keys
  apart), so input_tokens is uncached input, cached_input_tokens the cache reads,
  cache_write_tokens the cache writes, output_tokens output including reasoning.
  request_count = 1 (one model call per observation).

  billed_cost_usd = Langfuse's totalCost (USD). Langfuse computes it from its own model price
  table (or the cost the SDK reported): it is an observed cost, not a provider bill. It is kept
  in billed_cost_usd because that is what this source reports as cost; meterr's source precedence
  (macros/accounting.sql) ranks observability logs below provider APIs and console exports, and
  rpt_source_reconciliation reports it as 'observed'.

  provider: Langfuse exports none; inferred from the model id, else 'unknown'
  (macros/export_sources.sql). project_id = the Langfuse project; user_id = the trace's userId;
  request_id = the observation id. A row with usage but no model gets model 'unknown'.
-#}
with

source as (

    select * from {{ source('raw', 'langfuse_observations') }}

),

model_usage as (

    select *
    from source
    where nullif(trim(model), '') is not null
        or coalesce(input_tokens, 0) + coalesce(cache_read_tokens, 0)
            + coalesce(cache_write_tokens, 0) + coalesce(output_tokens, 0) > 0
        or coalesce(total_cost, 0) > 0

),

renamed as (

    select
        cast(start_time as timestamp) as usage_ts,
        cast(start_time as date) as usage_date,
        cast('langfuse' as varchar) as source,
        {{ usage_provider('null', 'model') }} as provider,
        cast(coalesce(nullif(trim(model), ''), 'unknown') as varchar) as model,
        cast(project_id as varchar) as project_id,
        cast(null as varchar) as api_key_id,
        cast(user_id as varchar) as user_id,
        cast(null as varchar) as integration_id,
        cast(id as varchar) as request_id,
        cast(1 as bigint) as request_count,
        {{ token_count('input_tokens') }} as input_tokens,
        {{ token_count('cache_read_tokens') }} as cached_input_tokens,
        {{ token_count('cache_write_tokens') }} as cache_write_tokens,
        {{ token_count('output_tokens') }} as output_tokens,
        cast(total_cost as decimal(38, 12)) as billed_cost_usd,
        cast(_file_sha256 as varchar) as _file_sha256

    from model_usage

)

select * from renamed
