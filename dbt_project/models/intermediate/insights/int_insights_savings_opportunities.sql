{#-
  Ways to spend less, found from usage alone (no prompts), each with a monthly dollar estimate.
  Grain: one row per opportunity = kind x workload (provider x model x service tier x scope x
  scope_value, see int_insights_workloads), or kind x API key / integration for idle_key.
  opportunity_id is a hash of kind, scope, scope_value, provider, model and tier: stable across
  rebuilds. The contract's columns plus the workload (provider, model, service_tier) and its
  monthly cost at catalogue prices (monthly_rated_cost_usd, what the savings are measured
  against): marts.savings_opportunities adds which opportunities are alternatives to each other,
  marts.savings_potential_by_scope what they are worth together.

  current_monthly_cost_usd: the workload's cost over the trailing insights_savings_window_days
  (billed where reported, else list), scaled to the full window when less history exists.
  estimated_monthly_savings_usd: the same tokens priced as they are and as they would be, at the
  prices in force on the last usage day (int_insights_model_rates: the catalogue, or the user's
  prices.yaml override where one applies). Each kind is estimated on its own: two kinds on the
  same workload overlap (e.g. batch and a cheaper model) and must not be added (see
  marts.savings_potential_by_scope for the non-overlapping figure).

  Kinds and confidence (never 'high' where usage data cannot show the deciding fact):
  - batch_api: standard-tier traffic that is steady (active on insights_batch_min_active_share
    of days), high-volume (insights_batch_min_daily_requests a day) and large-prompt
    (insights_batch_min_input_tokens_per_request), on a provider with a batch API. Saves standard
    minus batch price: the batch tier of the price table, or where it has none the provider's
    discount from insights_batch_discount_by_provider. 'medium' when prompts are at least twice
    the minimum and it ran on insights_batch_confident_active_share of days (a scheduled
    pipeline), else 'low'.
  - prompt_caching: prompts of insights_caching_min_input_tokens_per_request or more with a
    cache hit rate under insights_caching_low_hit_rate. Saves (insights_caching_target_hit_rate
    - hit rate) x prompt tokens x (input - cache-read price), minus the write premium (cache-write
    - input price) on one write per insights_caching_reads_per_write reads (or the workload's own
    observed reads per write). 'medium' when it has insights_caching_warm_daily_requests a day
    (enough to keep a 5-minute cache warm), else 'low'. Also: cache writes whose premium exceeds
    what their reads save (saves the net loss; 'high': both sides are measured).
  - cheaper_model: output tokens per request at most insights_cheaper_model_max_output_tokens on a
    model with a cheaper sibling (seed model_siblings). Saves the same tokens at the sibling's
    price. Always says it needs a quality check. 'medium' when outputs are at most half that
    limit, else 'low'.
  - long_context: prompts averaging above the model's long-context threshold (context tier 1).
    Saves the surcharge: every token at the tier-1 rate minus the base rate. 'medium' when the
    average is insights_long_context_confident_ratio x the threshold or more, else 'low'.
  - idle_key: an API key or integration with no usage for insights_idle_key_days after earlier
    usage. Saves $0 (a security clean-up, not a cost); 'high'.
  Priced kinds below insights_min_monthly_savings_usd are dropped.
-#}

{%- set window_days = insights_integer('insights_savings_window_days') -%}

with

workloads as (

    select * from {{ ref('int_insights_workloads') }}

),

model_rates as (

    select * from {{ ref('int_insights_model_rates') }}

),

model_siblings as (

    select * from {{ ref('model_siblings') }}

),

key_activity as (

    select * from {{ ref('int_insights_key_activity') }}

),

base_rates as (

    select * from model_rates where context_tier = 0

),

-- The first long-context tier (the threshold where a surcharge starts).
long_context_rates as (

    select * from model_rates where context_tier = 1

),

priced as (

    select
        workloads.*,
        rates.catalogue_model_id,
        rates.input_per_mtok,
        -- A cache read or write without its own price is charged as input (as everywhere).
        coalesce(rates.cached_input_per_mtok, rates.input_per_mtok) as cached_rate,
        coalesce(rates.cache_write_per_mtok, rates.input_per_mtok) as write_rate,
        workloads.input_tokens + workloads.cached_input_tokens + workloads.cache_write_tokens
            as prompt_tokens,
        -- Monthly = the window; a shorter history is scaled up to it.
        cast({{ window_days }} as double) / workloads.days_covered as monthly_factor,
        {{ insights_cost_at('workloads', 'rates') }} as window_rated_cost_usd,
        {{ insights_cost_at('workloads', 'batch') }} as window_batch_cost_usd,
        {{ insights_cost_at('workloads', 'long_context') }} as window_long_context_cost_usd,
        long_context.context_threshold_tokens as long_context_threshold_tokens,
        long_context.input_per_mtok as long_context_input_per_mtok,
        {{ insights_batch_discount('workloads.provider') }} as fallback_batch_discount

    from workloads
    -- Models without a price get no estimate (never a $0 one).
    inner join base_rates as rates
        on workloads.provider = rates.provider
        and workloads.model = rates.model
        and workloads.service_tier = rates.service_tier
    left join base_rates as batch
        on workloads.provider = batch.provider
        and workloads.model = batch.model
        and batch.service_tier = 'batch'
    left join long_context_rates as long_context
        on workloads.provider = long_context.provider
        and workloads.model = long_context.model
        and workloads.service_tier = long_context.service_tier

),

profiled as (

    select
        *,
        prompt_tokens / nullif(request_count, 0) as avg_prompt_tokens,
        output_tokens / nullif(request_count, 0) as avg_output_tokens,
        cached_input_tokens / nullif(prompt_tokens, 0) as cache_hit_rate,
        request_count / nullif(active_days, 0) as requests_per_active_day,
        active_days / days_covered as active_share,
        -- Exact (DECIMAL) when the window is full, as it is once a month of data exists.
        case
            when days_covered = {{ window_days }} then cost_usd
            else cost_usd * monthly_factor
        end as monthly_cost_usd,
        case
            when days_covered = {{ window_days }} then window_rated_cost_usd
            else window_rated_cost_usd * monthly_factor
        end as monthly_rated_cost_usd,
        case
            when days_covered = {{ window_days }} then window_batch_cost_usd
            else window_batch_cost_usd * monthly_factor
        end as monthly_batch_cost_usd,
        {{ insights_scope_label('scope') }} || ' ' || scope_value as workload_label

    from priced

),

batch_api as (

    select
        'batch_api' as kind,
        scope,
        scope_value,
        provider,
        model,
        service_tier,
        monthly_cost_usd as current_monthly_cost_usd,
        monthly_rated_cost_usd,
        coalesce(
            monthly_rated_cost_usd - monthly_batch_cost_usd,
            monthly_rated_cost_usd * cast(fallback_batch_discount as decimal(18, 6))
        ) as estimated_monthly_savings_usd,
        case
            when avg_prompt_tokens
                    >= 2 * {{ insights_number('insights_batch_min_input_tokens_per_request') }}
                and active_share
                    >= {{ insights_number('insights_batch_confident_active_share') }}
                then 'medium'
            else 'low'
        end as confidence,
        'Send ' || workload_label || '''s ' || model || ' traffic through the ' || provider
            || ' batch API if nothing waits on it (results within 24 hours, about '
            || {{ insights_fmt_pct(
                '1 - coalesce(monthly_batch_cost_usd / nullif(monthly_rated_cost_usd, 0),'
                ~ ' 1 - fallback_batch_discount)'
            ) }}
            || ' cheaper): ' || {{ insights_fmt_int('requests_per_active_day') }}
            || ' requests a day averaging ' || {{ insights_fmt_int('avg_prompt_tokens') }}
            || ' input tokens, on ' || active_days || ' of ' || days_covered || ' days.'
            as action

    from profiled
    where service_tier = 'standard'
        and (monthly_batch_cost_usd is not null or fallback_batch_discount is not null)
        and active_share >= {{ insights_number('insights_batch_min_active_share') }}
        and requests_per_active_day
            >= {{ insights_number('insights_batch_min_daily_requests') }}
        and avg_prompt_tokens
            >= {{ insights_number('insights_batch_min_input_tokens_per_request') }}

),

caching_inputs as (

    select
        *,
        greatest(
            {{ insights_number('insights_caching_target_hit_rate') }} - cache_hit_rate, 0
        ) * prompt_tokens as added_cache_reads,
        -- Reads each write earns: the workload's own ratio where it writes already.
        case
            when cache_write_tokens > 0 then cached_input_tokens / cache_write_tokens
            else {{ insights_number('insights_caching_reads_per_write') }}
        end as reads_per_write,
        cast(input_per_mtok - cached_rate as double) / 1000000 as read_discount_per_token,
        cast(write_rate - input_per_mtok as double) / 1000000 as write_premium_per_token

    from profiled
    where cached_rate < input_per_mtok

),

prompt_caching_low_hit_rate as (

    select
        'prompt_caching' as kind,
        scope,
        scope_value,
        provider,
        model,
        service_tier,
        monthly_cost_usd as current_monthly_cost_usd,
        monthly_rated_cost_usd,
        (
            added_cache_reads * read_discount_per_token
            - added_cache_reads / reads_per_write * write_premium_per_token
        ) * monthly_factor as estimated_monthly_savings_usd,
        case
            when requests_per_active_day
                >= {{ insights_number('insights_caching_warm_daily_requests') }}
                then 'medium'
            else 'low'
        end as confidence,
        'Cache the stable start of ' || workload_label || '''s ' || model || ' prompts: '
            || {{ insights_fmt_int('avg_prompt_tokens') }}
            || ' input tokens a request, only ' || {{ insights_fmt_pct('cache_hit_rate') }}
            || ' of them cache hits. At '
            || {{ insights_fmt_pct(insights_number('insights_caching_target_hit_rate')) }}
            || ' hits they would cost ' || {{ insights_fmt_price('cached_rate') }}
            || ' instead of ' || {{ insights_fmt_price('input_per_mtok') }}
            || ' per million'
            || case
                when write_premium_per_token > 0
                    then ', after cache writes at ' || {{ insights_fmt_price('write_rate') }}
                else ''
            end
            || '. Put what never changes first (system prompt, tools, examples) and the'
            || ' per-request part last'
            || case
                when provider = 'anthropic' then ', and mark the prefix with cache_control'
                else ''
            end
            || '.' as action

    from caching_inputs
    where avg_prompt_tokens
            >= {{ insights_number('insights_caching_min_input_tokens_per_request') }}
        and cache_hit_rate < {{ insights_number('insights_caching_low_hit_rate') }}
        and reads_per_write > 0

),

prompt_caching_costly_writes as (

    select
        'prompt_caching' as kind,
        scope,
        scope_value,
        provider,
        model,
        service_tier,
        monthly_cost_usd as current_monthly_cost_usd,
        monthly_rated_cost_usd,
        (
            cache_write_tokens * write_premium_per_token
            - cached_input_tokens * read_discount_per_token
        ) * monthly_factor as estimated_monthly_savings_usd,
        'high' as confidence,
        'Cache writes on ' || workload_label || '''s ' || model
            || ' traffic cost more than the reads they earn: '
            || {{ insights_fmt_usd(
                'cache_write_tokens * write_premium_per_token * monthly_factor'
            ) }} || ' a month of write premium against '
            || {{ insights_fmt_usd(
                'cached_input_tokens * read_discount_per_token * monthly_factor'
            ) }} || ' saved by cache reads (' || {{ insights_fmt_tokens('cache_write_tokens') }}
            || ' tokens written to the cache, ' || {{ insights_fmt_tokens('cached_input_tokens') }}
            || ' read from it). Make the cached prefix identical across requests (nothing'
            || ' per-request before the cache breakpoint) or stop marking it for caching.'
            as action

    from caching_inputs
    where cache_write_tokens > 0
        and cache_write_tokens * write_premium_per_token
            > cached_input_tokens * read_discount_per_token

),

sibling_costs as (

    select
        profiled.provider,
        profiled.model,
        profiled.service_tier,
        profiled.scope,
        profiled.scope_value,
        model_siblings.cheaper_model,
        case
            when profiled.days_covered = {{ window_days }}
                then {{ insights_cost_at('profiled', 'sibling') }}
            else {{ insights_cost_at('profiled', 'sibling') }} * profiled.monthly_factor
        end as monthly_sibling_cost_usd

    from profiled
    inner join model_siblings
        on profiled.provider = lower(model_siblings.provider)
        and profiled.catalogue_model_id = model_siblings.model
    inner join base_rates as sibling
        on lower(model_siblings.provider) = sibling.provider
        and model_siblings.cheaper_model = sibling.model
        and profiled.service_tier = sibling.service_tier

),

cheaper_model as (

    select
        'cheaper_model' as kind,
        profiled.scope,
        profiled.scope_value,
        profiled.provider,
        profiled.model,
        profiled.service_tier,
        profiled.monthly_cost_usd as current_monthly_cost_usd,
        profiled.monthly_rated_cost_usd,
        profiled.monthly_rated_cost_usd - sibling_costs.monthly_sibling_cost_usd
            as estimated_monthly_savings_usd,
        case
            when profiled.avg_output_tokens
                <= 0.5 * {{ insights_number('insights_cheaper_model_max_output_tokens') }}
                then 'medium'
            else 'low'
        end as confidence,
        'Try ' || sibling_costs.cheaper_model || ' for ' || profiled.workload_label || '''s '
            || profiled.model || ' traffic ('
            || {{ insights_fmt_int('profiled.avg_output_tokens') }}
            || ' output tokens a request on average): the same tokens would cost '
            || {{ insights_fmt_usd('sibling_costs.monthly_sibling_cost_usd') }} || ' instead of '
            || {{ insights_fmt_usd('profiled.monthly_rated_cost_usd') }}
            || ' a month. Needs a quality check on your own examples before switching.'
            as action

    from profiled
    inner join sibling_costs
        on profiled.provider = sibling_costs.provider
        and profiled.model = sibling_costs.model
        and profiled.service_tier = sibling_costs.service_tier
        and profiled.scope = sibling_costs.scope
        and profiled.scope_value = sibling_costs.scope_value
    where profiled.avg_output_tokens
        <= {{ insights_number('insights_cheaper_model_max_output_tokens') }}

),

long_context as (

    select
        'long_context' as kind,
        scope,
        scope_value,
        provider,
        model,
        service_tier,
        monthly_cost_usd as current_monthly_cost_usd,
        monthly_rated_cost_usd,
        (window_long_context_cost_usd - window_rated_cost_usd) * monthly_factor
            as estimated_monthly_savings_usd,
        case
            when avg_prompt_tokens
                >= {{ insights_number('insights_long_context_confident_ratio') }}
                    * long_context_threshold_tokens
                then 'medium'
            else 'low'
        end as confidence,
        'Requests from ' || workload_label || ' to ' || model || ' average '
            || {{ insights_fmt_int('avg_prompt_tokens') }} || ' input tokens, above the '
            || {{ insights_fmt_int('long_context_threshold_tokens') }}
            || '-token threshold above which every token of a request costs the long-context'
            || ' rate (input ' || {{ insights_fmt_price('input_per_mtok') }} || ' -> '
            || {{ insights_fmt_price('long_context_input_per_mtok') }}
            || ' per million). Keep requests under it: retrieve the relevant parts instead of'
            || ' whole documents, summarise long histories.' as action

    from profiled
    where long_context_threshold_tokens is not null
        and avg_prompt_tokens > long_context_threshold_tokens

),

idle_key as (

    select
        'idle_key' as kind,
        scope,
        scope_value,
        cast(null as varchar) as provider,
        cast(null as varchar) as model,
        cast(null as varchar) as service_tier,
        window_cost_usd as current_monthly_cost_usd,
        cast(null as decimal(38, 12)) as monthly_rated_cost_usd,
        cast(0 as decimal(18, 6)) as estimated_monthly_savings_usd,
        'high' as confidence,
        case
            when scope = 'api_key'
                then 'API key ' || scope_value || ' has had no usage since '
                    || strftime(last_seen, '%Y-%m-%d') || ' (' || days_since_last_use
                    || ' days) after '
                    -- Usage meterr could not price (no model in the export, a model no
                    -- catalogue knows) has no cost: say so rather than lose the sentence.
                    || coalesce(
                        {{ insights_fmt_usd('lifetime_cost_usd') }} || ' of use',
                        'use that meterr could not price'
                    )
                    || ': revoke or rotate it if nothing needs it. An unused live key is'
                    || ' a security risk, not a cost.'
            else 'Integration ' || scope_value || ' has brought in no usage since '
                || strftime(last_seen, '%Y-%m-%d') || ' (' || days_since_last_use
                || ' days): disable it if it is no longer needed, or check that its key still'
                || ' works.'
        end as action

    from key_activity
    where days_since_last_use >= {{ insights_integer('insights_idle_key_days') }}

),

priced_opportunities as (

    {% for branch in ['batch_api', 'prompt_caching_low_hit_rate', 'prompt_caching_costly_writes',
                      'cheaper_model', 'long_context'] %}
    select
        kind,
        scope,
        scope_value,
        provider,
        model,
        service_tier,
        -- DECIMAL throughout, so the exact (full-window) figures stay exact.
        cast(current_monthly_cost_usd as decimal(38, 12)) as current_monthly_cost_usd,
        cast(monthly_rated_cost_usd as decimal(38, 12)) as monthly_rated_cost_usd,
        cast(estimated_monthly_savings_usd as decimal(38, 12)) as estimated_monthly_savings_usd,
        confidence,
        action
    from {{ branch }}
    {% if not loop.last %}union all{% endif %}
    {% endfor %}

),

opportunities as (

    select * from priced_opportunities
    where estimated_monthly_savings_usd
        >= {{ insights_number('insights_min_monthly_savings_usd') }}
    union all
    select * from idle_key

),

final as (

    select
        cast(
            md5(concat_ws('|', kind, scope, scope_value, provider, model, service_tier))
            as varchar
        ) as opportunity_id,
        cast(kind as varchar) as kind,
        cast(scope as varchar) as scope,
        cast(scope_value as varchar) as scope_value,
        cast(round(current_monthly_cost_usd, 6) as decimal(18, 6)) as current_monthly_cost_usd,
        cast(round(estimated_monthly_savings_usd, 6) as decimal(18, 6))
            as estimated_monthly_savings_usd,
        cast(confidence as varchar) as confidence,
        cast(action as varchar) as action,
        cast(provider as varchar) as provider,
        cast(model as varchar) as model,
        cast(service_tier as varchar) as service_tier,
        cast(round(monthly_rated_cost_usd, 6) as decimal(18, 6)) as monthly_rated_cost_usd

    from opportunities

)

select * from final
