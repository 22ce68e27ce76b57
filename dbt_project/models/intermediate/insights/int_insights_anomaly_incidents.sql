{#-
  Flagged rises grouped into incidents, so that one real change is reported once.
  Grain: one row per incident, shown as its lead row of int_insights_anomalies_statistical
  (usage_date x scope x scope_value x metric; anomaly_id = md5 of the four, as in
  marts.anomalies). folded_anomaly_ids lists the flagged rows folded into it (same hash).

  Why: a spike on one API key also raises its user, its project, its model and its provider, and
  its tokens with its spend. Each of those series is scored on its own, so one spike used to be
  ten rows a day (five scopes x two metrics).

  Rule, per usage_date:
  1. Same metric, wider scope. A flagged row N explains a flagged row W of a wider scope when N's
     rise (observed - expected), counted only on N's usage inside W (N's rise x N's usage inside
     W / N's usage that day, from int_insights_usage_daily), is at least
     insights_incident_min_explained_share of W's rise. W then belongs to the incident of the most
     specific row that explains it (largest explained rise, then scope_value, break ties), which
     may itself belong to a narrower one: chains resolve to the narrowest. Specificity:
     API key > user > project > model > provider. An API key is the actionable handle (one job or
     integration, which can be fixed, rate-limited or rotated); a user is one person to ask; a
     project a team's budget; a model or provider is everything running on it.
     A wider rise not explained that way (many keys each rising a little, or a key that is only
     part of it) stays its own incident.
  2. Tokens into spend. A token incident joins the spend incident that contains its lead's scope
     value on that day (a key's token and spend rise are one change; spend is what it costs).
  3. The lead is the incident's narrowest spend row (its narrowest token row when no spend row is
     in it), so every folded row is the same or a wider scope. It keeps its own observed,
     expected and score (so its numbers stay consistent with each other). Severity is the highest of the incident's rows: a
     rise that is 6 sigma on a noisy key and 20 on the whole provider is a high-severity event.
     The explanation is the lead's, then the token change of the same scope value (when spend
     leads) and the wider scopes the change also moved, with their own rises, narrowest first:
     "... Tokens rose 11.5x to 23.6M (expected 2.0M). The same change also moved user bob
     (+$75.00), project proj-analytics (+$75.00), model gpt-4o (+$74.13) and provider openai
     (+$74.15)."
-#}

{%- set scope_columns = {
    'api_key': 'api_key_id',
    'user': 'user_id',
    'project': 'project_id',
    'model': 'model',
    'provider': 'provider',
} -%}
{#- Higher = more specific (see the header for the order). -#}
{%- set specificity = {'api_key': 5, 'user': 4, 'project': 3, 'model': 2, 'provider': 1} -%}
{%- set scope_pairs = [] -%}
{%- for narrow, narrow_rank in specificity.items() -%}
    {%- for wide, wide_rank in specificity.items() if wide_rank < narrow_rank -%}
        {%- do scope_pairs.append((narrow, wide)) -%}
    {%- endfor -%}
{%- endfor -%}

with

statistical as (

    select * from {{ ref('int_insights_anomalies_statistical') }}

),

usage_daily as (

    select * from {{ ref('int_insights_usage_daily') }}

),

flagged as (

    select
        cast(
            md5(concat_ws('|', strftime(usage_date, '%Y-%m-%d'), scope, scope_value, metric))
            as varchar
        ) as anomaly_id,
        usage_date,
        scope,
        scope_value,
        metric,
        observed,
        expected,
        score,
        severity,
        explanation,
        observed - expected as rise,
        case scope
            {%- for scope, rank in specificity.items() %}
            when '{{ scope }}' then {{ rank }}
            {%- endfor %}
        end as specificity,
        case severity when 'high' then 3 when 'medium' then 2 else 1 end as severity_rank

    from statistical

),

flagged_scope_values as (

    select distinct usage_date, scope, scope_value from flagged

),

-- The usage of flagged days (the spend and tokens each usage row counts in every scope).
usage_rows as (

    select
        usage_daily.*,
        cast(usage_daily.cost_usd as double) as row_cost_usd,
        cast(
            usage_daily.input_tokens + usage_daily.cached_input_tokens
            + usage_daily.cache_write_tokens + usage_daily.output_tokens
            as double
        ) as row_tokens

    from usage_daily
    where usage_daily.usage_date in (select usage_date from flagged_scope_values)

),

-- Every (narrower, wider) pair of scopes.
scope_pairs as (

    select * from (values
        {%- for narrow, wide in scope_pairs %}
        ('{{ narrow }}', '{{ wide }}'){% if not loop.last %},{% endif %}
        {%- endfor %}
    ) as pairs(narrow_scope, wide_scope)

),

-- How much of a narrower scope value's usage lay inside a wider one that day.
scope_overlaps as (

    select
        usage_rows.usage_date,
        scope_pairs.narrow_scope,
        case scope_pairs.narrow_scope
            {%- for scope, column in scope_columns.items() %}
            when '{{ scope }}' then usage_rows.{{ column }}
            {%- endfor %}
        end as narrow_value,
        scope_pairs.wide_scope,
        case scope_pairs.wide_scope
            {%- for scope, column in scope_columns.items() %}
            when '{{ scope }}' then usage_rows.{{ column }}
            {%- endfor %}
        end as wide_value,
        sum(usage_rows.row_cost_usd) as overlap_cost_usd,
        sum(usage_rows.row_tokens) as overlap_tokens

    from usage_rows
    cross join scope_pairs
    group by all

),

-- Every (narrower, wider) pair of flagged rows of one day and metric where the narrower explains
-- the wider.
explains as (

    select
        wide.anomaly_id as wide_id,
        narrow.anomaly_id as narrow_id,
        narrow.specificity as narrow_specificity,
        narrow.scope_value as narrow_value,
        narrow.rise * least(
            case narrow.metric
                when 'cost_usd' then scope_overlaps.overlap_cost_usd
                else scope_overlaps.overlap_tokens
            end / nullif(narrow.observed, 0),
            1
        ) as explained_rise,
        wide.rise as wide_rise

    from flagged as wide
    inner join flagged as narrow
        on wide.usage_date = narrow.usage_date
        and wide.metric = narrow.metric
        and narrow.specificity > wide.specificity
    inner join scope_overlaps
        on narrow.usage_date = scope_overlaps.usage_date
        and narrow.scope = scope_overlaps.narrow_scope
        and narrow.scope_value = scope_overlaps.narrow_value
        and wide.scope = scope_overlaps.wide_scope
        and wide.scope_value = scope_overlaps.wide_value

),

-- Each explained row's parent: the most specific row that explains it.
parents as (

    select wide_id, narrow_id, explained_rise / wide_rise as explained_share
    from explains
    where explained_rise
        >= {{ insights_number('insights_incident_min_explained_share') }} * wide_rise
    qualify row_number() over (
        partition by wide_id
        order by narrow_specificity desc, explained_rise desc, narrow_value
    ) = 1

),

-- Chains resolved to their narrowest row: specificity rises along every step, so five scopes
-- make at most four steps.
metric_incidents as (

    select
        flagged.anomaly_id,
        coalesce(
            step_4.narrow_id, step_3.narrow_id, step_2.narrow_id, step_1.narrow_id,
            flagged.anomaly_id
        ) as metric_lead_id

    from flagged
    left join parents as step_1 on flagged.anomaly_id = step_1.wide_id
    left join parents as step_2 on step_1.narrow_id = step_2.wide_id
    left join parents as step_3 on step_2.narrow_id = step_3.wide_id
    left join parents as step_4 on step_3.narrow_id = step_4.wide_id

),

-- The spend incident each (day, scope value) belongs to, if its spend was flagged.
spend_membership as (

    select flagged.usage_date, flagged.scope, flagged.scope_value, metric_incidents.metric_lead_id
    from flagged
    inner join metric_incidents
        on flagged.anomaly_id = metric_incidents.anomaly_id
    where flagged.metric = 'cost_usd'

),

-- A token incident joins the spend incident of its lead's scope value.
token_into_spend as (

    select
        token_lead.anomaly_id as token_lead_id,
        spend_membership.metric_lead_id as spend_lead_id

    from flagged as token_lead
    inner join spend_membership
        on token_lead.usage_date = spend_membership.usage_date
        and token_lead.scope = spend_membership.scope
        and token_lead.scope_value = spend_membership.scope_value
    where token_lead.metric = 'total_tokens'
        and token_lead.anomaly_id in (select metric_lead_id from metric_incidents)

),

membership as (

    select
        flagged.*,
        parents.narrow_id as parent_anomaly_id,
        parents.explained_share,
        coalesce(token_into_spend.spend_lead_id, metric_incidents.metric_lead_id)
            as incident_id

    from flagged
    inner join metric_incidents
        on flagged.anomaly_id = metric_incidents.anomaly_id
    left join parents
        on flagged.anomaly_id = parents.wide_id
    left join token_into_spend
        on metric_incidents.metric_lead_id = token_into_spend.token_lead_id

),

leads as (

    select * from membership where anomaly_id = incident_id

),

incident_summary as (

    select
        incident_id,
        max(severity_rank) as severity_rank,
        count(*) as incident_rows,
        list(anomaly_id order by specificity desc, scope, scope_value, metric)
            filter (where anomaly_id <> incident_id) as folded_anomaly_ids,
        min(explained_share) as min_explained_share

    from membership
    group by incident_id

),

-- The token rise of the lead's own scope value, when spend leads.
lead_tokens as (

    select
        leads.incident_id,
        'Tokens ' || {{ insights_fmt_rise('tokens.observed', 'tokens.expected') }}
            || ' to ' || {{ insights_fmt_tokens('tokens.observed') }}
            || ' (expected ' || {{ insights_fmt_tokens('tokens.expected') }} || ').'
            as token_sentence

    from leads
    inner join membership as tokens
        on leads.incident_id = tokens.incident_id
        and leads.scope = tokens.scope
        and leads.scope_value = tokens.scope_value
        and tokens.metric = 'total_tokens'
    where leads.metric = 'cost_usd'

),

-- The other scope values the incident moved, each with its spend rise (else its token rise).
wider_scopes as (

    select
        membership.incident_id,
        membership.scope,
        membership.scope_value,
        max(membership.specificity) as specificity,
        {{ insights_scope_label('membership.scope') }} || ' ' || membership.scope_value || ' ('
            || coalesce(
                {{ insights_fmt_signed_usd(
                    "max(membership.rise) filter (where membership.metric = 'cost_usd')"
                ) }},
                '+' || {{ insights_fmt_tokens(
                    "max(membership.rise) filter (where membership.metric = 'total_tokens')"
                ) }} || ' tokens'
            ) || ')' as phrase

    from membership
    inner join leads
        on membership.incident_id = leads.incident_id
    where not (membership.scope = leads.scope and membership.scope_value = leads.scope_value)
    group by membership.incident_id, membership.scope, membership.scope_value

),

wider_lists as (

    select
        incident_id,
        list(phrase order by specificity desc, scope, scope_value) as phrases

    from wider_scopes
    group by incident_id

),

wider_sentences as (

    select
        incident_id,
        'The same change also moved '
            || case
                when len(phrases) = 1 then phrases[1]
                else array_to_string(list_slice(phrases, 1, len(phrases) - 1), ', ')
                    || ' and ' || phrases[len(phrases)]
            end
            || '.' as wider_sentence

    from wider_lists

),

final as (

    select
        leads.anomaly_id,
        cast(leads.usage_date as date) as usage_date,
        cast(leads.scope as varchar) as scope,
        cast(leads.scope_value as varchar) as scope_value,
        cast(leads.metric as varchar) as metric,
        cast(leads.observed as double) as observed,
        cast(leads.expected as double) as expected,
        cast(leads.score as double) as score,
        cast(
            case incident_summary.severity_rank
                when 3 then 'high'
                when 2 then 'medium'
                else 'low'
            end as varchar
        ) as severity,
        cast(
            concat_ws(
                ' ',
                leads.explanation,
                lead_tokens.token_sentence,
                wider_sentences.wider_sentence
            ) as varchar
        ) as explanation,
        cast(leads.severity as varchar) as lead_severity,
        cast(incident_summary.incident_rows as bigint) as incident_rows,
        coalesce(incident_summary.folded_anomaly_ids, []) as folded_anomaly_ids,
        cast(incident_summary.min_explained_share as double) as min_explained_share

    from leads
    inner join incident_summary
        on leads.incident_id = incident_summary.incident_id
    left join lead_tokens
        on leads.incident_id = lead_tokens.incident_id
    left join wider_sentences
        on leads.incident_id = wider_sentences.incident_id

)

select * from final
