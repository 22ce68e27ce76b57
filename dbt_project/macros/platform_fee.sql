{#- The platform-fee settings (see vars in dbt_project.yml), validated when a model compiles. -#}

{% macro platform_fee_model() -%}
    {%- set fee_model = var('platform_fee_model', 'none') | string | trim | lower -%}
    {%- set allowed = ['none', 'percentage', 'per_request', 'flat_monthly'] -%}
    {%- if fee_model not in allowed -%}
        {{ exceptions.raise_compiler_error(
            "var platform_fee_model must be one of " ~ allowed | join(', ')
            ~ "; got '" ~ fee_model ~ "'"
        ) }}
    {%- endif -%}
    {{- return(fee_model) -}}
{%- endmacro %}

{#- A non-negative amount var rendered as a DECIMAL(18,6) SQL literal. -#}
{% macro platform_fee_amount(name) -%}
    {%- set value = var(name, 0) -%}
    {%- if value is string and value | trim | length > 0 -%}
        {%- set value = value | trim | float(-1) -%}
    {%- endif -%}
    {%- if value is not number or value is sameas true or value is sameas false or value < 0 -%}
        {{ exceptions.raise_compiler_error(
            "var " ~ name ~ " must be a number >= 0; got '" ~ var(name) ~ "'"
        ) }}
    {%- endif -%}
    cast({{ "%.6f" | format(value) }} as decimal(18, 6))
{%- endmacro %}
