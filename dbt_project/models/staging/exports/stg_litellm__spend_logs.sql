{#-
  LiteLLM proxy spend logs renamed and cast to meterr's usage columns.
  Grain: one row per request (row of raw.litellm_spend_logs, keyed by request_id).

  Buckets (macros/token_buckets.sql): LiteLLM's prompt_tokens INCLUDES cache reads and cache
  writes, so input_tokens = prompt_tokens - cache_read_input_tokens - cache_creation_input_tokens
  (both from metadata.additional_usage_values). A row whose cache counts exceed prompt_tokens
  comes from a LiteLLM version that did not fold them in (writes, or reads and writes): then only
  what fits is taken out (prompt - reads when reads fit, else prompt as it is), rather than
  flooring at 0 and losing the prompt's tokens. The source's warn-severity test names such rows.
  cached_input_tokens / cache_write_tokens = those cache counts; output_tokens = completion_tokens.
  request_count = 1. billed_cost_usd = spend (USD, LiteLLM's own price table: an observed cost).
  Requests LiteLLM answered from its own cache (cache_hit) keep the tokens it logged, with its
  spend (0).

  provider: custom_llm_provider as ingest mapped it ('bedrock' -> 'aws', 'vertex_ai' ->
  'google'...); NULL (unknown to meterr) -> inferred from the model id, else 'unknown'.
  project_id = team_id; api_key_id = api_key (LiteLLM's hash of the virtual key, never the key);
  user_id = the request's user, else end_user, else the key's owner (user_api_key_user_id).
-#}
with

source as (

    select * from {{ source('raw', 'litellm_spend_logs') }}

),

renamed as (

    select
        cast(start_time as timestamp) as usage_ts,
        cast(start_time as date) as usage_date,
        cast('litellm' as varchar) as source,
        {{ usage_provider('provider', 'model') }} as provider,
        cast(coalesce(nullif(trim(model), ''), 'unknown') as varchar) as model,
        cast(team_id as varchar) as project_id,
        cast(nullif(trim(api_key), '') as varchar) as api_key_id,
        cast(
            coalesce(nullif(trim("user"), ''), nullif(trim(end_user), ''), user_api_key_user_id)
            as varchar
        ) as user_id,
        cast(null as varchar) as integration_id,
        cast(request_id as varchar) as request_id,
        cast(1 as bigint) as request_count,
        cast(case
            when {{ litellm_uncached_input(
                'prompt_tokens', 'cache_read_input_tokens', 'cache_creation_input_tokens'
            ) }} >= 0
                then {{ litellm_uncached_input(
                    'prompt_tokens', 'cache_read_input_tokens', 'cache_creation_input_tokens'
                ) }}
            when {{ uncached_from_total('prompt_tokens', 'cache_read_input_tokens') }} >= 0
                then {{ uncached_from_total('prompt_tokens', 'cache_read_input_tokens') }}
            else {{ token_count('prompt_tokens') }}
        end as bigint) as input_tokens,
        {{ token_count('cache_read_input_tokens') }} as cached_input_tokens,
        {{ token_count('cache_creation_input_tokens') }} as cache_write_tokens,
        {{ token_count('completion_tokens') }} as output_tokens,
        cast(spend as decimal(38, 12)) as billed_cost_usd,
        cast(_file_sha256 as varchar) as _file_sha256

    from source

)

select * from renamed
