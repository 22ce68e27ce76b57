"""The price list: genai-prices' bundled catalogue plus the user's prices.yaml overrides.

One row per provider x model (as named in usage) x price_source x service_tier x context_tier x
effective period. Built in Python because the catalogue is a Python package; the logic lives in
``ingest.prices`` (unit-tested there) and this model only feeds it the distinct (provider, model)
pairs, the usage date range and the override file. Models neither the catalogue nor the override
file knows get no row, so their usage stays unpriced.

The override file is the dbt var ``prices_override_path`` (set by meterr from ``meterr.yaml``), or
else ``$METERR_HOME/prices.yaml`` when it exists. This table is rebuilt on every run and
``int_usage_priced_daily`` re-prices the days of every model whose rows here changed, so editing the
file re-prices history on the next build (``marts.restatements`` shows what changed).
"""

from ingest import prices


def model(dbt, session):
    dbt.config(materialized="table")
    configured_path = dbt.config.get("prices_override_path")

    # One pass over all usage for both the pairs and the date range: it is the one read of every
    # raw row this model makes.
    usage = dbt.ref("int_usage_unioned")
    groups = usage.query(
        "usage",
        "select provider, model, min(usage_date), max(usage_date) from usage group by all",
    ).fetchall()
    pairs = [(provider, model) for provider, model, _, _ in groups if provider and model]
    first_days = [first for _, _, first, _ in groups if first is not None]
    last_days = [last for _, _, _, last in groups if last is not None]

    overrides = prices.load_overrides(prices.override_path(configured_path))
    rows = prices.price_rows(
        pairs,
        start=min(first_days, default=None),
        end=max(last_days, default=None),
        overrides=overrides,
    )
    return prices.price_relation(session, rows)
