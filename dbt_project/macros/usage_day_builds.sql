{#-
  Models kept up to date a usage day at a time downstream of int_usage_priced_daily (incremental
  strategy 'replace_usage_days'). Such a model's rows for a usage day depend only on that day's
  rows of int_usage_priced_daily, so a build recomputes just the days int_usage_priced_daily has
  rewritten since the model last read them, instead of the whole history.

  int_usage_priced_daily writes each day whole, in one build, and stamps its rows with that
  build's invocation id (_built_by), so "rewritten" is exact. What each model last read is kept
  in intermediate._usage_day_builds (one row per model and day: the day's _built_by, and the
  model's upstream logic fingerprint), written by the model's post-hook in the transaction that
  writes its rows. A day is recomputed when its _built_by differs from the one recorded, when it
  is new, or when it is gone (its rows are then deleted); every day is, when the code upstream of
  the model changed (another meterr version) or nothing is recorded for the model yet.

  A model using this starts with {{ usage_day_at_a_time() }} (its config; contracted=true for a
  contracted mart), declares -- depends_on: {{ ref('int_usage_priced_daily') }} unless it reads
  it anyway, and keeps each read of a per-day input to the days to recompute with
  usage_days_filter().
-#}

{% macro usage_day_builds_table() -%}
    "{{ target.database }}"."intermediate"."_usage_day_builds"
{%- endmacro %}

{#- Pre-hook: the bookkeeping table exists before the model's SQL reads it. -#}
{% macro ensure_usage_day_builds() -%}
    create table if not exists {{ usage_day_builds_table() }} (
        model varchar,
        usage_date date,
        usage_build varchar,
        logic_fingerprint varchar
    )
{%- endmacro %}

{#- SQL: true when every day must be recomputed (see the top of this file). -#}
{% macro usage_days_rebuild_all() -%}
    (
        select count(*) = 0 or bool_or(
            logic_fingerprint is distinct from '{{ upstream_logic_fingerprint() }}'
        )
        from {{ usage_day_builds_table() }}
        where model = '{{ this.identifier }}'
    )
{%- endmacro %}

{#- SQL: the usage days (changed_day; NULL is a day too) whose int_usage_priced_daily rows changed
    since the model last read them: new, rewritten or gone. (Not named usage_date, so that an
    unqualified usage_date compared with it can only be the outer query's.) -#}
{% macro usage_days_changed() -%}
    (
        select coalesce(current_days.usage_date, recorded.usage_date) as changed_day
        from (
            select usage_date, max(_built_by) as usage_build
            from {{ ref('int_usage_priced_daily') }}
            group by usage_date
        ) as current_days
        full join (
            select usage_date, usage_build
            from {{ usage_day_builds_table() }}
            where model = '{{ this.identifier }}'
        ) as recorded
            on current_days.usage_date is not distinct from recorded.usage_date
        where current_days.usage_build is distinct from recorded.usage_build
    )
{%- endmacro %}

{#- A condition on ``column`` (a usage date) keeping the days a build recomputes: all of them on a
    first build or --full-refresh, else the changed ones (all when usage_days_rebuild_all). The
    days are asked before the model's SQL runs and written into it as literal dates: DuckDB pushes
    those down through the views read (a per-row subquery made each build read every day of them,
    0.1 s after 5 million requests against 0.02 s on an empty warehouse). -#}
{% macro usage_days_filter(column) -%}
    {#- The bookkeeping table is made by the pre-hook, which runs after this is asked: before a
        model's first build by this meterr version nothing is recorded, which means every day. -#}
    {%- set recorded = adapter.get_relation(
        database=target.database, schema='intermediate', identifier='_usage_day_builds'
    ) if execute else none -%}
    {%- if not is_incremental() or recorded is none -%}
        true
    {%- else -%}
        {%- set rebuild_all = run_query('select ' ~ usage_days_rebuild_all() ~ ' as rebuild_all') -%}
        {%- if rebuild_all.rows[0]['rebuild_all'] -%}
            true
        {%- else -%}
            {%- set changed = run_query('select changed_day from ' ~ usage_days_changed()) -%}
            {{- usage_days_condition(changed.rows | map(attribute='changed_day') | list, column) -}}
        {%- endif -%}
    {%- endif -%}
{%- endmacro %}

{#-
  Incremental strategy 'replace_usage_days': delete the days the build recomputed (all of them when
  usage_days_rebuild_all), then insert the new rows. Asked again here rather than taken from the
  new rows, so a recomputed day that now has no rows (gone, or filtered out) is deleted too; the
  answer is the one the model's SQL got, as the bookkeeping changes only after this (post-hook).
-#}
{% macro get_incremental_replace_usage_days_sql(arg_dict) %}
    {%- set target = arg_dict['target_relation'] -%}
    {%- set new_rows = arg_dict['temp_relation'] -%}
    {%- set columns = get_quoted_csv(arg_dict['dest_columns'] | map(attribute='name')) -%}

    delete from {{ target }}
    where {{ usage_days_rebuild_all() }}
        or exists (
            select 1 from {{ usage_days_changed() }} as changed_days
            where changed_days.changed_day is not distinct from {{ target }}.usage_date
        );

    insert into {{ target }} ({{ columns }})
    select {{ columns }}
    from {{ new_rows }}
{% endmacro %}

{#- Post-hook: record the int_usage_priced_daily days the model's rows now reflect. -#}
{% macro record_usage_day_builds() -%}
    delete from {{ usage_day_builds_table() }} where model = '{{ this.identifier }}';

    insert into {{ usage_day_builds_table() }}
    select
        '{{ this.identifier }}',
        usage_date,
        max(_built_by),
        '{{ upstream_logic_fingerprint() }}'
    from {{ ref('int_usage_priced_daily') }}
    group by usage_date
{%- endmacro %}

{#- The config of a model kept a usage day at a time (called at the top of the model). Models
    with an enforced contract may only append columns. -#}
{% macro usage_day_at_a_time(contracted=false) -%}
    {{ config(
        materialized='incremental',
        incremental_strategy='replace_usage_days',
        on_schema_change='append_new_columns' if contracted else 'sync_all_columns',
        pre_hook="{{ ensure_usage_day_builds() }}",
        post_hook="{{ record_usage_day_builds() }}",
    ) }}
{%- endmacro %}
