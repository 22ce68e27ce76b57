{#-
  Detected anomalies in daily AI spend and usage, each with a plain-text explanation.
  Grain: one row per incident, reported as usage_date x scope x scope_value x metric (anomaly_id
  is a hash of the four, so an anomaly keeps its id across rebuilds). Statistical rises in spend
  ('cost_usd') and tokens ('total_tokens') come from int_insights_anomaly_incidents: one row per
  real change, on the most specific scope that explains it (a key's spike is not repeated for its
  user, project, model and provider, nor for its tokens; the explanation names them). New models
  and API keys ('new_spend_usd') and silent API keys ('missing_spend_usd') come from
  int_insights_anomalies_lifecycle. Columns and types are the contract's (enforced).
-#}

with

incidents as (

    select * from {{ ref('int_insights_anomaly_incidents') }}

),

lifecycle as (

    select * from {{ ref('int_insights_anomalies_lifecycle') }}

),

unioned as (

    select
        usage_date,
        scope,
        scope_value,
        metric,
        observed,
        expected,
        score,
        severity,
        explanation
    from incidents
    union all
    select
        usage_date, scope, scope_value, metric, observed, expected, score, severity, explanation
    from lifecycle

),

final as (

    select
        cast(
            md5(concat_ws('|', strftime(usage_date, '%Y-%m-%d'), scope, scope_value, metric))
            as varchar
        ) as anomaly_id,
        cast(usage_date as date) as usage_date,
        cast(scope as varchar) as scope,
        cast(scope_value as varchar) as scope_value,
        cast(metric as varchar) as metric,
        cast(observed as double) as observed,
        cast(expected as double) as expected,
        cast(score as double) as score,
        cast(severity as varchar) as severity,
        cast(explanation as varchar) as explanation

    from unioned

)

select * from final
