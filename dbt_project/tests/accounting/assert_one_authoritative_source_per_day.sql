{#- Exactly one source is authoritative for each usage_date and provider (never zero, never two
    sources added together). Returns the days and providers that break it. -#}
select
    usage_date,
    provider,
    count(distinct source) filter (where is_authoritative) as authoritative_sources

from {{ ref('int_spend_by_source') }}
group by usage_date, provider
having count(distinct source) filter (where is_authoritative) <> 1
