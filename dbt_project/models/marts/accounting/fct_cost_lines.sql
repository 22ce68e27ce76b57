{#-
  fct_spend_daily's spend itemised by token bucket and price: the lines of a cost-and-usage file
  (reports/focus.py writes them as FOCUS rows). Grain: one row per usage_date x provider x model x
  project_id x integration_id x service_tier x context_tier x token_bucket x unit price, from the
  authoritative source's usage records; plus one 'cost_only' line (token_bucket NULL) for a spend
  row whose billed cost has no usage records to itemise it by.

  contracted_cost_usd is tokens x the price meterr applied (a prices.yaml override or the
  catalogue), list_cost_usd tokens x the public catalogue price (the applied price when the
  catalogue has none). billed_cost_usd shares the spend row's spend_usd out over its lines in
  proportion to contracted cost (tokens when some line is unpriced), in whole micro-dollars by
  largest remainder, so a spend row's lines add up to its spend_usd exactly. Lines of an unpriced
  spend row, and unpriced lines of a priced one, have NULL billed cost, never $0.

  Records come from int_usage_priced_daily (summed per day). Token counts are never negative, so a
  row has tokens in a bucket exactly when one of its records does, and its records without tokens
  there add nothing to the bucket's tokens or cost: the lines are those of the single records.
-#}
with

spend as (

    select
        *,
        row_number() over (
            order by usage_date, provider, model, project_id, integration_id
        ) as spend_row,
        {{ to_micro('spend_usd') }} as spend_micro

    from {{ ref('fct_spend_daily') }}

),

records as (

    select
        spend.spend_row,
        spend.spend_basis,
        usage_priced.*

    from {{ ref('int_usage_priced_daily') }} as usage_priced
    inner join spend
        on usage_priced.usage_date = spend.usage_date
        and usage_priced.provider = spend.provider
        and usage_priced.model = spend.model
        and usage_priced.project_id is not distinct from spend.project_id
        and usage_priced.integration_id is not distinct from spend.integration_id
        and usage_priced.source = spend.authoritative_source

),

buckets as (

    select
        spend_row, spend_basis, service_tier, context_tier, price_source, price_version,
        'input' as token_bucket, input_tokens as tokens,
        input_per_mtok as unit_price, catalogue_input_per_mtok as catalogue_unit_price,
        input_cost_usd as contracted_cost
    from records
    union all
    select
        spend_row, spend_basis, service_tier, context_tier, price_source, price_version,
        'cache_read', cached_input_tokens,
        cached_input_per_mtok, catalogue_cached_input_per_mtok, cached_input_cost_usd
    from records
    union all
    select
        spend_row, spend_basis, service_tier, context_tier, price_source, price_version,
        'cache_write_5m', cache_write_tokens - cache_write_1h_tokens,
        cache_write_per_mtok, catalogue_cache_write_per_mtok, cache_write_cost_usd
    from records
    union all
    select
        spend_row, spend_basis, service_tier, context_tier, price_source, price_version,
        'cache_write_1h', cache_write_1h_tokens,
        cache_write_1h_per_mtok, catalogue_cache_write_1h_per_mtok, cache_write_1h_cost_usd
    from records
    union all
    select
        spend_row, spend_basis, service_tier, context_tier, price_source, price_version,
        'output', output_tokens,
        output_per_mtok, catalogue_output_per_mtok, output_cost_usd
    from records

),

lines as (

    select
        spend_row,
        spend_basis,
        service_tier,
        context_tier,
        token_bucket,
        unit_price,
        coalesce(catalogue_unit_price, unit_price) as list_unit_price,
        price_source,
        price_version,
        cast(sum(tokens) as bigint) as tokens,
        -- NULL when the line is unpriced (its records' cost is unknown).
        sum(contracted_cost) as contracted_cost

    from buckets
    where tokens > 0
    group by all

),

line_weights as (

    select
        lines.*,
        spend.spend_micro,
        -- Which lines share the spend: all of them when the spend is a reported amount, only the
        -- priced ones when it is usage x price (an unpriced line is not in that sum).
        lines.spend_basis in ('billed', 'billed_and_priced') or lines.contracted_cost is not null
            as shares_spend,
        bool_and(lines.contracted_cost is not null) over (partition by lines.spend_row)
            as all_lines_priced

    from lines
    inner join spend on lines.spend_row = spend.spend_row

),

split_input as (

    select
        *,
        case
            when not shares_spend then cast(0 as hugeint)
            when all_lines_priced then cast(round(contracted_cost * 1000000000) as hugeint)
            else cast(tokens as hugeint)
        end as weight,
        coalesce(spend_micro, cast(0 as hugeint)) as to_split

    from line_weights

),

{{ largest_remainder(
    'split', 'split_input', 'spend_row', 'weight', 'to_split',
    'token_bucket, service_tier, context_tier, unit_price'
) }},

usage_lines as (

    select
        spend_row,
        service_tier,
        context_tier,
        token_bucket,
        tokens,
        unit_price,
        list_unit_price,
        contracted_cost,
        tokens * list_unit_price * 0.000001 as list_cost,
        case when spend_micro is not null and shares_spend then allocated_units end
            as billed_micro,
        price_source,
        price_version

    from split

),

cost_only_lines as (

    select
        spend_row,
        null as service_tier,
        null as context_tier,
        null as token_bucket,
        null as tokens,
        null as unit_price,
        null as list_unit_price,
        null as contracted_cost,
        null as list_cost,
        spend_micro as billed_micro,
        null as price_source,
        null as price_version

    from spend
    where spend_micro is not null
        and spend_row not in (select spend_row from usage_lines where billed_micro is not null)

),

all_lines as (

    select * from usage_lines
    union all by name
    select * from cost_only_lines

),

final as (

    select
        cast(spend.usage_date as date) as usage_date,
        cast(spend.provider as varchar) as provider,
        cast(spend.model as varchar) as model,
        cast(spend.project_id as varchar) as project_id,
        cast(spend.integration_id as varchar) as integration_id,
        cast(spend.authoritative_source as varchar) as authoritative_source,
        cast(spend.spend_basis as varchar) as spend_basis,
        cast(all_lines.service_tier as varchar) as service_tier,
        cast(all_lines.context_tier as integer) as context_tier,
        cast(all_lines.token_bucket as varchar) as token_bucket,
        cast(all_lines.tokens as bigint) as tokens,
        cast(all_lines.unit_price as decimal(18, 9)) as unit_price_per_mtok,
        cast(all_lines.list_unit_price as decimal(18, 9)) as list_unit_price_per_mtok,
        cast(all_lines.contracted_cost as decimal(38, 15)) as contracted_cost_usd,
        cast(all_lines.list_cost as decimal(38, 15)) as list_cost_usd,
        {{ from_micro('all_lines.billed_micro') }} as billed_cost_usd,
        cast(all_lines.price_source as varchar) as price_source,
        cast(all_lines.price_version as varchar) as price_version

    from all_lines
    inner join spend on all_lines.spend_row = spend.spend_row

)

select * from final
