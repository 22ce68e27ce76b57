{#-
  Helpers for the drop-folder export staging models (models/staging/exports/): the provider of a
  request log row that names none, and the Anthropic Console's model display names.
  See dbt_project/README.md, "Drop-folder exports".
-#}

{#-
  The provider a model id belongs to, from the id alone; NULL when the id does not say.
  Only for rows whose source names no (known) provider: Helicone and LiteLLM rows carry one
  (mapped by ingest; NULL for names meterr does not know, e.g. 'local'), Langfuse never does.
  Prefixes are the providers' own model-id conventions; a gateway prefix ('openai/gpt-4o',
  'anthropic/claude-...', 'models/gemini-...') is read through, and so is OpenAI's fine-tune
  prefix ('ft:gpt-4o-mini-2024-07-18:acme::abc123' is OpenAI's).
-#}
{% macro infer_provider_from_model(model) -%}
    case
        when {{ model }} is null then null
        when regexp_matches(
            regexp_replace(lower(trim({{ model }})), '^((openai|azure|models)/)?(ft:)?', ''),
            '^(gpt-|o1|o3|o4|chatgpt-|text-embedding-(ada|3)|text-moderation|omni-moderation|dall-e|whisper|tts-|davinci|babbage|codex-|computer-use)'
        ) then 'openai'
        when regexp_matches(lower({{ model }}), '^(anthropic/)?claude') then 'anthropic'
        when regexp_matches(lower({{ model }}), '^((google|models|vertex_ai|gemini)/)?(gemini|gemma|text-embedding-00|textembedding-gecko)') then 'google'
        when regexp_matches(lower({{ model }}), '^(mistral/)?(mistral|mixtral|codestral|ministral|pixtral|magistral|devstral|open-mistral)') then 'mistral'
        when regexp_matches(lower({{ model }}), '^(cohere/)?(command|embed-english|embed-multilingual|rerank-)') then 'cohere'
        when regexp_matches(lower({{ model }}), '^(xai/)?grok') then 'xai'
        when regexp_matches(lower({{ model }}), '^(deepseek/)?deepseek') then 'deepseek'
    end
{%- endmacro %}

{#-
  meterr's provider for a request log row: the source's own (already mapped onto meterr's names by
  ingest), else inferred from the model id, else 'unknown' (fct_usage_daily needs a provider; an
  'unknown' row stays visible and unpriced rather than being dropped).
-#}
{% macro usage_provider(provider, model) -%}
    cast(coalesce(
        nullif(lower(trim({{ provider }})), ''),
        {{ infer_provider_from_model(model) }},
        'unknown'
    ) as varchar)
{%- endmacro %}

{#- A display name as the seed anthropic_model_names keys it: lower case, single spaces. -#}
{% macro anthropic_display_name_key(name) -%}
    lower(trim(regexp_replace({{ name }}, '\s+', ' ', 'g')))
{%- endmacro %}

{#-
  The API id for an Anthropic Console display name the seed does not list: 4.x and later names
  ('Claude Sonnet 4.5', 'Claude Opus 5') follow 'claude-<family>-<major>[-<minor>]', the id
  genai-prices and the API accept as an alias ('claude-sonnet-4-5'). NULL for anything else
  (3.x names put the version first, 'claude-3-5-haiku'; those are all in the seed).
-#}
{% macro anthropic_display_name_fallback(name) -%}
    case
        when regexp_matches(trim({{ name }}), '^claude\s+[a-z]+\s+([4-9]|[1-9][0-9])(\.[0-9]+)?$', 'i')
            then lower(regexp_replace(replace(trim({{ name }}), '.', '-'), '\s+', '-', 'g'))
    end
{%- endmacro %}
