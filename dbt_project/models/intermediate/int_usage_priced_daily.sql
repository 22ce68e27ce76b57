{#-
  int_usage_priced summed per day, kept up to date a day at a time: the table every model that
  needs priced usage reads, so a build prices only the days whose usage or prices changed.
  Grain: one row per usage_date x source x provider x model x service_tier x is_long_context x
  project_id x api_key_id x user_id x integration_id x applied price (is_priced, unpriced_reason,
  price_source, price_version, price_basis, context tier, catalogue model and version, rates) x
  has_billed_cost x has_list_cost x has_tokens x has_requests (NULL keys group together);
  record_count = the int_usage_priced records it sums.

  The four flags make every row's records alike in what consumers test record by record, so a
  per-record expression gives the same answer on the row as on each of its records
  (billed_cost_usd is null, coalesce(billed_cost_usd, list_cost_usd), has_tokens): sum() skips
  NULLs, and a row sums either only NULLs or none. count(*) over records is sum(record_count).

  Incremental (strategy replace_days, macros/incremental_days.sql). Each row carries
    _day_fingerprint     its day's records as a set: their count and the sum of a hash of each
                         record's source file (or API pull) and billed cost. Raw rows are replaced
                         by key on load, so an added, replaced or removed row changes it; the billed
                         cost is in it because provider cost lines are shared out over usage records
                         that came in earlier.
    _prices_fingerprint  every int_price_list row of its provider and model (a prices.yaml edit or
                         a new catalogue re-prices exactly the models it touches).
    _logic_fingerprint   the code of this model and everything upstream (a new meterr version).
  A build recomputes the days whose day fingerprint is new or differs, whose rows' price
  fingerprint differs, or every day when the logic fingerprint differs; it deletes days that no
  longer have usage. The first build and --full-refresh compute every day.
-#}
{{ config(
    materialized='incremental',
    incremental_strategy='replace_days',
    on_schema_change='sync_all_columns',
) }}

{%- set logic_fingerprint = upstream_logic_fingerprint() -%}

{%- set day_fingerprint -%}
    hash(count(*), sum(hash(_file_sha256, billed_cost_usd)))
{%- endset -%}

{%- set model_price_fingerprints -%}
    select provider, model, hash(count(*), sum(hash(price_list))) as fingerprint
    from {{ ref('int_price_list') }} as price_list
    group by provider, model
{%- endset -%}

{#- Every day (none) on a first build; else only the days that changed. -#}
{%- set days_filter = none -%}
{%- set gone_days = [] -%}

{%- if execute and is_incremental() -%}

    {#-
      Which days changed, asked before the build: the answer becomes literal dates in the SQL
      below, which DuckDB pushes down into the raw scans. This scan reads three columns of usage.
    -#}
    {%- set changed_days_sql -%}
        with

        current_days as (
            select usage_date, {{ day_fingerprint }} as day_fingerprint
            from {{ ref('int_usage_normalized') }}
            group by usage_date
        ),

        stored_days as (
            select
                usage_date,
                any_value(_day_fingerprint) as day_fingerprint,
                bool_or(_logic_fingerprint is distinct from '{{ logic_fingerprint }}')
                    as logic_changed
            from {{ this }}
            group by usage_date
        ),

        price_fingerprints as (
            {{ model_price_fingerprints }}
        ),

        repriced_days as (
            select distinct stored.usage_date
            from {{ this }} as stored
            left join price_fingerprints
                on stored.provider is not distinct from price_fingerprints.provider
                and stored.model is not distinct from price_fingerprints.model
            where stored._prices_fingerprint
                is distinct from coalesce(price_fingerprints.fingerprint, cast(0 as ubigint))
        ),

        logic as (
            select coalesce(bool_or(logic_changed), false) as changed from stored_days
        )

        select
            coalesce(current_days.usage_date, stored_days.usage_date) as usage_date,
            current_days.usage_date is null as is_gone,
            (select changed from logic) as rebuild_all
        from current_days
        full join stored_days
            on current_days.usage_date is not distinct from stored_days.usage_date
        where current_days.day_fingerprint is distinct from stored_days.day_fingerprint
            or current_days.usage_date in (select usage_date from repriced_days)
            or (select changed from logic)
    {%- endset -%}

    {%- set changed = run_query(changed_days_sql).rows -%}
    {%- set rebuild_days = [] -%}
    {%- for row in changed -%}
        {%- if row['is_gone'] -%}
            {%- do gone_days.append(row['usage_date']) -%}
        {%- else -%}
            {%- do rebuild_days.append(row['usage_date']) -%}
        {%- endif -%}
    {%- endfor -%}
    {#- rebuild_all is the same on every row; no rows: nothing changed, nothing to price. -#}
    {%- if not (changed and changed[0]['rebuild_all']) -%}
        {%- set days_filter = usage_days_condition(rebuild_days) -%}
    {%- endif -%}

{%- endif %}

with

price_fingerprints as (

    {{ model_price_fingerprints }}

),

-- Records priced alike are summed before pricing (macros/usage_priced.sql, grouped).
usage_priced as (

    {{ usage_priced_sql(days_filter, grouped=true) }}

),

-- The day fingerprint of the records those rows sum: the same value as computed over the
-- records themselves (changed_days_sql above).
day_fingerprints as (

    select
        usage_date,
        hash(cast(sum(record_count) as bigint), cast(sum(_file_cost_hash) as hugeint))
            as day_fingerprint
    from usage_priced
    group by usage_date

),

daily as (

    select
        {{ usage_grain_columns() | join(',\n        ') }},
        is_priced,
        unpriced_reason,
        price_source,
        price_version,
        price_basis,
        context_tier,
        context_tier_basis,
        catalogue_model_id,
        catalogue_version,
        has_tiered_prices,
        has_time_of_day_prices,
        input_per_mtok,
        cached_input_per_mtok,
        cache_write_per_mtok,
        cache_write_1h_per_mtok,
        output_per_mtok,
        catalogue_input_per_mtok,
        catalogue_cached_input_per_mtok,
        catalogue_cache_write_per_mtok,
        catalogue_cache_write_1h_per_mtok,
        catalogue_output_per_mtok,
        billed_cost_usd is not null as has_billed_cost,
        list_cost_usd is not null as has_list_cost,
        input_tokens + cached_input_tokens + cache_write_tokens + output_tokens > 0 as has_tokens,
        request_count > 0 as has_requests,
        cast(sum(record_count) as bigint) as record_count,
        cast(sum(request_count) as bigint) as request_count,
        cast(sum(input_tokens) as bigint) as input_tokens,
        cast(sum(cached_input_tokens) as bigint) as cached_input_tokens,
        cast(sum(cache_write_tokens) as bigint) as cache_write_tokens,
        cast(sum(cache_write_1h_tokens) as bigint) as cache_write_1h_tokens,
        cast(sum(output_tokens) as bigint) as output_tokens,
        -- Same types as int_usage_priced; a decimal sum is exact, so summing these again gives
        -- what summing the records gives.
        cast(sum(billed_cost_usd) as decimal(38, 12)) as billed_cost_usd,
        cast(sum(list_cost_usd) as decimal(38, 15)) as list_cost_usd,
        cast(sum(input_cost_usd) as decimal(38, 15)) as input_cost_usd,
        cast(sum(cached_input_cost_usd) as decimal(38, 15)) as cached_input_cost_usd,
        cast(sum(cache_write_cost_usd) as decimal(38, 15)) as cache_write_cost_usd,
        cast(sum(cache_write_1h_cost_usd) as decimal(38, 15)) as cache_write_1h_cost_usd,
        cast(sum(output_cost_usd) as decimal(38, 15)) as output_cost_usd,
        cast(sum(catalogue_list_cost_usd) as decimal(38, 15)) as catalogue_list_cost_usd

    from usage_priced
    group by all

),

final as (

    select
        daily.*,
        day_fingerprints.day_fingerprint as _day_fingerprint,
        coalesce(price_fingerprints.fingerprint, cast(0 as ubigint)) as _prices_fingerprint,
        cast('{{ logic_fingerprint }}' as varchar) as _logic_fingerprint,
        cast('{{ invocation_id }}' as varchar) as _built_by

    from daily
    left join day_fingerprints
        on daily.usage_date is not distinct from day_fingerprints.usage_date
    left join price_fingerprints
        on daily.provider is not distinct from price_fingerprints.provider
        and daily.model is not distinct from price_fingerprints.model

)

select * from final
{%- for day in gone_days %}
-- {{ day }} no longer has usage: a marker row, so replace_days deletes the day.
union all by name
select {{ "date '" ~ day ~ "'" if day is not none else 'cast(null as date)' }} as usage_date
{%- endfor %}
