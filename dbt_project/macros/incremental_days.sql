{#-
  Helpers for models that are rebuilt one usage day at a time (int_usage_priced_daily): a build
  recomputes the days whose inputs changed and leaves every other day's rows as they are.
-#}

{#-
  Incremental strategy 'replace_days' (config incremental_strategy='replace_days'). The model
  returns every row of each day it recomputed, plus one marker row per day that no longer has any
  usage (only usage_date set, record_count NULL). Every day named in the new rows is deleted from
  the table, then the real rows are inserted: a recomputed day is replaced whole, a gone day is
  just deleted. (delete+insert would insert the markers too.)
-#}
{% macro get_incremental_replace_days_sql(arg_dict) %}
    {%- set target = arg_dict['target_relation'] -%}
    {%- set new_rows = arg_dict['temp_relation'] -%}
    {%- set columns = get_quoted_csv(arg_dict['dest_columns'] | map(attribute='name')) -%}

    delete from {{ target }}
    where exists (
        select 1 from {{ new_rows }}
        where {{ new_rows }}.usage_date is not distinct from {{ target }}.usage_date
    );

    insert into {{ target }} ({{ columns }})
    select {{ columns }}
    from {{ new_rows }}
    where record_count is not null
{% endmacro %}

{#-
  A SQL condition keeping the given usage days (a list of dates; None = rows without a day) of
  ``column``, for usage_priced_sql(days_filter=...) and usage_days_filter(). Literal dates rather
  than a subquery, so DuckDB can push the condition down into table scans (and through the window
  functions of the views read, which partition by day).
-#}
{% macro usage_days_condition(days, column='usage_date') -%}
    {%- set dated = days | reject('none') | list -%}
    {%- set conditions = [] -%}
    {%- if dated -%}
        {%- set literals = [] -%}
        {%- for day in dated | sort -%}
            {%- do literals.append("date '" ~ day ~ "'") -%}
        {%- endfor -%}
        {%- do conditions.append(column ~ ' in (' ~ literals | join(', ') ~ ')') -%}
    {%- endif -%}
    {%- if dated | length < days | length -%}
        {%- do conditions.append(column ~ ' is null') -%}
    {%- endif -%}
    {{- '(' ~ (conditions | join(' or ') or 'false') ~ ')' -}}
{%- endmacro %}

{#-
  A fingerprint of the code that computes the current model's rows: the checksum of the model and
  of every model and seed upstream of it, and the source of every macro of this project they call
  (directly or through other macros). A new meterr version that changes staging, pricing or the
  model itself changes it; data and vars do not (they are fingerprinted by content: usage per day,
  int_price_list per model). '' while parsing.
-#}
{% macro upstream_logic_fingerprint() %}
    {%- if not execute -%}
        {{ return('') }}
    {%- endif -%}
    {#- (Unit tests see an empty graph: their fingerprint is just ''.) -#}
    {%- set graph_nodes = graph.get('nodes', {}) -%}
    {%- set parts = [] -%}
    {%- set node_ids = [model.unique_id] -%}
    {%- set macro_ids = [] -%}
    {#- Both lists grow while they are walked: a breadth-first walk of the dependencies. -#}
    {%- for node_id in node_ids -%}
        {%- set node = graph_nodes.get(node_id) -%}
        {%- if node is not none -%}
            {%- do parts.append(node_id ~ ' ' ~ node.checksum.checksum) -%}
            {#- A seed lists no parent nodes; sources are not in graph.nodes. -#}
            {%- for parent_id in node.depends_on.get('nodes', []) if parent_id not in node_ids -%}
                {%- do node_ids.append(parent_id) -%}
            {%- endfor -%}
            {%- for macro_id in node.depends_on.get('macros', []) if macro_id not in macro_ids -%}
                {%- do macro_ids.append(macro_id) -%}
            {%- endfor -%}
        {%- endif -%}
    {%- endfor -%}
    {#- dbt's own macros change only with dbt; this project's are part of meterr's logic. -#}
    {%- for macro_id in macro_ids if macro_id.split('.')[1] == project_name -%}
        {%- set macro = context[project_name][macro_id.split('.')[2]].macro -%}
        {%- do parts.append(macro_id ~ ' ' ~ local_md5(macro.macro_sql)) -%}
        {%- for called_id in macro.depends_on.macros if called_id not in macro_ids -%}
            {%- do macro_ids.append(called_id) -%}
        {%- endfor -%}
    {%- endfor -%}
    {{ return(local_md5(parts | sort | join('\n'))) }}
{% endmacro %}
