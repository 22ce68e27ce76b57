{#-
  When each API key and integration was first and last used, for idle-key findings.
  Grain: one row per scope ('api_key' | 'integration') x scope_value, over all usage. Keys are
  known only from usage (meterr never lists a provider's keys), so a key that never sent a
  request is not here. last_day is the last usage day of all data ("today").
-#}

{%- set window_days = insights_integer('insights_savings_window_days') -%}

with

usage_daily as (

    select * from {{ ref('int_insights_usage_daily') }}

),

data_bounds as (

    select max(usage_date) as last_day from usage_daily

),

attributed as (

    select
        'api_key' as scope,
        api_key_id as scope_value,
        usage_date,
        request_count,
        cost_usd
    from usage_daily
    where api_key_id is not null

    union all

    select
        'integration' as scope,
        integration_id as scope_value,
        usage_date,
        request_count,
        cost_usd
    from usage_daily
    where integration_id is not null

),

activity as (

    select
        attributed.scope,
        attributed.scope_value,
        min(attributed.usage_date) as first_seen,
        max(attributed.usage_date) as last_seen,
        max(data_bounds.last_day) as last_day,
        sum(attributed.request_count) as lifetime_request_count,
        sum(attributed.cost_usd) as lifetime_cost_usd,
        coalesce(
            sum(attributed.cost_usd) filter (
                where attributed.usage_date > data_bounds.last_day - {{ window_days }}
            ),
            0
        ) as window_cost_usd

    from attributed
    cross join data_bounds
    group by attributed.scope, attributed.scope_value

),

final as (

    select
        cast(scope as varchar) as scope,
        cast(scope_value as varchar) as scope_value,
        cast(first_seen as date) as first_seen,
        cast(last_seen as date) as last_seen,
        cast(last_day as date) as last_day,
        cast(last_day - last_seen as integer) as days_since_last_use,
        cast(lifetime_request_count as bigint) as lifetime_request_count,
        cast(lifetime_cost_usd as decimal(18, 6)) as lifetime_cost_usd,
        cast(window_cost_usd as decimal(18, 6)) as window_cost_usd

    from activity

)

select * from final
