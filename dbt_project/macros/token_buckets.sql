{#-
  Token semantics in ONE place: how each provider's or tool's token fields become meterr's
  disjoint buckets. Staging models call these macros instead of doing the arithmetic themselves,
  so the rules (and their bugs) live here once. See dbt_project/README.md, "Token buckets".

  meterr's buckets (columns of every stg_<source>__usage model and of int_usage_unioned):

    input_tokens           uncached input: no cache reads, no cache writes
    cached_input_tokens    cache reads
    cache_write_tokens     every cache write (5-minute and 1-hour TTL together)
    cache_write_1h_tokens  OPTIONAL column: the part of cache_write_tokens written with a 1-hour
                           TTL (0 = none or unknown; unknown 1h writes are priced at the 5m rate)
    output_tokens          output, reasoning included

  The four main buckets are disjoint: a provider's total input is
  input_tokens + cached_input_tokens + cache_write_tokens. Never subtract and clamp at 0: a negative
  bucket means the source's fields were misread, and the non_negative / token_buckets_valid tests
  must see it.

  Where each source's fields come from (reference/formats.md section 12):

    source                  uncached input                      cache read / write          output
    OpenAI usage API        input_uncached_tokens (2026+), else  input_cached_tokens /       output_tokens
                            input_tokens - cached - cache_write  input_cache_write_tokens
    Anthropic usage report  uncached_input_tokens                cache_read_input_tokens /   output_tokens
                                                                 ephemeral_5m + _1h
    Anthropic Messages API  input_tokens (excludes cache)        cache_read_input_tokens /   output_tokens
    (webhooks)                                                   cache_creation_input_tokens
    Anthropic Console CSV   usage_input_tokens_no_cache          ..._cache_read /            usage_output_tokens
                                                                 ..._cache_write_5m + _1h
    Helicone                prompt_tokens (already uncached)     prompt_cache_read_tokens /  completion + reasoning
                                                                 prompt_cache_write_tokens
    LiteLLM                 prompt_tokens - read - write         additional_usage_values     completion_tokens
    Langfuse                usageDetails.input, minus cache keys provider cache keys         usageDetails.output
                            when the integration folds them in
-#}

{#- A token count as BIGINT; a missing count (NULL) is 0 tokens. -#}
{% macro token_count(expr) -%}
    cast(coalesce({{ expr }}, 0) as bigint)
{%- endmacro %}

{#-
  Uncached input from a total that INCLUDES cache reads (and writes, if given). Use for OpenAI,
  LiteLLM and any "prompt tokens incl. cached" field. The result may be negative when the source is
  inconsistent; tests catch that.
-#}
{% macro uncached_from_total(total_input, cache_read, cache_write=none) -%}
    (
        {{ token_count(total_input) }}
        - {{ token_count(cache_read) }}
        {%- if cache_write is not none %}
        - {{ token_count(cache_write) }}
        {%- endif %}
    )
{%- endmacro %}

{#- OpenAI usage API / dashboard export: uncached input. 2026+ rows carry input_uncached_tokens
    (excluding cache writes); older rows only input_tokens, which includes cached (and, from
    2026-07, cache-write) tokens. -#}
{% macro openai_uncached_input(input_tokens, cached_tokens, cache_write_tokens=none, uncached_tokens=none) -%}
    {%- if uncached_tokens is not none -%}
    cast(coalesce({{ uncached_tokens }}, {{ uncached_from_total(input_tokens, cached_tokens, cache_write_tokens) }}) as bigint)
    {%- else -%}
    cast({{ uncached_from_total(input_tokens, cached_tokens, cache_write_tokens) }} as bigint)
    {%- endif -%}
{%- endmacro %}

{#- OpenAI: cache reads and cache writes are reported as their own fields. -#}
{% macro openai_cache_read(cached_tokens) -%}{{ token_count(cached_tokens) }}{%- endmacro %}
{% macro openai_cache_write(cache_write_tokens) -%}{{ token_count(cache_write_tokens) }}{%- endmacro %}

{#- Anthropic usage report / Console CSV: uncached input is reported directly. -#}
{% macro anthropic_uncached_input(uncached_input_tokens) -%}{{ token_count(uncached_input_tokens) }}{%- endmacro %}

{#- Anthropic: every cache write = 5-minute + 1-hour writes (the report has no flat total; reading a
    non-existent cache_creation_input_tokens there under-counts). For the Messages API usage object,
    pass cache_creation_input_tokens as write_5m and its ephemeral_1h part (if any) as write_1h
    only when cache_creation_input_tokens excludes it: check the payload. -#}
{% macro anthropic_cache_write(write_5m, write_1h=none) -%}
    cast({{ token_count(write_5m) }}{% if write_1h is not none %} + {{ token_count(write_1h) }}{% endif %} as bigint)
{%- endmacro %}
{% macro anthropic_cache_write_1h(write_1h) -%}{{ token_count(write_1h) }}{%- endmacro %}

{#- Helicone: prompt_tokens is already uncached (its cost code adds cache reads/writes on top);
    output = completion + reasoning (its total_tokens = prompt + completion + reasoning). -#}
{% macro helicone_uncached_input(prompt_tokens) -%}{{ token_count(prompt_tokens) }}{%- endmacro %}
{% macro helicone_output(completion_tokens, reasoning_tokens) -%}
    cast({{ token_count(completion_tokens) }} + {{ token_count(reasoning_tokens) }} as bigint)
{%- endmacro %}

{#- LiteLLM: prompt_tokens folds cache reads AND cache writes in. -#}
{% macro litellm_uncached_input(prompt_tokens, cache_read_tokens, cache_write_tokens) -%}
    cast({{ uncached_from_total(prompt_tokens, cache_read_tokens, cache_write_tokens) }} as bigint)
{%- endmacro %}

{#-
  Service tier as meterr names it: standard | batch | flex | priority, or the source's own value
  (lower case) for anything else, which then stays unpriced unless prices.yaml prices it.
  batch_flag: an optional boolean expression (OpenAI's `batch` group-by column).
-#}
{% macro normalize_service_tier(tier_expr, batch_flag=none) -%}
    case
        {%- if batch_flag is not none %}
        when {{ batch_flag }} then 'batch'
        {%- endif %}
        when {{ tier_expr }} is null
            or lower(trim(cast({{ tier_expr }} as varchar))) in ('', 'standard', 'default', 'auto', 'on_demand')
            then 'standard'
        when lower(trim(cast({{ tier_expr }} as varchar))) in ('batch') then 'batch'
        when lower(trim(cast({{ tier_expr }} as varchar))) in ('flex', 'flex_discount') then 'flex'
        when lower(trim(cast({{ tier_expr }} as varchar))) in ('priority', 'priority_on_demand')
            then 'priority'
        else lower(trim(cast({{ tier_expr }} as varchar)))
    end
{%- endmacro %}

{#- Anthropic's context_window ('0-200k' / '200k-1M', Console CSV '≤ 200k' / '> 200k') as the
    optional is_long_context column: true above the long-context threshold, NULL when unknown. -#}
{% macro is_long_context_from_window(window_expr) -%}
    case
        when {{ window_expr }} is null or trim(cast({{ window_expr }} as varchar)) = '' then null
        when lower(cast({{ window_expr }} as varchar)) like '0-%'
            or cast({{ window_expr }} as varchar) like '≤%'
            or cast({{ window_expr }} as varchar) like '<%'
            then false
        else true
    end
{%- endmacro %}


{#- ----------------------------------------------------------------------------------------
    Invariant tests. Each returns the offending rows.
---------------------------------------------------------------------------------------- -#}

{#-
  The parts add up to the source's reported total, exactly, wherever the total is reported.
  Use on raw sources or staging models that keep the reported total, e.g.
    - token_parts_sum_to_total:
        arguments:
          total: input_tokens
          parts: [input_uncached_tokens, input_cached_tokens, input_cache_write_tokens]
  Parts may be SQL expressions; a NULL part counts as 0.
-#}
{% test token_parts_sum_to_total(model, total, parts) %}

select *
from {{ model }}
where {{ total }} is not null
    and {{ total }} <> (
        {%- for part in parts %}
        coalesce({{ part }}, 0){% if not loop.last %} +{% endif %}
        {%- endfor %}
    )

{% endtest %}

{#- Cache reads never exceed the input they are part of (e.g. OpenAI input_cached_tokens <=
    input_tokens). -#}
{% test cache_reads_within_input(model, cache_read, input_total) %}

select *
from {{ model }}
where coalesce({{ cache_read }}, 0) > coalesce({{ input_total }}, 0)

{% endtest %}

{#- meterr's buckets on a usage model: none negative, and the 1-hour writes are part of the cache
    writes (pass has_cache_write_1h=false for a model without that optional column). -#}
{% test token_buckets_valid(model, has_cache_write_1h=true) %}

select *
from {{ model }}
where input_tokens < 0
    or cached_input_tokens < 0
    or cache_write_tokens < 0
    or output_tokens < 0
    {%- if has_cache_write_1h %}
    or cache_write_1h_tokens < 0
    or cache_write_1h_tokens > cache_write_tokens
    {%- endif %}

{% endtest %}
