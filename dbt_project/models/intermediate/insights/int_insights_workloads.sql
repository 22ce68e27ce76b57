{#-
  Recent usage per workload, the unit a savings opportunity is about: who sends what to which model.
  Grain: one row per provider x model x service_tier x scope x scope_value over the trailing
  insights_savings_window_days ending on the last usage day. The scope is the most specific
  attribution the usage has: its API key, else its project, else only the model (scope 'model',
  scope_value = the model). cost_usd is billed where the source reports it, else list (as the
  cost marts, before meterr's fee). days_covered is how much of the window has data at all
  (less than the window on a fresh install), so monthly figures can be scaled up.
-#}

{%- set window_days = insights_integer('insights_savings_window_days') -%}

with

usage_daily as (

    select * from {{ ref('int_insights_usage_daily') }}

),

data_bounds as (

    select min(usage_date) as first_day, max(usage_date) as last_day from usage_daily

),

windowed as (

    select
        usage_daily.*,
        data_bounds.first_day,
        data_bounds.last_day,
        case
            when usage_daily.api_key_id is not null then 'api_key'
            when usage_daily.project_id is not null then 'project'
            else 'model'
        end as scope,
        coalesce(usage_daily.api_key_id, usage_daily.project_id, usage_daily.model)
            as scope_value

    from usage_daily
    cross join data_bounds
    where usage_daily.usage_date > data_bounds.last_day - {{ window_days }}

),

workloads as (

    select
        provider,
        model,
        service_tier,
        scope,
        scope_value,
        greatest(max(last_day) - {{ window_days }} + 1, max(first_day)) as window_start,
        max(last_day) as window_end,
        count(distinct usage_date) as active_days,
        sum(request_count) as request_count,
        sum(input_tokens) as input_tokens,
        sum(cached_input_tokens) as cached_input_tokens,
        sum(cache_write_tokens) as cache_write_tokens,
        sum(cache_write_1h_tokens) as cache_write_1h_tokens,
        sum(output_tokens) as output_tokens,
        sum(cost_usd) as cost_usd

    from windowed
    group by provider, model, service_tier, scope, scope_value

),

final as (

    select
        cast(provider as varchar) as provider,
        cast(model as varchar) as model,
        cast(service_tier as varchar) as service_tier,
        cast(scope as varchar) as scope,
        cast(scope_value as varchar) as scope_value,
        cast(window_start as date) as window_start,
        cast(window_end as date) as window_end,
        cast(window_end - window_start + 1 as integer) as days_covered,
        cast(active_days as integer) as active_days,
        cast(request_count as bigint) as request_count,
        cast(input_tokens as bigint) as input_tokens,
        cast(cached_input_tokens as bigint) as cached_input_tokens,
        cast(cache_write_tokens as bigint) as cache_write_tokens,
        cast(cache_write_1h_tokens as bigint) as cache_write_1h_tokens,
        cast(output_tokens as bigint) as output_tokens,
        cast(cost_usd as decimal(18, 6)) as cost_usd

    from workloads

)

select * from final
