-- Shown in Dagster as a check on fct_usage_daily (the test reads several models).
{{ config(meta={'dagster': {'ref': {'name': 'fct_usage_daily'}}}) }}
{#-
  Drop-folder exports: marts.fct_usage_daily carries every token and request of the staged export
  rows, bucket by bucket, per source and day (cost allocation adds zero-token rows only, never
  drops or doubles usage). Returns the days that differ.
-#}
{%- set usage_models = [
    'stg_openai_export__usage', 'stg_anthropic_export__usage', 'stg_helicone__requests',
    'stg_langfuse__observations', 'stg_litellm__spend_logs',
] -%}
{%- set buckets = [
    'request_count', 'input_tokens', 'cached_input_tokens', 'cache_write_tokens', 'output_tokens'
] -%}

with

staged as (

    {% for usage_model in usage_models %}
    select source, usage_date, {{ buckets | join(', ') }}
    from {{ ref(usage_model) }}
    {% if not loop.last %}union all{% endif %}
    {% endfor %}

),

staged_days as (

    select
        source, usage_date,
        {%- for bucket in buckets %}
        sum({{ bucket }}) as staged_{{ bucket }}{% if not loop.last %},{% endif %}
        {%- endfor %}
    from staged
    group by all

),

fct_days as (

    select
        source, usage_date,
        {%- for bucket in buckets %}
        sum({{ bucket }}) as fct_{{ bucket }}{% if not loop.last %},{% endif %}
        {%- endfor %}
    from {{ ref('fct_usage_daily') }}
    where source in ('openai_export', 'anthropic_export', 'helicone', 'langfuse', 'litellm')
    group by all

)

select *
from staged_days
full outer join fct_days using (source, usage_date)
where
    {%- for bucket in buckets %}
    coalesce(staged_{{ bucket }}, 0) <> coalesce(fct_{{ bucket }}, 0){% if not loop.last %} or{% endif %}
    {%- endfor %}
