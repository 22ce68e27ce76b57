{#-
  fct_spend_daily's spend shared out to users and API keys, with an explicit unattributed rest.
  Grain: one row per usage_date x provider x model x project_id x integration_id x user_id x
  api_key_id (user_id and api_key_id both NULL = the unattributed remainder). For every
  fct_spend_daily row the allocations add up to spend_usd exactly (to the micro-dollar) and the
  allocated request counts to its request_count.

  Shares come from ONE attribution source per spend row, so no traffic counts twice: the best
  request-level source whose records name users or keys (custom, webhook, Helicone, Langfuse,
  LiteLLM: they see end users), else the authoritative source itself (a provider API's keys and
  the integration's owner), else another provider source. Its records with usage for the same
  day, provider, model and project (and integration, or none) are the weights, each at its billed
  cost where it has one, else its usage x price:
    observed_cost         every record has a cost and they add up to less than the spend: each
                          user/key gets exactly its observed cost, the rest is unattributed
                          (traffic the logs did not see)
    observed_cost_scaled  the observed costs add up to more than the spend (e.g. negotiated prices):
                          the spend is split in proportion to them
    token_share           some observed costs are unknown: split by tokens
    request_share         no tokens either: split by request count
    unattributed          no source names a user or key
    unpriced              the spend itself is unknown (NULL), never $0
  Cost-only records (no tokens, no requests) have no usage to share by and are left out of the
  weights. Amounts are split in whole micro-dollars by largest remainder.

  Records come from int_usage_priced_daily (summed per day; a row's records agree on has_tokens,
  has_requests and on whether billed and list cost are known, so each record's cost is its row's
  coalesce(billed, list) summed, and the cost-only test is the row's).
  A day's rows depend on that day's rows of fct_spend_daily and int_usage_priced_daily alone, so a
  build recomputes only the days int_usage_priced_daily changed (macros/usage_day_builds.sql).
-#}
{{ usage_day_at_a_time(contracted=true) }}

with

spend as (

    select
        *,
        row_number() over (
            order by usage_date, provider, model, project_id, integration_id
        ) as spend_row,
        {{ to_micro('spend_usd') }} as spend_micro

    from {{ ref('fct_spend_daily') }}
    where {{ usage_days_filter('usage_date') }}

),

records as (

    select
        *,
        {{ source_class('source') }} as source_class,
        {{ source_tiebreak('source') }} as source_order

    from {{ ref('int_usage_priced_daily') }}
    where {{ usage_days_filter('usage_date') }}

),

candidate_records as (

    select
        spend.spend_row,
        spend.authoritative_source,
        records.source,
        records.source_class,
        records.source_order,
        records.user_id,
        records.api_key_id,
        records.record_count,
        records.request_count,
        coalesce(records.billed_cost_usd, records.list_cost_usd) as record_cost_usd,
        records.input_tokens + records.cached_input_tokens + records.cache_write_tokens
            + records.output_tokens as record_tokens

    from spend
    inner join records
        on records.usage_date = spend.usage_date
        and records.provider = spend.provider
        and records.model = spend.model
        and records.project_id is not distinct from spend.project_id
        and (
            records.integration_id is not distinct from spend.integration_id
            or records.integration_id is null
        )
    -- Cost-only records carry no usage to share by; their amount is in the total.
    where records.has_requests or records.has_tokens

),

attribution_sources as (

    select
        spend_row,
        source as attribution_source

    from candidate_records
    group by spend_row, source, authoritative_source, source_class, source_order
    having bool_or(user_id is not null or api_key_id is not null)
    qualify row_number() over (
        partition by spend_row
        order by
            -- Request logs see end users; then the authoritative source; then the rest.
            (source_class = 'request_log') desc,
            (source = authoritative_source) desc,
            case source_class when 'provider_api' then 1 when 'console_export' then 2 else 3 end,
            source_order
    ) = 1

),

attribution_groups as (

    select
        candidate_records.spend_row,
        attribution_sources.attribution_source,
        candidate_records.user_id,
        candidate_records.api_key_id,
        {{ record_count_where('record_cost_usd is null') }} as unknown_cost_records,
        {{ to_micro('sum(record_cost_usd)') }} as cost_micro,
        cast(sum(record_tokens) as hugeint) as tokens,
        cast(sum(request_count) as hugeint) as requests

    from candidate_records
    inner join attribution_sources
        on candidate_records.spend_row = attribution_sources.spend_row
        and candidate_records.source = attribution_sources.attribution_source
    group by all

),

attribution_totals as (

    select
        spend_row,
        sum(unknown_cost_records) = 0 as cost_known,
        sum(coalesce(cost_micro, 0)) as weight_cost_micro,
        sum(tokens) as weight_tokens,
        sum(requests) as weight_requests

    from attribution_groups
    group by spend_row

),

keyed as (

    select
        spend.spend_row,
        spend.spend_micro,
        cast(spend.request_count as hugeint) as spend_requests,
        attribution_totals.weight_cost_micro,
        coalesce(attribution_totals.weight_requests, 0) as weight_requests,
        case
            when spend.spend_usd is null then 'unpriced'
            when attribution_totals.spend_row is null then 'unattributed'
            when attribution_totals.cost_known and attribution_totals.weight_cost_micro > 0 then
                case
                    when attribution_totals.weight_cost_micro > spend.spend_micro
                        then 'observed_cost_scaled'
                    else 'observed_cost'
                end
            when attribution_totals.weight_tokens > 0 then 'token_share'
            else 'request_share'
        end as key_basis

    from spend
    left join attribution_totals on spend.spend_row = attribution_totals.spend_row

),

recipients as (

    -- One row per attributed user/key group, plus the unattributed remainder of every spend row.
    select
        keyed.*,
        attribution_groups.attribution_source,
        attribution_groups.user_id,
        attribution_groups.api_key_id,
        coalesce(attribution_groups.cost_micro, 0) as cost_micro,
        attribution_groups.tokens,
        attribution_groups.requests,
        false as is_remainder

    from keyed
    inner join attribution_groups on keyed.spend_row = attribution_groups.spend_row

    union all

    select
        keyed.*,
        null as attribution_source,
        null as user_id,
        null as api_key_id,
        cast(0 as hugeint) as cost_micro,
        cast(0 as hugeint) as tokens,
        cast(0 as hugeint) as requests,
        true as is_remainder

    from keyed

),

cost_input as (

    select
        *,
        case
            when is_remainder then cast(0 as hugeint)
            when key_basis = 'observed_cost_scaled' then cost_micro
            when key_basis = 'token_share' then tokens
            when key_basis = 'request_share' then requests
            else cast(0 as hugeint)
        end as cost_weight,
        case
            when key_basis in ('observed_cost_scaled', 'token_share', 'request_share')
                then spend_micro
            else cast(0 as hugeint)
        end as cost_to_split

    from recipients

),

{{ largest_remainder(
    'cost_split', 'cost_input', 'spend_row', 'cost_weight', 'cost_to_split',
    'is_remainder, user_id nulls first, api_key_id nulls first'
) }},

request_input as (

    select
        * exclude (allocated_units),
        allocated_units as scaled_cost_micro,
        case when is_remainder then cast(0 as hugeint) else requests end as request_weight,
        -- Requests: each group keeps its own count unless they add up to more than the spend
        -- row's (then they are scaled down to it).
        case when weight_requests > spend_requests then spend_requests else cast(0 as hugeint) end
            as requests_to_split

    from cost_split

),

{{ largest_remainder(
    'request_split', 'request_input', 'spend_row', 'request_weight', 'requests_to_split',
    'is_remainder, user_id nulls first, api_key_id nulls first'
) }},

allocated as (

    select
        *,
        case
            when key_basis = 'unpriced' then null
            when key_basis = 'unattributed' then
                case when is_remainder then spend_micro else cast(0 as hugeint) end
            when key_basis = 'observed_cost' then
                case when is_remainder then spend_micro - weight_cost_micro else cost_micro end
            else scaled_cost_micro
        end as allocated_micro,
        case
            when weight_requests > spend_requests then allocated_units
            when is_remainder then spend_requests - weight_requests
            else requests
        end as allocated_requests

    from request_split

),

with_keys as (

    select
        spend.usage_date,
        spend.provider,
        spend.model,
        spend.project_id,
        spend.integration_id,
        spend.authoritative_source,
        allocated.*

    from allocated
    inner join spend on allocated.spend_row = spend.spend_row

),

merged as (

    select
        usage_date,
        provider,
        model,
        project_id,
        integration_id,
        user_id,
        api_key_id,
        authoritative_source,
        max(attribution_source) as attribution_source,
        max(key_basis) as key_basis,
        -- sum() of NULLs is NULL: an unpriced spend row allocates NULL, never $0.
        sum(allocated_micro) as allocated_micro,
        sum(allocated_requests) as allocated_requests,
        bool_and(is_remainder) as is_only_remainder,
        max(spend_row) as spend_row

    from with_keys
    group by
        usage_date, provider, model, project_id, integration_id, user_id, api_key_id,
        authoritative_source

),

counted as (

    select
        *,
        count(*) over (partition by spend_row) as rows_for_spend

    from merged

),

final as (

    select
        cast(usage_date as date) as usage_date,
        cast(provider as varchar) as provider,
        cast(model as varchar) as model,
        cast(project_id as varchar) as project_id,
        cast(integration_id as varchar) as integration_id,
        cast(user_id as varchar) as user_id,
        cast(api_key_id as varchar) as api_key_id,
        {{ from_micro('allocated_micro') }} as allocated_cost_usd,
        cast(allocated_requests as bigint) as request_count,
        cast(
            case
                when key_basis = 'unpriced' then 'unpriced'
                when user_id is null and api_key_id is null then 'unattributed'
                else key_basis
            end as varchar
        ) as allocation_basis,
        cast(user_id is null and api_key_id is null as boolean) as is_unattributed,
        cast(attribution_source as varchar) as attribution_source,
        cast(authoritative_source as varchar) as authoritative_source

    from counted
    -- Drop an empty remainder (nothing left over) unless it is the spend row's only allocation.
    where not (
        is_only_remainder
        and coalesce(allocated_micro, 0) = 0
        and allocated_requests = 0
        and rows_for_spend > 1
    )

)

select * from final
