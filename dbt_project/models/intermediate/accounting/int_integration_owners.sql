{#-
  Who owns each user-managed integration ("My integrations"), from meta.integrations.
  Grain: one row per integration. meta.integrations is written by `meterr integrations add`, not
  by a loader, so it may not exist yet: then this model is empty (and not a dbt source, which
  would have to exist before every build).
-#}
{%- set integrations = none -%}
{%- if execute -%}
    {%- set integrations = adapter.get_relation(
        database=target.database, schema='meta', identifier='integrations'
    ) -%}
{%- endif -%}

{% if integrations is not none %}
select
    cast(integration_id as varchar) as integration_id,
    cast(user_id as varchar) as owner_user_id,
    cast(provider as varchar) as provider,
    cast(name as varchar) as integration_name
from {{ integrations }}
{% else %}
select
    cast(null as varchar) as integration_id,
    cast(null as varchar) as owner_user_id,
    cast(null as varchar) as provider,
    cast(null as varchar) as integration_name
where false
{% endif %}
