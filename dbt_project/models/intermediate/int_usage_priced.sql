{#-
  Each usage record with its list cost at the price in force on its UTC day.
  Grain: one row per usage record from any source (as int_usage_normalized).

  Which price (README "How meterr computes cost"):
  1. rows of int_price_list for the record's provider, model and service tier whose effective
     period contains the day;
  2. a prices.yaml override wins over the catalogue;
  3. among the winner's long-context tiers, the highest that applies to the request: the source
     says so (is_long_context), or the record is a single request whose total input
     (uncached + cache read + cache write) exceeds the tier's threshold; aggregated records without
     that information use the base tier (context_tier_basis = 'assumed_base').
  Cost = sum over buckets of tokens x rate / 1M. A cache read or write without its own price is
  charged at the input price, a 1-hour write without its own price at the cache-write price (as
  genai-prices does). Missing prices for tokens in any other bucket, an unknown model or an
  unpriced service tier leave the record unpriced: list_cost_usd NULL, never $0.

  The SQL lives in macros/usage_priced.sql: int_usage_priced_daily prices only the days whose usage
  changed with the same SQL, and the marts read that table, so this view re-prices everything only
  when it is queried itself.
-#}
{{ usage_priced_sql() }}
