{#-
  Every source's usage in one column list: one row per usage record from any source.
  To add a source, write its stg_<source>__usage model with exactly these columns and add it to
  usage_models below; nothing else changes downstream.
-#}
{%- set usage_models = [
    'stg_custom__usage',
] -%}

{%- set usage_columns = [
    'usage_ts', 'usage_date', 'source', 'provider', 'model',
    'project_id', 'api_key_id', 'user_id', 'integration_id', 'request_id',
    'request_count', 'input_tokens', 'cached_input_tokens', 'cache_write_tokens', 'output_tokens',
    'billed_cost_usd', '_file_sha256',
] -%}

with

{% for usage_model in usage_models %}
{{ usage_model }} as (

    select {{ usage_columns | join(', ') }} from {{ ref(usage_model) }}

),

{% endfor %}
unioned as (

    {% for usage_model in usage_models %}
    select * from {{ usage_model }}
    {% if not loop.last %}union all{% endif %}
    {% endfor %}

)

select * from unioned
