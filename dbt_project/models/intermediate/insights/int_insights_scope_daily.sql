{#-
  Daily usage and spend per scope the anomaly detection looks at, split by model.
  Grain: one row per usage_date x scope x scope_value x provider x model, for the five scopes
  provider, model, api_key, user and project (rows whose scope column is NULL are left out of
  that scope: unattributed usage is still in the provider and model scopes).
  cost_usd is billed where the source reports it, else list, before meterr's fee (as the cost
  marts); NULL when none of the group's cost is known. Service tiers are summed.
  A day's rows depend on that day's int_usage_priced_daily rows alone (through
  int_insights_usage_daily), so a build recomputes only the days those changed
  (macros/usage_day_builds.sql).
-#}
{{ usage_day_at_a_time() }}
-- depends_on: {{ ref('int_usage_priced_daily') }}

{%- set scopes = {
    'provider': 'provider',
    'model': 'model',
    'api_key': 'api_key_id',
    'user': 'user_id',
    'project': 'project_id',
} %}

with

usage_daily as (

    select * from {{ ref('int_insights_usage_daily') }}
    where {{ usage_days_filter('usage_date') }}

),

scoped as (

    {% for scope, column in scopes.items() %}
    select
        usage_date,
        '{{ scope }}' as scope,
        {{ column }} as scope_value,
        provider,
        model,
        sum(request_count) as request_count,
        sum(input_tokens) as input_tokens,
        sum(cached_input_tokens) as cached_input_tokens,
        sum(cache_write_tokens) as cache_write_tokens,
        sum(output_tokens) as output_tokens,
        sum(cost_usd) as cost_usd,
        -- The standard tier's rates where the model ran on it that day, else any tier's.
        coalesce(
            max(input_per_mtok) filter (where service_tier = 'standard'), max(input_per_mtok)
        ) as input_per_mtok,
        coalesce(
            max(cached_input_per_mtok) filter (where service_tier = 'standard'),
            max(cached_input_per_mtok)
        ) as cached_input_per_mtok

    from usage_daily
    where {{ column }} is not null
    group by usage_date, {{ column }}, provider, model
    {% if not loop.last %}union all{% endif %}
    {% endfor %}

),

final as (

    select
        cast(usage_date as date) as usage_date,
        cast(scope as varchar) as scope,
        cast(scope_value as varchar) as scope_value,
        cast(provider as varchar) as provider,
        cast(model as varchar) as model,
        cast(request_count as bigint) as request_count,
        cast(input_tokens as bigint) as input_tokens,
        cast(cached_input_tokens as bigint) as cached_input_tokens,
        cast(cache_write_tokens as bigint) as cache_write_tokens,
        cast(output_tokens as bigint) as output_tokens,
        -- Everything sent as input (uncached + cache reads + cache writes).
        cast(input_tokens + cached_input_tokens + cache_write_tokens as bigint) as prompt_tokens,
        cast(input_tokens + cached_input_tokens + cache_write_tokens + output_tokens as bigint)
            as total_tokens,
        cast(cost_usd as double) as cost_usd,
        cast(input_per_mtok as double) as input_per_mtok,
        cast(cached_input_per_mtok as double) as cached_input_per_mtok

    from scoped

)

select * from final
