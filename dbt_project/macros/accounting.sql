{#- Helpers for the accounting models (models/*/accounting): source precedence, optional columns,
    exact allocation. See dbt_project/README.md, "How meterr computes cost". -#}

{#-
  Lower-case names of a relation's columns at run time ([] while parsing). Used to pick up optional
  usage columns (service_tier, cache_write_1h_tokens, is_long_context) once staging provides them,
  without breaking the build before it does.
-#}
{% macro relation_column_names(relation) -%}
    {%- if not execute -%}
        {{ return([]) }}
    {%- endif -%}
    {%- set found = adapter.get_relation(
        database=relation.database, schema=relation.schema, identifier=relation.identifier
    ) -%}
    {%- if found is none -%}
        {{ return([]) }}
    {%- endif -%}
    {%- set names = [] -%}
    {%- for column in adapter.get_columns_in_relation(found) -%}
        {%- do names.append(column.name | lower) -%}
    {%- endfor -%}
    {{ return(names) }}
{%- endmacro %}

{#- The column if the relation has it, else the default SQL expression. -#}
{% macro optional_column(columns, name, default_sql) -%}
    {%- if name in columns -%}{{ name }}{%- else -%}{{ default_sql }}{%- endif -%}
{%- endmacro %}

{#-
  Which kind of evidence a source is (the precedence in README "How meterr computes cost"):
  provider_api > console_export > request_log. custom and webhook are request logs too; they rank
  above observability tools only when they carry a billed cost (see source_rank).
-#}
{% macro source_class(source) -%}
    case
        when {{ source }} in ('openai_api', 'anthropic_api') then 'provider_api'
        when {{ source }} in ('openai_export', 'anthropic_export') then 'console_export'
        else 'request_log'
    end
{%- endmacro %}

{#-
  Rank of a source for one day and provider (1 = most authoritative):
    1 provider APIs (cost endpoint where it reports cost, else usage x price)
    2 console exports (cost export where present, else usage export x price)
    3 custom / webhook rows that carry a billed cost
    4 observability logs (helicone, langfuse, litellm), custom / webhook without billed cost
  has_billed: a boolean expression, true when the source reports any cost that day.
-#}
{% macro source_rank(source, has_billed) -%}
    case
        when {{ source }} in ('openai_api', 'anthropic_api') then 1
        when {{ source }} in ('openai_export', 'anthropic_export') then 2
        when {{ source }} in ('custom', 'webhook') and {{ has_billed }} then 3
        else 4
    end
{%- endmacro %}

{#- Deterministic tie-break between sources of one rank (never sum them: they see the same
    traffic). -#}
{% macro source_tiebreak(source) -%}
    case {{ source }}
        when 'openai_api' then 1
        when 'anthropic_api' then 2
        when 'openai_export' then 3
        when 'anthropic_export' then 4
        when 'custom' then 5
        when 'webhook' then 6
        when 'helicone' then 7
        when 'langfuse' then 8
        when 'litellm' then 9
        else 10
    end
{%- endmacro %}

{#-
  Largest-remainder allocation, exact in integer units: splits `total` (HUGEINT, the same on every
  row of a partition) over the partition's rows in proportion to `weight` (HUGEINT >= 0). Every row
  gets the floor of its exact share; the leftover units go one each to the rows with the largest
  remainders (ties broken by `order_by`), so the shares add up to the total exactly. A partition
  whose weights are all 0 is split evenly. Emits CTEs <name>__w ... and <name> (the input's columns
  plus allocated_units); call it inside a WITH list, after the CTE `input`.
-#}
{% macro largest_remainder(name, input, partition_by, weight, total, order_by) -%}
{{ name }}__w as (

    select
        *,
        case
            when sum({{ weight }}) over (partition by {{ partition_by }}) > 0
                then cast({{ weight }} as hugeint)
            else cast(1 as hugeint)
        end as _lr_weight

    from {{ input }}

),

{{ name }}__s as (

    select
        *,
        cast({{ total }} as hugeint) * _lr_weight as _lr_numerator,
        sum(_lr_weight) over (partition by {{ partition_by }}) as _lr_denominator

    from {{ name }}__w

),

{{ name }}__f as (

    select
        *,
        _lr_numerator // _lr_denominator as _lr_floor,
        _lr_numerator % _lr_denominator as _lr_remainder

    from {{ name }}__s

),

{{ name }}__r as (

    select
        *,
        cast({{ total }} as hugeint) - sum(_lr_floor) over (partition by {{ partition_by }})
            as _lr_leftover,
        row_number() over (
            partition by {{ partition_by }} order by _lr_remainder desc, {{ order_by }}
        ) as _lr_rank

    from {{ name }}__f

),

{{ name }} as (

    select
        * exclude (
            _lr_weight, _lr_numerator, _lr_denominator, _lr_floor, _lr_remainder, _lr_leftover,
            _lr_rank
        ),
        _lr_floor + case when _lr_rank <= _lr_leftover then 1 else 0 end as allocated_units

    from {{ name }}__r

)
{%- endmacro %}

{#- A USD amount as whole micro-dollars (HUGEINT), for exact allocation. -#}
{% macro to_micro(amount) -%}
    cast(round({{ amount }} * 1000000) as hugeint)
{%- endmacro %}

{#- Whole micro-dollars back to DECIMAL(18,6) USD. -#}
{% macro from_micro(units) -%}
    cast(cast({{ units }} as decimal(38, 0)) * 0.000001 as decimal(18, 6))
{%- endmacro %}
