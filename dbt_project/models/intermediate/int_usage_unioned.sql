{#-
  Every source's usage in one column list: one row per usage record from any source.
  To add a source, write its stg_<source>__usage model with exactly these columns and add it to
  usage_models below; nothing else changes downstream.
-#}
{%- set usage_models = [
    'stg_custom__usage',
    'int_openai_api__usage_billed',
    'int_anthropic_api__usage_billed',
    'int_openai_export__usage_billed',
    'int_anthropic_export__usage_billed',
    'stg_helicone__requests',
    'stg_langfuse__observations',
    'stg_litellm__spend_logs',
] -%}

{%- set usage_columns = [
    'usage_ts', 'usage_date', 'source', 'provider', 'model',
    'project_id', 'api_key_id', 'user_id', 'integration_id', 'request_id',
    'request_count', 'input_tokens', 'cached_input_tokens', 'cache_write_tokens', 'output_tokens',
    'billed_cost_usd', '_file_sha256',
] -%}

{#-
  Optional columns (read by int_usage_normalized): a model listed in optional_columns_by_model
  provides the columns named there; every other model gets a typed NULL ("unknown": standard
  tier, no 1-hour cache writes, context length not reported).
-#}
{%- set optional_columns = {
    'service_tier': 'varchar',
    'cache_write_1h_tokens': 'bigint',
    'is_long_context': 'boolean',
} -%}
{%- set optional_columns_by_model = {
    'int_openai_api__usage_billed': ['service_tier', 'cache_write_1h_tokens', 'is_long_context'],
    'int_anthropic_api__usage_billed': ['service_tier', 'cache_write_1h_tokens', 'is_long_context'],
    'int_openai_export__usage_billed': ['service_tier', 'cache_write_1h_tokens', 'is_long_context'],
    'int_anthropic_export__usage_billed': ['service_tier', 'cache_write_1h_tokens', 'is_long_context'],
} -%}

with

{% for usage_model in usage_models %}
{{ usage_model }} as (

    select
        {{ usage_columns | join(', ') }}
        {%- for column, column_type in optional_columns.items() %},
        {% if column in optional_columns_by_model.get(usage_model, []) -%}
        cast({{ column }} as {{ column_type }})
        {%- else -%}
        cast(null as {{ column_type }})
        {%- endif %} as {{ column }}
        {%- endfor %}
    from {{ ref(usage_model) }}

),

{% endfor %}
unioned as (

    {% for usage_model in usage_models %}
    select * from {{ usage_model }}
    {% if not loop.last %}union all{% endif %}
    {% endfor %}

)

select * from unioned
