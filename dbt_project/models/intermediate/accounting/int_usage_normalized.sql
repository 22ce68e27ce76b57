{#-
  Every usage record with meterr's full bucket and tier columns, whatever the union carries yet.
  Grain: one row per usage record from any source (as int_usage_unioned; nothing added or dropped).

  The optional columns below are picked up from int_usage_unioned once the staging models provide
  them (see macros/token_buckets.sql); until then they get the value that means "unknown / none":
    service_tier           standard | batch | flex | priority | other  (NULL -> 'standard')
    cache_write_1h_tokens  part of cache_write_tokens with a 1-hour TTL (missing -> 0: 5m rate)
    is_long_context        the source says the requests were above the long-context threshold
-#}
{%- set columns = relation_column_names(ref('int_usage_unioned')) -%}

with

usage as (

    select * from {{ ref('int_usage_unioned') }}

),

normalized as (

    select
        usage_ts,
        usage_date,
        source,
        provider,
        model,
        project_id,
        api_key_id,
        user_id,
        integration_id,
        request_id,
        cast(request_count as bigint) as request_count,
        cast(input_tokens as bigint) as input_tokens,
        cast(cached_input_tokens as bigint) as cached_input_tokens,
        cast(cache_write_tokens as bigint) as cache_write_tokens,
        cast(
            coalesce({{ optional_column(columns, 'cache_write_1h_tokens', 'null') }}, 0) as bigint
        ) as cache_write_1h_tokens,
        cast(output_tokens as bigint) as output_tokens,
        cast(
            {{ normalize_service_tier(optional_column(columns, 'service_tier', 'null')) }}
            as varchar
        ) as service_tier,
        cast({{ optional_column(columns, 'is_long_context', 'null') }} as boolean)
            as is_long_context,
        billed_cost_usd,
        _file_sha256

    from usage

)

select * from normalized
