"""Prices for the cheaper sibling models that nobody uses yet, in int_price_list's own shape.

int_price_list (the full price table: catalogue plus overrides, service and long-context tiers)
prices only the models seen in usage; a cheaper_model saving needs the sibling's price too. This
model runs the very same code (``ingest.prices.price_rows``, with the same override file) for the
seed's sibling models that int_price_list lacks, keeping the price periods in force on the last
usage day. Grain: as int_price_list, one row per provider x model x price_source x service_tier x
context_tier x effective period. Models neither the catalogue nor the override file knows get no
row (no estimate, never $0). No network: only the catalogue bundled with genai-prices is read.
"""

from ingest import prices


def model(dbt, session):
    dbt.config(materialized="table")
    configured_path = dbt.config.get("prices_override_path")

    usage = dbt.ref("int_insights_usage_daily")
    priced = dbt.ref("int_price_list")
    siblings = dbt.ref("model_siblings")

    known = {
        tuple(pair)
        for pair in priced.query("priced", "select distinct provider, model from priced").fetchall()
    }
    wanted = {
        tuple(pair)
        for pair in siblings.query(
            "siblings",
            "select distinct lower(provider), cheaper_model from siblings "
            "where provider is not null and cheaper_model is not null",
        ).fetchall()
    } - known
    ((last_day,),) = usage.query("usage", "select max(usage_date) from usage").fetchall()

    rows = []
    if last_day is not None and wanted:
        overrides = prices.load_overrides(prices.override_path(configured_path))
        rows = [
            row
            for row in prices.price_rows(wanted, start=last_day, end=last_day, overrides=overrides)
            # Explicit overrides for other custom models come along; int_price_list has them.
            if (row["provider"], row["model"]) in wanted
        ]
    return prices.price_relation(session, rows)
