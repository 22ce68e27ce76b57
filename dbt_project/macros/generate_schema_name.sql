{#
  Use a model's custom schema name as is (staging, intermediate, marts) instead of dbt's default
  <target_schema>_<custom_schema>: the contract names the schemas, e.g. marts.fct_usage_daily.
#}
{% macro generate_schema_name(custom_schema_name, node) -%}
    {%- if custom_schema_name is none -%}
        {{ target.schema }}
    {%- else -%}
        {{ custom_schema_name | trim }}
    {%- endif -%}
{%- endmacro %}
