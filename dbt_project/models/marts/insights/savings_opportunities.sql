{#-
  Ways to spend less, found from usage alone (no prompts), each with a monthly dollar estimate.
  Grain: one row per opportunity = kind x workload (provider x model x service tier x scope x
  scope_value), or kind x API key / integration for idle_key. opportunity_id is a hash of kind,
  scope, scope_value, provider, model and tier: stable across rebuilds. Columns and types are the
  contract's (enforced); the report orders by savings. Rules, prices and confidence: see
  int_insights_savings_opportunities.

  Each estimate is for that change alone. Where several kinds apply to the same workload (e.g.
  batch API, prompt caching and a cheaper model for one key's gpt-4o traffic) they are
  alternatives: the estimates overlap and must not be added. Their action says so ("Alternative
  to prompt caching and a cheaper model for the same traffic ..."), and
  marts.savings_potential_by_scope gives the figure that may be added up: the best option per
  workload, and batch with caching combined where both apply.
-#}

with

opportunities as (

    select * from {{ ref('int_insights_savings_opportunities') }}

),

-- The other priced opportunities on the same workload, largest first.
alternatives as (

    select
        this.opportunity_id,
        list(
            case other.kind
                when 'batch_api' then 'the batch API'
                when 'prompt_caching' then 'prompt caching'
                when 'cheaper_model' then 'a cheaper model'
                when 'long_context' then 'keeping prompts under the long-context threshold'
                else other.kind
            end
            order by other.estimated_monthly_savings_usd desc, other.kind
        ) as kinds

    from opportunities as this
    inner join opportunities as other
        on this.scope = other.scope
        and this.scope_value = other.scope_value
        and this.provider = other.provider
        and this.model = other.model
        and this.service_tier = other.service_tier
        and this.opportunity_id <> other.opportunity_id
    where this.estimated_monthly_savings_usd > 0
        and other.estimated_monthly_savings_usd > 0
    group by this.opportunity_id

),

final as (

    select
        cast(opportunities.opportunity_id as varchar) as opportunity_id,
        cast(opportunities.kind as varchar) as kind,
        cast(opportunities.scope as varchar) as scope,
        cast(opportunities.scope_value as varchar) as scope_value,
        cast(opportunities.current_monthly_cost_usd as decimal(18, 6))
            as current_monthly_cost_usd,
        cast(opportunities.estimated_monthly_savings_usd as decimal(18, 6))
            as estimated_monthly_savings_usd,
        cast(opportunities.confidence as varchar) as confidence,
        cast(
            opportunities.action
            || coalesce(
                ' Alternative to '
                || case
                    when len(alternatives.kinds) = 1 then alternatives.kinds[1]
                    else array_to_string(
                        list_slice(alternatives.kinds, 1, len(alternatives.kinds) - 1), ', '
                    ) || ' and ' || alternatives.kinds[len(alternatives.kinds)]
                end
                || ' for the same traffic: the estimates overlap, so do not add them up.',
                ''
            )
            as varchar
        ) as action

    from opportunities
    left join alternatives
        on opportunities.opportunity_id = alternatives.opportunity_id

)

select * from final
