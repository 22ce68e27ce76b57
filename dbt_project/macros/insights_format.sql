{#-
  Plain-text number formatting for the insights explanations and actions (the report escapes
  them; no markup here). Each macro renders a SQL expression; NULL in gives NULL out, so callers
  coalesce or guard.
-#}

{#- $1,234.56 -#}
{% macro insights_fmt_usd(expr) -%}
    ('$' || format('{:,.2f}', cast({{ expr }} as double)))
{%- endmacro %}

{#- +$1,234.56 / -$3.10 -#}
{% macro insights_fmt_signed_usd(expr) -%}
    (case when cast({{ expr }} as double) < 0 then '-' else '+' end
        || '$' || format('{:,.2f}', abs(cast({{ expr }} as double))))
{%- endmacro %}

{#- a fraction as a whole percentage: 0.4 -> 40% -#}
{% macro insights_fmt_pct(expr) -%}
    (format('{:,.0f}', 100 * cast({{ expr }} as double)) || '%')
{%- endmacro %}

{#- a relative change as a signed whole percentage: 11.0 -> +1,100%, -0.25 -> -25% -#}
{% macro insights_fmt_signed_pct(expr) -%}
    (case when cast({{ expr }} as double) < 0 then '-' else '+' end
        || format('{:,.0f}', abs(100 * cast({{ expr }} as double))) || '%')
{%- endmacro %}

{#- a token count, short: 950, 12.5k, 20.7M, 1.2B -#}
{% macro insights_fmt_tokens(expr) -%}
    (case
        when abs(cast({{ expr }} as double)) >= 1e9
            then format('{:,.1f}', cast({{ expr }} as double) / 1e9) || 'B'
        when abs(cast({{ expr }} as double)) >= 1e6
            then format('{:,.1f}', cast({{ expr }} as double) / 1e6) || 'M'
        when abs(cast({{ expr }} as double)) >= 1e4
            then format('{:,.1f}', cast({{ expr }} as double) / 1e3) || 'k'
        else format('{:,.0f}', cast({{ expr }} as double))
    end)
{%- endmacro %}

{#- a whole number with thousands separators: 7,500 -#}
{% macro insights_fmt_int(expr) -%}
    format('{:,.0f}', cast({{ expr }} as double))
{%- endmacro %}

{#- how a scope reads in a sentence: api_key -> API key -#}
{% macro insights_scope_label(scope_column) -%}
    (case {{ scope_column }}
        when 'api_key' then 'API key'
        else {{ scope_column }}
    end)
{%- endmacro %}

{#- "rose 13.6x" for a doubling or more, else "rose 45%" -#}
{% macro insights_fmt_rise(observed, expected) -%}
    (case
        when cast({{ expected }} as double) <= 0 then 'rose from nothing'
        when cast({{ observed }} as double) >= 2 * cast({{ expected }} as double)
            then 'rose ' || format('{:,.1f}', cast({{ observed }} as double)
                / cast({{ expected }} as double)) || 'x'
        else 'rose ' || format('{:,.0f}', 100 * (cast({{ observed }} as double)
            / cast({{ expected }} as double) - 1)) || '%'
    end)
{%- endmacro %}

{#- a price per million tokens: 2.5 -> $2.50, 0.075 -> $0.075 -#}
{% macro insights_fmt_price(expr) -%}
    ('$' || case
        when round(cast({{ expr }} as double), 2) = cast({{ expr }} as double)
            then format('{:,.2f}', cast({{ expr }} as double))
        else format('{:g}', cast({{ expr }} as double))
    end)
{%- endmacro %}
