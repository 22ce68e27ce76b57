-- Shown in Dagster as a check on fct_usage_daily (the test reads several models).
{{ config(meta={'dagster': {'ref': {'name': 'fct_usage_daily'}}}) }}
{#-
  Provider APIs: marts.fct_usage_daily carries every token and request of the staged usage rows,
  bucket by bucket, per day and integration: allocation adds zero-token rows only, never drops or
  doubles usage. Returns the days that differ.
-#}
with

staged as (

    select
        source, usage_date, integration_id, request_count, input_tokens, cached_input_tokens,
        cache_write_tokens, output_tokens
    from {{ ref('stg_openai_api__completions') }}
    union all
    select
        source, usage_date, integration_id, request_count, input_tokens, cached_input_tokens,
        cache_write_tokens, output_tokens
    from {{ ref('stg_openai_api__embeddings') }}
    union all
    select
        source, usage_date, integration_id, request_count, input_tokens, cached_input_tokens,
        cache_write_tokens, output_tokens
    from {{ ref('stg_anthropic_api__messages') }}

),

{%- set buckets = [
    'request_count', 'input_tokens', 'cached_input_tokens', 'cache_write_tokens', 'output_tokens'
] %}

staged_days as (

    select
        source, usage_date, integration_id,
        {%- for bucket in buckets %}
        sum({{ bucket }}) as staged_{{ bucket }}{% if not loop.last %},{% endif %}
        {%- endfor %}
    from staged
    group by all

),

fct_days as (

    select
        source, usage_date, integration_id,
        {%- for bucket in buckets %}
        sum({{ bucket }}) as fct_{{ bucket }}{% if not loop.last %},{% endif %}
        {%- endfor %}
    from {{ ref('fct_usage_daily') }}
    where source in ('openai_api', 'anthropic_api')
    group by all

)

select *
from staged_days
full outer join fct_days using (source, usage_date, integration_id)
where
    {%- for bucket in buckets %}
    coalesce(staged_{{ bucket }}, 0) <> coalesce(fct_{{ bucket }}, 0)
    {%- if not loop.last %} or{% endif %}
    {%- endfor %}
