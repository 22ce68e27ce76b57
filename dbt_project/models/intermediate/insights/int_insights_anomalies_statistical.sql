{#-
  Days whose spend or tokens rose far above a robust, weekday-aware baseline, with the reasons.
  Grain: one row per usage_date x scope x scope_value x metric that is flagged (metric:
  'cost_usd' = daily spend, 'total_tokens' = daily input + output tokens). Only rises are flagged:
  a fall in spend costs nothing, and a key that stops altogether is reported as silent by
  int_insights_anomalies_lifecycle.

  Method, per scope value and metric, on a zero-filled daily series (no usage = 0):
  1. Weekly shape: weekday_factor = median of the same weekday over the trailing
     insights_weekday_window_days / median of all days in that window (history only, the day
     itself excluded). Weekend dips give weekend factors well below 1.
  2. Level: each day divided by its own weekday factor; weekdays whose factor is below
     insights_min_weekday_factor (normally idle) are left out.
  3. Baseline: median and MAD of the level over the trailing insights_baseline_window_days,
     the day itself excluded. expected = median x the day's weekday factor.
  4. Robust z-score = (observed - expected) / (1.4826 x MAD x factor), the MAD floored at
     insights_min_relative_spread of the median. Scored only with insights_min_history_days of
     level history; flagged at insights_z_low and above, and only when the rise is at least
     insights_min_abs_change_usd (spend) or insights_min_abs_change_tokens (tokens).
  5. Explanation: the spend change split into volume (tokens vs expected tokens), model mix (the
     day's tokens at each model's usual cost per token vs at the scope's usual cost per token),
     cache hit rate (cache reads moved to each model's usual hit rate, at the day's input and
     cache-read prices) and price (the rest: cost per token at the same mix and hit rate, e.g. a
     price change or longer outputs). "Usual" = the median of the daily ratio over the baseline
     window, so a spike already in the window does not move it. The four effects add up to
     observed - expected exactly; those moving at least insights_driver_min_share of it are
     named, largest first, each with its dollar amount. Token rises are split into requests and
     tokens per request.
-#}
{{ config(materialized='table') }}

{%- set window_days = insights_integer('insights_baseline_window_days') -%}
{%- set weekday_window_days = insights_integer('insights_weekday_window_days') -%}

with

scope_daily as (

    select * from {{ ref('int_insights_scope_daily') }}

),

daily_totals as (

    select
        scope,
        scope_value,
        usage_date,
        -- sum() skips unknown costs; NULL only when no model of the day has a known cost.
        sum(cost_usd) as cost_usd,
        sum(total_tokens) as total_tokens,
        sum(request_count) as request_count,
        sum(prompt_tokens) as prompt_tokens,
        sum(cached_input_tokens) as cached_input_tokens

    from scope_daily
    group by scope, scope_value, usage_date

),

data_bounds as (

    select min(usage_date) as first_day, max(usage_date) as last_day from daily_totals

),

calendar as (

    select cast(unnest(generate_series(first_day, last_day, interval 1 day)) as date) as usage_date
    from data_bounds
    where first_day is not null

),

scope_starts as (

    select scope, scope_value, min(usage_date) as first_seen
    from daily_totals
    group by scope, scope_value

),

-- Zero-filled from each scope value's first day: a day without usage is a real zero.
series as (

    select
        scope_starts.scope,
        scope_starts.scope_value,
        calendar.usage_date,
        case when daily_totals.usage_date is null then 0 else daily_totals.cost_usd end
            as cost_usd,
        coalesce(daily_totals.total_tokens, 0) as total_tokens,
        coalesce(daily_totals.request_count, 0) as request_count,
        coalesce(daily_totals.prompt_tokens, 0) as prompt_tokens,
        coalesce(daily_totals.cached_input_tokens, 0) as cached_input_tokens

    from scope_starts
    inner join calendar
        on calendar.usage_date >= scope_starts.first_seen
    left join daily_totals
        on scope_starts.scope = daily_totals.scope
        and scope_starts.scope_value = daily_totals.scope_value
        and calendar.usage_date = daily_totals.usage_date

),

metric_values as (

    select
        scope, scope_value, usage_date, 'cost_usd' as metric, cast(cost_usd as double) as observed
    from series
    union all
    select scope, scope_value, usage_date, 'total_tokens' as metric, cast(total_tokens as double)
    from series

),

weekday_shape as (

    select
        *,
        median(observed) over same_weekday_history as weekday_median,
        count(observed) over same_weekday_history as weekday_points,
        median(observed) over all_days_history as overall_median

    from metric_values
    window
        same_weekday_history as (
            partition by scope, scope_value, metric, isodow(usage_date)
            order by usage_date
            range between interval {{ weekday_window_days }} days preceding
                and interval 1 day preceding
        ),
        all_days_history as (
            partition by scope, scope_value, metric
            order by usage_date
            range between interval {{ weekday_window_days }} days preceding
                and interval 1 day preceding
        )

),

weekday_factors as (

    select
        *,
        case
            when weekday_points >= {{ insights_integer('insights_min_weekday_points') }}
                and overall_median > 0
                then weekday_median / overall_median
        end as weekday_factor

    from weekday_shape

),

levels as (

    select
        *,
        -- Normally-idle weekdays say nothing about the level: left out (NULL).
        case
            when weekday_factor >= {{ insights_number('insights_min_weekday_factor') }}
                then observed / weekday_factor
        end as level

    from weekday_factors

),

baselines as (

    select
        *,
        median(level) over trailing_window as baseline_level,
        mad(level) over trailing_window as baseline_mad,
        count(level) over trailing_window as history_points

    from levels
    window trailing_window as (
        partition by scope, scope_value, metric
        order by usage_date
        range between interval {{ window_days }} days preceding and interval 1 day preceding
    )

),

scored as (

    select
        *,
        baseline_level * weekday_factor as expected,
        1.4826
            * greatest(
                baseline_mad,
                {{ insights_number('insights_min_relative_spread') }} * baseline_level
            )
            * greatest(weekday_factor, {{ insights_number('insights_min_weekday_factor') }})
            as spread

    from baselines
    where history_points >= {{ insights_integer('insights_min_history_days') }}
        and weekday_factor is not null
        and baseline_level > 0
        and observed is not null

),

flagged as (

    select
        *,
        (observed - expected) / spread as score

    from scored
    where spread > 0
        and (observed - expected) / spread >= {{ insights_number('insights_z_low') }}
        and observed - expected >= case metric
            when 'cost_usd' then {{ insights_number('insights_min_abs_change_usd') }}
            else {{ insights_number('insights_min_abs_change_tokens') }}
        end

),

flagged_days as (

    select distinct scope, scope_value, usage_date from flagged

),

-- Both expectations for each flagged day (the spend split needs expected tokens too).
day_expectations as (

    select
        scored.scope,
        scored.scope_value,
        scored.usage_date,
        max(scored.expected) filter (where scored.metric = 'cost_usd') as expected_cost_usd,
        max(scored.expected) filter (where scored.metric = 'total_tokens') as expected_tokens

    from scored
    inner join flagged_days
        on scored.scope = flagged_days.scope
        and scored.scope_value = flagged_days.scope_value
        and scored.usage_date = flagged_days.usage_date
    group by scored.scope, scored.scope_value, scored.usage_date

),

-- The scope's usual shape over the same trailing window, for the flagged scope values only:
-- medians of daily ratios, so a spike already in the window (its second day) does not shift them.
scope_history as (

    select
        series.*,
        median(series.cost_usd / nullif(series.total_tokens, 0)) over trailing_window
            as base_unit_cost,
        median(series.cached_input_tokens / nullif(series.prompt_tokens, 0)) over trailing_window
            as base_cache_hit_rate,
        median(series.total_tokens / nullif(series.request_count, 0)) over trailing_window
            as base_tokens_per_request

    from series
    where exists (
        select 1 from flagged_days
        where flagged_days.scope = series.scope and flagged_days.scope_value = series.scope_value
    )
    window trailing_window as (
        partition by series.scope, series.scope_value
        order by series.usage_date
        range between interval {{ window_days }} days preceding and interval 1 day preceding
    )

),

-- The same per model (rows exist only on days the model was used; RANGE frames handle gaps).
model_days as (

    select
        scope_daily.*,
        scope_daily.total_tokens / nullif(series.total_tokens, 0) as token_share,
        scope_daily.cost_usd / nullif(series.cost_usd, 0) as cost_share

    from scope_daily
    inner join series
        on scope_daily.scope = series.scope
        and scope_daily.scope_value = series.scope_value
        and scope_daily.usage_date = series.usage_date
    where exists (
        select 1 from flagged_days
        where flagged_days.scope = scope_daily.scope
            and flagged_days.scope_value = scope_daily.scope_value
    )

),

model_history as (

    select
        *,
        median(cost_usd / nullif(total_tokens, 0)) over trailing_window as base_unit_cost,
        median(cached_input_tokens / nullif(prompt_tokens, 0)) over trailing_window
            as base_cache_hit_rate,
        median(token_share) over trailing_window as base_token_share,
        median(cost_share) over trailing_window as base_cost_share

    from model_days
    window trailing_window as (
        partition by scope, scope_value, provider, model
        order by usage_date
        range between interval {{ window_days }} days preceding and interval 1 day preceding
    )

),

model_effects as (

    select
        model_history.scope,
        model_history.scope_value,
        model_history.usage_date,
        model_history.model,
        -- The model's tokens at its own usual cost per token (the day's, for a model new to
        -- the window): summed over models, the day's mix at usual unit costs.
        model_history.total_tokens * coalesce(
            model_history.base_unit_cost,
            model_history.cost_usd / nullif(model_history.total_tokens, 0),
            0
        ) as mix_cost_usd,
        -- What the day's cache hit rate cost against the model's usual hit rate: cache reads
        -- moved between the cache-read and the input price (positive when the rate fell).
        coalesce(
            (
                model_history.base_cache_hit_rate * model_history.prompt_tokens
                - model_history.cached_input_tokens
            )
            * (model_history.input_per_mtok - model_history.cached_input_per_mtok)
            / 1000000,
            0
        ) as cache_effect_usd,
        -- Gain over the model's usual share of the scope's expectation.
        model_history.cost_usd - day_expectations.expected_cost_usd
            * coalesce(model_history.base_cost_share, 0) as cost_gain_usd,
        model_history.total_tokens - day_expectations.expected_tokens
            * coalesce(model_history.base_token_share, 0) as token_gain,
        model_history.token_share,
        coalesce(model_history.base_token_share, 0) as base_token_share

    from model_history
    inner join flagged_days
        on model_history.scope = flagged_days.scope
        and model_history.scope_value = flagged_days.scope_value
        and model_history.usage_date = flagged_days.usage_date
    inner join day_expectations
        on model_history.scope = day_expectations.scope
        and model_history.scope_value = day_expectations.scope_value
        and model_history.usage_date = day_expectations.usage_date

),

day_effects as (

    select
        scope,
        scope_value,
        usage_date,
        sum(mix_cost_usd) as mix_cost_usd,
        sum(cache_effect_usd) as cache_effect_usd,
        arg_max(model, cost_gain_usd) as top_cost_model,
        max(cost_gain_usd) as top_cost_gain_usd,
        arg_max(model, token_gain) as top_token_model,
        max(token_gain) as top_token_gain,
        arg_max(model, token_share - base_token_share) as mix_model,
        arg_max(base_token_share, token_share - base_token_share) as mix_model_base_share,
        arg_max(token_share, token_share - base_token_share) as mix_model_share

    from model_effects
    group by scope, scope_value, usage_date

),

explained as (

    select
        flagged.*,
        scope_history.total_tokens as day_tokens,
        scope_history.request_count as day_requests,
        scope_history.base_unit_cost,
        scope_history.base_tokens_per_request,
        scope_history.cached_input_tokens / nullif(scope_history.prompt_tokens, 0)
            as cache_hit_rate,
        scope_history.base_cache_hit_rate,
        day_expectations.expected_tokens,
        day_effects.top_cost_model,
        day_effects.top_cost_gain_usd,
        day_effects.top_token_model,
        day_effects.top_token_gain,
        day_effects.mix_model,
        day_effects.mix_model_base_share,
        day_effects.mix_model_share,
        day_effects.mix_cost_usd,
        day_effects.cache_effect_usd as cache_effect_raw_usd

    from flagged
    inner join scope_history
        on flagged.scope = scope_history.scope
        and flagged.scope_value = scope_history.scope_value
        and flagged.usage_date = scope_history.usage_date
    left join day_expectations
        on flagged.scope = day_expectations.scope
        and flagged.scope_value = day_expectations.scope_value
        and flagged.usage_date = day_expectations.usage_date
    left join day_effects
        on flagged.scope = day_effects.scope
        and flagged.scope_value = day_effects.scope_value
        and flagged.usage_date = day_effects.usage_date

),

-- The spend waterfall: volume + mix + cache + price = observed - expected, exactly.
waterfall as (

    select
        *,
        -- Extra tokens at the expected cost per token (the usual one on a normally idle day).
        case
            when metric = 'cost_usd' and expected_tokens > 0
                then (day_tokens - expected_tokens) * expected / expected_tokens
            when metric = 'cost_usd'
                then (day_tokens - coalesce(expected_tokens, 0)) * coalesce(base_unit_cost, 0)
            else 0
        end as volume_effect_usd,
        case
            when metric = 'cost_usd' and base_unit_cost is not null
                then mix_cost_usd - day_tokens * base_unit_cost
            else 0
        end as mix_effect_usd,
        case when metric = 'cost_usd' then coalesce(cache_effect_raw_usd, 0) else 0 end
            as cache_effect_usd

    from explained

),

effects as (

    select
        *,
        case
            when metric = 'cost_usd'
                then observed - expected - volume_effect_usd - mix_effect_usd - cache_effect_usd
            else 0
        end as price_effect_usd,
        {{ insights_number('insights_driver_min_share') }} * abs(observed - expected)
            as driver_floor

    from waterfall

),

drivers as (

    select
        effects.*,
        driver.name as driver_name,
        driver.effect_usd as driver_effect_usd,
        driver.phrase as driver_phrase

    from effects
    cross join lateral (
        select * from (values
            (
                'volume',
                volume_effect_usd,
                'volume ' || case
                    when expected_tokens > 0
                        then {{ insights_fmt_signed_pct('day_tokens / expected_tokens - 1') }}
                    else {{ insights_fmt_tokens('coalesce(expected_tokens, 0)') }} || ' -> '
                        || {{ insights_fmt_tokens('day_tokens') }} || ' tokens'
                end
            ),
            (
                'model mix',
                mix_effect_usd,
                'model mix: ' || mix_model || ' '
                    || {{ insights_fmt_pct('mix_model_base_share') }} || ' -> '
                    || {{ insights_fmt_pct('mix_model_share') }} || ' of tokens'
            ),
            (
                'cache hit rate',
                cache_effect_usd,
                'cache hit rate ' || {{ insights_fmt_pct('base_cache_hit_rate') }} || ' -> '
                    || {{ insights_fmt_pct('cache_hit_rate') }}
            ),
            (
                'price',
                price_effect_usd,
                'cost per token at the same mix and hit rate '
                    || {{ insights_fmt_signed_pct(
                        'price_effect_usd / nullif(observed - price_effect_usd, 0)'
                    ) }}
            )
        ) as driver(name, effect_usd, phrase)
    ) as driver
    where effects.metric = 'cost_usd'
        and abs(driver.effect_usd) >= effects.driver_floor
        and abs(driver.effect_usd) > 0
        and driver.phrase is not null

),

driver_lists as (

    select
        scope,
        scope_value,
        usage_date,
        metric,
        string_agg(
            driver_phrase || ' (' || {{ insights_fmt_signed_usd('driver_effect_usd') }} || ')',
            '; ' order by abs(driver_effect_usd) desc, driver_name
        ) as driver_text,
        string_agg(driver_name, ', ' order by abs(driver_effect_usd) desc, driver_name)
            as named_drivers,
        arg_max(driver_name, abs(driver_effect_usd)) as top_driver

    from drivers
    group by scope, scope_value, usage_date, metric

),

worded as (

    select
        effects.*,
        driver_lists.named_drivers,
        driver_lists.top_driver,
        -- Name the model when one carries at least half of the rise (and the scope is not it).
        case
            when effects.scope <> 'model' and effects.metric = 'cost_usd'
                and effects.top_cost_gain_usd >= 0.5 * (effects.observed - effects.expected)
                then effects.top_cost_model || ' '
            when effects.scope <> 'model' and effects.metric = 'total_tokens'
                and effects.top_token_gain >= 0.5 * (effects.observed - effects.expected)
                then effects.top_token_model || ' '
            else ''
        end as model_prefix,
        dayname(effects.usage_date) as weekday_name,
        driver_lists.driver_text

    from effects
    left join driver_lists
        on effects.scope = driver_lists.scope
        and effects.scope_value = driver_lists.scope_value
        and effects.usage_date = driver_lists.usage_date
        and effects.metric = driver_lists.metric

),

final as (

    select
        cast(usage_date as date) as usage_date,
        cast(scope as varchar) as scope,
        cast(scope_value as varchar) as scope_value,
        cast(metric as varchar) as metric,
        cast(observed as double) as observed,
        cast(expected as double) as expected,
        cast(round(score, 2) as double) as score,
        cast(
            case
                when score >= {{ insights_number('insights_z_high') }} then 'high'
                when score >= {{ insights_number('insights_z_medium') }} then 'medium'
                else 'low'
            end as varchar
        ) as severity,
        cast(
            case
                when metric = 'cost_usd' then
                    (case when model_prefix = '' then 'Spend' else model_prefix || 'spend' end)
                    || ' on ' || {{ insights_scope_label('scope') }} || ' ' || scope_value
                    || ' ' || {{ insights_fmt_rise('observed', 'expected') }}
                    || ' to ' || {{ insights_fmt_usd('observed') }}
                    || ' (expected ' || {{ insights_fmt_usd('expected') }}
                    || ' for a ' || weekday_name || ')'
                    || coalesce(': ' || driver_text, '') || '.'
                else
                    (case when model_prefix = '' then 'Tokens' else model_prefix || 'tokens' end)
                    || ' on ' || {{ insights_scope_label('scope') }} || ' ' || scope_value
                    || ' ' || {{ insights_fmt_rise('observed', 'expected') }}
                    || ' to ' || {{ insights_fmt_tokens('observed') }}
                    || ' (expected ' || {{ insights_fmt_tokens('expected') }}
                    || ' for a ' || weekday_name || ')'
                    || coalesce(
                        ': requests '
                        || {{ insights_fmt_signed_pct(
                            'day_requests / nullif(expected / base_tokens_per_request, 0) - 1'
                        ) }}
                        || '; tokens per request '
                        || {{ insights_fmt_signed_pct(
                            '(day_tokens / nullif(day_requests, 0)) / base_tokens_per_request - 1'
                        ) }},
                        ''
                    ) || '.'
            end as varchar
        ) as explanation,
        cast(top_driver as varchar) as top_driver,
        cast(named_drivers as varchar) as named_drivers,
        cast(volume_effect_usd as double) as volume_effect_usd,
        cast(mix_effect_usd as double) as mix_effect_usd,
        cast(cache_effect_usd as double) as cache_effect_usd,
        cast(price_effect_usd as double) as price_effect_usd,
        cast(base_cache_hit_rate as double) as baseline_cache_hit_rate,
        cast(cache_hit_rate as double) as cache_hit_rate,
        cast(weekday_factor as double) as weekday_factor,
        cast(history_points as bigint) as history_points

    from worded

)

select * from final
