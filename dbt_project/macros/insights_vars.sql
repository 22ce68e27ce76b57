{#-
  The insights thresholds (vars in dbt_project.yml, block "Insights"), validated when a model
  compiles, so a typo in --vars fails the build with a clear message instead of a silent
  mis-detection.
-#}

{#- A number var >= 0, rendered as a DOUBLE SQL literal. -#}
{% macro insights_number(name) -%}
    {%- set value = var(name) -%}
    {%- if value is string and value | trim | length > 0 -%}
        {%- set value = value | trim | float(-1) -%}
    {%- endif -%}
    {%- if value is not number or value is sameas true or value is sameas false or value < 0 -%}
        {{ exceptions.raise_compiler_error(
            "var " ~ name ~ " must be a number >= 0; got '" ~ var(name) ~ "'"
        ) }}
    {%- endif -%}
    cast({{ value }} as double)
{%- endmacro %}

{#- A whole-number var >= 1 (day counts, point counts), rendered as an INTEGER SQL literal. -#}
{% macro insights_integer(name) -%}
    {%- set value = var(name) -%}
    {%- if value is string and value | trim | length > 0 -%}
        {%- set value = value | trim | int(-1) -%}
    {%- endif -%}
    {%- if value is not number or value is sameas true or value is sameas false
        or value < 1 or value != value | int -%}
        {{ exceptions.raise_compiler_error(
            "var " ~ name ~ " must be a whole number >= 1; got '" ~ var(name) ~ "'"
        ) }}
    {%- endif -%}
    {{- value | int -}}
{%- endmacro %}

{#- A list-of-scopes var, rendered as a SQL list literal: ('model', 'api_key'). -#}
{% macro insights_scope_list(name) -%}
    {%- set allowed = ['provider', 'model', 'api_key', 'user', 'project'] -%}
    {%- set scopes = var(name) -%}
    {%- if scopes is string -%}{%- set scopes = [scopes] -%}{%- endif -%}
    {%- for scope in scopes -%}
        {%- if scope not in allowed -%}
            {{ exceptions.raise_compiler_error(
                "var " ~ name ~ " may only list " ~ allowed | join(', ') ~ "; got '" ~ scope ~ "'"
            ) }}
        {%- endif -%}
    {%- endfor -%}
    {%- if scopes | length == 0 -%}
        (null)
    {%- else -%}
        ({% for scope in scopes %}'{{ scope }}'{% if not loop.last %}, {% endif %}{% endfor %})
    {%- endif -%}
{%- endmacro %}

{#-
  The batch discount (a fraction: 0.5 = half price) for the provider in `provider_column`, from var
  insights_batch_discount_by_provider; NULL for providers without a batch API.
-#}
{% macro insights_batch_discount(provider_column) -%}
    {%- set discounts = var('insights_batch_discount_by_provider') -%}
    {%- if discounts is not mapping -%}
        {{ exceptions.raise_compiler_error(
            "var insights_batch_discount_by_provider must map provider -> discount fraction"
        ) }}
    {%- endif -%}
    case lower({{ provider_column }})
    {%- for provider, discount in discounts.items() %}
        {%- if discount is not number or discount < 0 or discount > 1 -%}
            {{ exceptions.raise_compiler_error(
                "insights_batch_discount_by_provider." ~ provider
                ~ " must be a fraction between 0 and 1; got '" ~ discount ~ "'"
            ) }}
        {%- endif %}
        when '{{ provider | lower }}' then cast({{ discount }} as double)
    {%- endfor %}
    end
{%- endmacro %}

{#-
  The cost in USD of the token columns of relation alias `tokens` at the rates of relation alias
  `rates` (columns input_per_mtok, cached_input_per_mtok, cache_write_per_mtok,
  cache_write_1h_per_mtok, output_per_mtok), by int_usage_priced's rules: a cache read or write
  without its own price costs the input price, a 1-hour write without its own price the
  cache-write price; tokens in a bucket with no price at all make the cost NULL (unknown, never
  $0). Exact DECIMAL arithmetic.
-#}
{% macro insights_cost_at(tokens, rates) -%}
    case
        when {{ rates }}.input_per_mtok is not null
            and ({{ tokens }}.output_tokens = 0 or {{ rates }}.output_per_mtok is not null)
            then (
                {{ tokens }}.input_tokens * {{ rates }}.input_per_mtok
                + {{ tokens }}.cached_input_tokens
                    * coalesce({{ rates }}.cached_input_per_mtok, {{ rates }}.input_per_mtok)
                + ({{ tokens }}.cache_write_tokens - {{ tokens }}.cache_write_1h_tokens)
                    * coalesce({{ rates }}.cache_write_per_mtok, {{ rates }}.input_per_mtok)
                + {{ tokens }}.cache_write_1h_tokens * coalesce(
                    {{ rates }}.cache_write_1h_per_mtok,
                    {{ rates }}.cache_write_per_mtok,
                    {{ rates }}.input_per_mtok
                )
                + {{ tokens }}.output_tokens * coalesce({{ rates }}.output_per_mtok, 0)
            ) * 0.000001
    end
{%- endmacro %}
