{#-
  Provider API cost lines shared out over provider API usage rows, exactly, in whole micro-dollars.
  Used by int_openai_api__usage_billed and int_anthropic_api__usage_billed; see
  dbt_project/README.md, "Provider APIs".

  Call inside a WITH list, after two CTEs:
    usage       one row per usage row: usage_key (unique), usage_date, integration_id, model,
                input_tokens, cached_input_tokens, cache_write_tokens, cache_write_1h_tokens,
                output_tokens, plus whatever strict_match / relaxed_match read
    cost_lines  one row per cost line with a USD amount: cost_key (unique), usage_date,
                integration_id, match_model (lower case, NULL = names no model), token_bucket
                (below), billed_cost_usd (not NULL), plus whatever the match conditions read
  strict_match / relaxed_match: SQL conditions over the aliases `usage` and `cost`; strict must
  imply relaxed. Both are applied on top of same day, same integration and model_match.
  loose_match (optional): a third, weaker level that relaxed must imply. Drop-folder exports use
  it for a dimension one of the two exports is not grouped by (an empty project covers every
  project), so the same spend is not counted once at list price and again as an unmatched line.
  model_match (optional, default same model: lower(usage.model) = cost.match_model): exports let
  a line whose export is not grouped by model (match_model NULL) cover every model.

  Emits the CTEs cost_micro (cost_lines + billed_micro), cost_candidates, cost_levels, cost_pairs,
  cost_alloc (+ the largest_remainder helper CTEs), usage_billed (usage_key, billed_micro,
  cost_line_count, match_level) and cost_unmatched (cost_micro rows no usage row took).

  1. Day: each cost line becomes whole micro-dollars, the floor or the ceiling of its exact amount,
     chosen by largest remainder so that a day's lines (per integration) add up to the day's total
     rounded to 6 decimals, exactly.
  2. Match: a line's usage rows are those of its day, integration and model that satisfy
     strict_match; if none of them has tokens in the line's bucket, those satisfying relaxed_match;
     then those satisfying loose_match; if still none, the line matches nothing (cost_unmatched).
     match_level says which level took the line: strict, relaxed or loose.
  3. Split: the line's micro-dollars go to its usage rows in proportion to their tokens in its
     bucket, by largest remainder (macros/accounting.sql), so they add up to the line exactly.

  token_bucket -> the tokens a line is shared by:
    input           all input: uncached + cache reads + cache writes (uncached input only when
                    the same day, integration and model also has a cache_read line)
    uncached_input  uncached input        cache_read      cache reads
    cache_write     all cache writes      cache_write_5m  cache writes - 1-hour writes
    cache_write_1h  1-hour cache writes   output          output
    total (or anything else)              every token of the row
-#}
{% macro api_cost_bucket_tokens(bucket, usage='usage') -%}
    case {{ bucket }}
        when 'input' then
            {{ usage }}.input_tokens + {{ usage }}.cached_input_tokens
            + {{ usage }}.cache_write_tokens
        when 'uncached_input' then {{ usage }}.input_tokens
        when 'cache_read' then {{ usage }}.cached_input_tokens
        when 'cache_write' then {{ usage }}.cache_write_tokens
        when 'cache_write_5m' then
            {{ usage }}.cache_write_tokens - {{ usage }}.cache_write_1h_tokens
        when 'cache_write_1h' then {{ usage }}.cache_write_1h_tokens
        when 'output' then {{ usage }}.output_tokens
        else
            {{ usage }}.input_tokens + {{ usage }}.cached_input_tokens
            + {{ usage }}.cache_write_tokens + {{ usage }}.output_tokens
    end
{%- endmacro %}

{% macro api_cost_allocation(strict_match, relaxed_match, loose_match=none, model_match=none) -%}
{%- set model_match = model_match or 'lower(usage.model) = cost.match_model' -%}
cost_lines_bucketed as (

    -- OpenAI bills cached input on its own line ('gpt-4o, cached input'): where a model has such
    -- a line that day, its 'input' line is the uncached input only, and is shared by it (else
    -- a key with many cache reads would take a share of the uncached input it did not use).
    select
        * replace (
            case
                when token_bucket = 'input'
                    and bool_or(token_bucket = 'cache_read') over (
                        partition by usage_date, integration_id, match_model
                    )
                    then 'uncached_input'
                else token_bucket
            end as token_bucket
        )

    from cost_lines

),

cost_day as (

    select
        *,
        cast(floor(billed_cost_usd * 1000000) as hugeint) as _floor_micro,
        billed_cost_usd * 1000000 - floor(billed_cost_usd * 1000000) as _remainder_micro,
        cast(
            round(sum(billed_cost_usd) over (partition by usage_date, integration_id) * 1000000)
            as hugeint
        ) as _day_micro

    from cost_lines_bucketed

),

cost_day_ranked as (

    select
        *,
        _day_micro - sum(_floor_micro) over (partition by usage_date, integration_id)
            as _leftover_micro,
        row_number() over (
            partition by usage_date, integration_id order by _remainder_micro desc, cost_key
        ) as _remainder_rank

    from cost_day

),

cost_micro as (

    select
        * exclude (
            _floor_micro, _remainder_micro, _day_micro, _leftover_micro, _remainder_rank
        ),
        _floor_micro + case when _remainder_rank <= _leftover_micro then 1 else 0 end
            as billed_micro

    from cost_day_ranked

),

cost_candidates as (

    select
        cost.cost_key,
        cost.billed_micro,
        usage.usage_key,
        coalesce({{ strict_match }}, false) as is_strict,
        coalesce({{ relaxed_match }}, false) as is_relaxed,
        cast({{ api_cost_bucket_tokens('cost.token_bucket') }} as hugeint) as weight

    from cost_micro as cost
    inner join usage
        on usage.usage_date = cost.usage_date
        and usage.integration_id = cost.integration_id
        and coalesce({{ model_match }}, false)
        and coalesce({{ loose_match or relaxed_match }}, false)

),

cost_levels as (

    select
        cost_key,
        coalesce(sum(weight) filter (where is_strict), 0) as strict_weight,
        coalesce(sum(weight) filter (where is_relaxed), 0) as relaxed_weight,
        coalesce(sum(weight), 0) as loose_weight

    from cost_candidates
    group by cost_key

),

cost_pairs as (

    select
        cost_candidates.*,
        case
            when cost_levels.strict_weight > 0 then 'strict'
            when cost_levels.relaxed_weight > 0 then 'relaxed'
            else 'loose'
        end as match_level

    from cost_candidates
    inner join cost_levels on cost_candidates.cost_key = cost_levels.cost_key
    where (cost_levels.strict_weight > 0 and cost_candidates.is_strict)
        or (
            cost_levels.strict_weight = 0 and cost_levels.relaxed_weight > 0
            and cost_candidates.is_relaxed
        )
        or (
            cost_levels.strict_weight = 0 and cost_levels.relaxed_weight = 0
            and cost_levels.loose_weight > 0
        )

),

{{ largest_remainder(
    'cost_alloc', 'cost_pairs', 'cost_key', 'weight', 'billed_micro', 'usage_key'
) }},

usage_billed as (

    select
        usage_key,
        sum(allocated_units) as billed_micro,
        cast(count(*) as bigint) as cost_line_count,
        -- The weakest level any line reached the row through ('loose' < 'relaxed' < 'strict').
        min(match_level) as match_level

    from cost_alloc
    group by usage_key

),

cost_unmatched as (

    select cost_micro.*

    from cost_micro
    where not exists (
        select 1 from cost_pairs where cost_pairs.cost_key = cost_micro.cost_key
    )

)
{%- endmacro %}

{#- A stable text key from column expressions (NULL-safe: NULL and 'null' differ). -#}
{% macro api_row_key(columns) -%}
    md5(cast(to_json([
        {%- for column in columns %}
        cast({{ column }} as varchar){% if not loop.last %},{% endif %}
        {%- endfor %}
    ]) as varchar))
{%- endmacro %}
