{#-
  What the savings opportunities are worth together, without double counting.
  Grain: one row per scope x scope_value of marts.savings_opportunities (API key, project or model
  for usage without a key), priced kinds only (idle_key saves $0). Workloads (provider x model x
  service tier) never share tokens, so rows, and workloads within a row, add up; opportunities on
  one workload do not (each is estimated on its own, against the same tokens).

  Per workload:
  - best option = the largest single estimate: what the report can add up as "up to $X (best
    option per workload)".
  - combined = the best option, or batch API and prompt caching together where both apply and
    that is more: they stack multiplicatively (caching reads are billed at the batch discount too:
    OpenAI's batch pricing has cached-input rates, and Anthropic's batch and caching discounts
    stack), so with b = the batch saving, c = the caching saving and C = the workload's monthly
    cost at catalogue prices (what both were measured against), batch leaves C - b and caching
    then saves c x (C - b) / C of it: combined = b + c - b x c / C. A cheaper model or shorter
    (sub-long-context) prompts are not stacked: they change which prices apply, and each
    needs its own check first.
-#}

with

opportunities as (

    select * from {{ ref('int_insights_savings_opportunities') }}
    where kind <> 'idle_key' and estimated_monthly_savings_usd > 0

),

workloads as (

    select
        scope,
        scope_value,
        provider,
        model,
        service_tier,
        count(*) as opportunity_count,
        max(current_monthly_cost_usd) as current_monthly_cost_usd,
        max(monthly_rated_cost_usd) as rated_monthly_cost_usd,
        max(estimated_monthly_savings_usd) as best_savings_usd,
        arg_max(kind, estimated_monthly_savings_usd) as best_kind,
        max(estimated_monthly_savings_usd) filter (where kind = 'batch_api') as batch_savings_usd,
        max(estimated_monthly_savings_usd) filter (where kind = 'prompt_caching')
            as caching_savings_usd

    from opportunities
    group by scope, scope_value, provider, model, service_tier

),

stacked as (

    select
        *,
        case
            when batch_savings_usd is not null
                and caching_savings_usd is not null
                and rated_monthly_cost_usd > 0
                then cast(batch_savings_usd as double) + cast(caching_savings_usd as double)
                    - cast(batch_savings_usd as double) * cast(caching_savings_usd as double)
                    / cast(rated_monthly_cost_usd as double)
        end as batch_and_caching_savings_usd

    from workloads

),

per_workload as (

    select
        *,
        greatest(cast(best_savings_usd as double), coalesce(batch_and_caching_savings_usd, 0))
            as combined_savings_usd

    from stacked

),

final as (

    select
        cast(scope as varchar) as scope,
        cast(scope_value as varchar) as scope_value,
        cast(count(*) as bigint) as workload_count,
        cast(sum(opportunity_count) as bigint) as opportunity_count,
        cast(round(sum(current_monthly_cost_usd), 6) as decimal(18, 6))
            as current_monthly_cost_usd,
        cast(round(sum(best_savings_usd), 6) as decimal(18, 6))
            as best_option_monthly_savings_usd,
        cast(round(sum(combined_savings_usd), 6) as decimal(18, 6))
            as combined_monthly_savings_usd,
        cast(
            string_agg(
                model || ': ' || best_kind
                    || case when service_tier <> 'standard' then ' (' || service_tier || ' tier)'
                    else '' end,
                '; ' order by best_savings_usd desc, model, service_tier
            ) as varchar
        ) as best_options

    from per_workload
    group by scope, scope_value

)

select * from final
