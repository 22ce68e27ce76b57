{#-
  The rows of an *_usage_billed model (int_openai_api__, int_anthropic_api__, int_openai_export__,
  int_anthropic_export__usage_billed), in their one column list, after api_cost_allocation:

    usage_rows      every usage row with its share of the billed cost (billing_basis 'allocated',
                    or 'no_cost_line' with billed_cost_usd NULL when no cost line covers it)
    cost_only_rows  every cost line no usage row took, as a row of its own with zero tokens
                    (billing_basis 'cost_only')
    final           both, each column cast to its type

  Call inside a WITH list right after api_cost_allocation (it reads the CTEs usage, usage_billed
  and cost_unmatched), then `select * from final`.

  usage / cost_only: SQL for the columns whose value differs from the default, by column name.
  Defaults: a usage row's columns are usage.<column>; a cost-only row's dimensions are the cost
  line's <column>, its counts 0, service_tier 'standard', is_long_context NULL; integration_id and
  request_id are NULL on both sides. with_row_key adds row_key (the usage_key or cost_key).
-#}
{% macro billed_usage_rows(usage={}, cost_only={}, with_row_key=false) -%}
{%- set counts = [
    'request_count', 'input_tokens', 'cached_input_tokens', 'cache_write_tokens',
    'cache_write_1h_tokens', 'output_tokens',
] -%}
{%- set columns = [
    ('usage_ts', 'timestamp'), ('usage_date', 'date'), ('source', 'varchar'),
    ('provider', 'varchar'), ('model', 'varchar'), ('project_id', 'varchar'),
    ('api_key_id', 'varchar'), ('user_id', 'varchar'), ('integration_id', 'varchar'),
    ('request_id', 'varchar'),
] -%}
{%- for name in counts -%}
    {%- do columns.append((name, 'bigint')) -%}
{%- endfor -%}
{%- do columns.extend([
    ('service_tier', 'varchar'), ('is_long_context', 'boolean'),
    ('billed_cost_usd', 'decimal(38, 12)'), ('billing_basis', 'varchar'),
    ('match_level', 'varchar'), ('cost_line_count', 'bigint'),
]) -%}
{%- if with_row_key -%}
    {%- do columns.append(('row_key', 'varchar')) -%}
{%- endif -%}
{%- do columns.append(('_file_sha256', 'varchar')) -%}
{%- set usage_sql = {
    'integration_id': 'null',
    'request_id': 'null',
    'billed_cost_usd': from_micro('usage_billed.billed_micro'),
    'billing_basis':
        "case when usage_billed.usage_key is null then 'no_cost_line' else 'allocated' end",
    'match_level': 'usage_billed.match_level',
    'cost_line_count': 'coalesce(usage_billed.cost_line_count, 0)',
    'row_key': 'usage.usage_key',
} -%}
{%- do usage_sql.update(usage) -%}
{%- set cost_sql = {
    'integration_id': 'null',
    'request_id': 'null',
    'service_tier': "'standard'",
    'is_long_context': 'null',
    'billed_cost_usd': from_micro('billed_micro'),
    'billing_basis': "'cost_only'",
    'match_level': 'null',
    'cost_line_count': '1',
    'row_key': 'cost_key',
} -%}
{%- for name in counts -%}
    {%- do cost_sql.update({name: '0'}) -%}
{%- endfor -%}
{%- do cost_sql.update(cost_only) -%}
usage_rows as (

    select
    {%- for name, type in columns %}
        cast({{ usage_sql.get(name, 'usage.' ~ name) }} as {{ type }}) as {{ name }}
        {{- ',' if not loop.last }}
    {%- endfor %}

    from usage
    left join usage_billed on usage.usage_key = usage_billed.usage_key

),

cost_only_rows as (

    select
    {%- for name, type in columns %}
        cast({{ cost_sql.get(name, name) }} as {{ type }}) as {{ name }}
        {{- ',' if not loop.last }}
    {%- endfor %}

    from cost_unmatched

),

final as (

    select * from usage_rows
    union all
    select * from cost_only_rows

)
{%- endmacro %}
