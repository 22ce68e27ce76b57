{#-
  Usage and provider cost summed to the fct_usage_daily grain, before meterr's platform fee.
  Grain: one row per usage_date x source x provider x model x project_id x api_key_id x user_id x
  integration_id (NULL keys group together).

  Reads int_usage_priced_daily (the records already summed per day); usage_row_count and
  unpriced_row_count count the records behind its rows.
-#}
with

usage_priced as (

    select * from {{ ref('int_usage_priced_daily') }}

),

aggregated as (

    select
        usage_date,
        source,
        provider,
        model,
        project_id,
        api_key_id,
        user_id,
        integration_id,
        cast(sum(request_count) as bigint) as request_count,
        cast(sum(input_tokens) as bigint) as input_tokens,
        cast(sum(cached_input_tokens) as bigint) as cached_input_tokens,
        cast(sum(cache_write_tokens) as bigint) as cache_write_tokens,
        cast(sum(output_tokens) as bigint) as output_tokens,
        -- sum() skips NULLs: NULL only when no row of the group is priced / reports a cost.
        cast(round(sum(list_cost_usd), 6) as decimal(18, 6)) as list_cost_usd,
        cast(round(sum(billed_cost_usd), 6) as decimal(18, 6)) as billed_cost_usd,
        -- What the usage cost: each record's billed cost where its source reports one, else its
        -- list cost. Not coalesce(billed, list) of the sums: a group whose records are only
        -- partly billed (a cost export without the long-context line of a day, say) would lose
        -- the rest's list cost, and disagree with marts.fct_spend_daily.
        cast(round(sum(coalesce(billed_cost_usd, list_cost_usd)), 6) as decimal(18, 6))
            as cost_usd,
        cast(sum(record_count) as bigint) as usage_row_count,
        {{ record_count_where('not is_priced') }} as unpriced_row_count

    from usage_priced
    group by all

)

select * from aggregated
