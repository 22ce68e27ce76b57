{#-
  Scope values that started or stopped spending: new models and API keys, and silent API keys.
  Grain: one row per scope x scope_value x event, where event (metric) is 'new_spend_usd' (first
  used within insights_new_scope_days of the last usage day, dated on its first day) or
  'missing_spend_usd' (a steady spender with no usage on insights_silent_days of the days it
  normally runs, dated on its first silent day). The last usage day of all data is "today".

  New: only scopes in insights_new_scope_scopes, first used at least insights_min_history_days
  after the data begins (otherwise everything would be new on a fresh install), with at least
  insights_new_scope_min_spend_usd since. observed = spend since first use, expected = 0.
  Silent: only scopes in insights_silent_scopes that were active on insights_silent_min_active_share
  of the insights_baseline_window_days before their last use, averaging at least
  insights_silent_min_daily_spend_usd a day. "Days it normally runs" are the weekdays on which it
  was active in at least half of that window's weeks. observed = 0, expected = its average
  spend per active day x the silent days it normally runs.
  Severity of both: the scope's daily spend as a share of the whole account's over the same days
  (insights_share_medium, insights_share_high). score is NULL (not a statistical test).
-#}

{%- set window_days = insights_integer('insights_baseline_window_days') -%}

with

scope_daily as (

    select * from {{ ref('int_insights_scope_daily') }}

),

scope_days as (

    select
        scope,
        scope_value,
        usage_date,
        sum(coalesce(cost_usd, 0)) as cost_usd

    from scope_daily
    group by scope, scope_value, usage_date

),

data_bounds as (

    select min(usage_date) as first_day, max(usage_date) as last_day from scope_days

),

-- Every usage row has a provider, so the provider scope is the whole account.
account_days as (

    select usage_date, sum(cost_usd) as cost_usd
    from scope_days
    where scope = 'provider'
    group by usage_date

),

calendar as (

    select cast(unnest(generate_series(first_day, last_day, interval 1 day)) as date) as usage_date
    from data_bounds
    where first_day is not null

),

scope_spans as (

    select
        scope,
        scope_value,
        min(usage_date) as first_seen,
        max(usage_date) as last_seen

    from scope_days
    group by scope, scope_value

),

-- New scope values -------------------------------------------------------------------------------

new_scopes as (

    select
        scope_spans.scope,
        scope_spans.scope_value,
        scope_spans.first_seen,
        data_bounds.last_day,
        sum(scope_days.cost_usd) as spend_usd,
        count(*) as active_days

    from scope_spans
    cross join data_bounds
    inner join scope_days
        on scope_spans.scope = scope_days.scope
        and scope_spans.scope_value = scope_days.scope_value
    where scope_spans.scope in {{ insights_scope_list('insights_new_scope_scopes') }}
        and scope_spans.first_seen
            > data_bounds.last_day - {{ insights_integer('insights_new_scope_days') }}
        and scope_spans.first_seen
            >= data_bounds.first_day + {{ insights_integer('insights_min_history_days') }}
    group by all
    having sum(scope_days.cost_usd) >= {{ insights_number('insights_new_scope_min_spend_usd') }}

),

new_scope_models as (

    select
        scope_daily.scope,
        scope_daily.scope_value,
        arg_max(scope_daily.model, scope_daily.cost_usd) as top_model,
        arg_max(scope_daily.provider, scope_daily.cost_usd) as top_provider

    from scope_daily
    inner join new_scopes
        on scope_daily.scope = new_scopes.scope
        and scope_daily.scope_value = new_scopes.scope_value
    group by scope_daily.scope, scope_daily.scope_value

),

new_scope_shares as (

    select
        new_scopes.*,
        new_scope_models.top_model,
        new_scope_models.top_provider,
        new_scopes.spend_usd / nullif((
            select sum(account_days.cost_usd)
            from account_days
            where account_days.usage_date >= new_scopes.first_seen
        ), 0) as account_share,
        new_scopes.last_day - new_scopes.first_seen + 1 as days_since_first_seen

    from new_scopes
    left join new_scope_models
        on new_scopes.scope = new_scope_models.scope
        and new_scopes.scope_value = new_scope_models.scope_value

),

new_anomalies as (

    select
        first_seen as usage_date,
        scope,
        scope_value,
        'new_spend_usd' as metric,
        spend_usd as observed,
        cast(0 as double) as expected,
        account_share,
        'New ' || {{ insights_scope_label('scope') }} || ' ' || scope_value
            || case when scope = 'model' then ' (' || top_provider || ')' else '' end
            || ' first used on ' || strftime(first_seen, '%Y-%m-%d') || ': '
            || {{ insights_fmt_usd('spend_usd') }} || ' over ' || days_since_first_seen
            || case when days_since_first_seen = 1 then ' day' else ' days' end
            || coalesce(' (' || {{ insights_fmt_pct('account_share') }}
                || ' of all spend on those days)', '')
            || case when scope <> 'model' then ', mostly on ' || top_model else '' end
            || '.' as explanation

    from new_scope_shares

),

-- Silent scope values ----------------------------------------------------------------------------

silent_candidates as (

    select scope_spans.*, data_bounds.last_day
    from scope_spans
    cross join data_bounds
    where scope_spans.scope in {{ insights_scope_list('insights_silent_scopes') }}
        and scope_spans.last_seen < data_bounds.last_day

),

-- The window before each candidate went quiet: its last insights_baseline_window_days of days.
history_days as (

    select
        silent_candidates.scope,
        silent_candidates.scope_value,
        calendar.usage_date,
        calendar.usage_date >= silent_candidates.first_seen as existed,
        scope_days.usage_date is not null as was_active,
        coalesce(scope_days.cost_usd, 0) as cost_usd,
        coalesce(account_days.cost_usd, 0) as account_cost_usd

    from silent_candidates
    inner join calendar
        on calendar.usage_date > silent_candidates.last_seen - {{ window_days }}
        and calendar.usage_date <= silent_candidates.last_seen
    left join scope_days
        on silent_candidates.scope = scope_days.scope
        and silent_candidates.scope_value = scope_days.scope_value
        and calendar.usage_date = scope_days.usage_date
    left join account_days
        on calendar.usage_date = account_days.usage_date

),

usual_weekdays as (

    select
        scope,
        scope_value,
        isodow(usage_date) as weekday,
        -- active in at least half of the weeks this weekday occurred in (while it existed)
        count(*) filter (where was_active) >= 0.5 * count(*) filter (where existed) as is_usual

    from history_days
    group by scope, scope_value, isodow(usage_date)

),

history_stats as (

    select
        scope,
        scope_value,
        count(*) filter (where was_active) as active_days,
        sum(cost_usd) as window_cost_usd,
        sum(account_cost_usd) as window_account_cost_usd

    from history_days
    group by scope, scope_value

),

silent_days as (

    select
        silent_candidates.scope,
        silent_candidates.scope_value,
        count(*) as silent_days,
        count(*) filter (where usual_weekdays.is_usual) as usual_silent_days

    from silent_candidates
    inner join calendar
        on calendar.usage_date > silent_candidates.last_seen
        and calendar.usage_date <= silent_candidates.last_day
    left join usual_weekdays
        on silent_candidates.scope = usual_weekdays.scope
        and silent_candidates.scope_value = usual_weekdays.scope_value
        and isodow(calendar.usage_date) = usual_weekdays.weekday
    group by silent_candidates.scope, silent_candidates.scope_value

),

silent_scopes as (

    select
        silent_candidates.scope,
        silent_candidates.scope_value,
        silent_candidates.last_seen,
        silent_days.silent_days,
        silent_days.usual_silent_days,
        history_stats.active_days,
        history_stats.window_cost_usd / history_stats.active_days as spend_per_active_day,
        history_stats.window_cost_usd / nullif(history_stats.window_account_cost_usd, 0)
            as account_share

    from silent_candidates
    inner join silent_days
        on silent_candidates.scope = silent_days.scope
        and silent_candidates.scope_value = silent_days.scope_value
    inner join history_stats
        on silent_candidates.scope = history_stats.scope
        and silent_candidates.scope_value = history_stats.scope_value
    where silent_days.usual_silent_days >= {{ insights_integer('insights_silent_days') }}
        and history_stats.active_days
            >= {{ insights_number('insights_silent_min_active_share') }} * {{ window_days }}
        and history_stats.window_cost_usd
            >= {{ insights_number('insights_silent_min_daily_spend_usd') }} * {{ window_days }}

),

silent_anomalies as (

    select
        last_seen + 1 as usage_date,
        scope,
        scope_value,
        'missing_spend_usd' as metric,
        cast(0 as double) as observed,
        spend_per_active_day * usual_silent_days as expected,
        account_share,
        {{ insights_scope_label('scope') }} || ' ' || scope_value || ' went silent: last used on '
            || strftime(last_seen, '%Y-%m-%d') || ', nothing for ' || silent_days || ' days ('
            || usual_silent_days || ' of them days it normally runs), after '
            || {{ insights_fmt_usd('spend_per_active_day') }} || ' a day on ' || active_days
            || ' of the previous {{ window_days }} days. Check whether its integration broke or'
            || ' the key was rotated.' as explanation

    from silent_scopes

),

unioned as (

    select * from new_anomalies
    union all
    select * from silent_anomalies

),

final as (

    select
        cast(usage_date as date) as usage_date,
        cast(scope as varchar) as scope,
        cast(scope_value as varchar) as scope_value,
        cast(metric as varchar) as metric,
        cast(observed as double) as observed,
        cast(expected as double) as expected,
        cast(null as double) as score,
        cast(
            case
                when account_share >= {{ insights_number('insights_share_high') }} then 'high'
                when account_share >= {{ insights_number('insights_share_medium') }} then 'medium'
                else 'low'
            end as varchar
        ) as severity,
        cast(explanation as varchar) as explanation,
        cast(account_share as double) as account_share

    from unioned

)

select * from final
