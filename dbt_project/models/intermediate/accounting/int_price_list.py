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

import io
import json

from ingest import prices


def model(dbt, session):
    dbt.config(materialized="table")
    configured_path = dbt.config.get("prices_override_path")

    usage = dbt.ref("int_usage_unioned")
    pairs = usage.query(
        "usage",
        "select distinct provider, model from usage "
        "where provider is not null and model is not null",
    ).fetchall()
    ((first_day, last_day),) = usage.query(
        "usage", "select min(usage_date), max(usage_date) from usage"
    ).fetchall()

    overrides = prices.load_overrides(prices.override_path(configured_path))
    rows = prices.price_rows(pairs, start=first_day, end=last_day, overrides=overrides)
    # Every value travels as text and is cast in SQL: exact decimals, and the right column types
    # even when there is no usage yet. JSON read by DuckDB rather than a pandas frame: importing
    # pandas would cost this model more than everything else it does.
    text_rows = [
        {c: None if row[c] is None else str(row[c]) for c in prices.PRICE_COLUMNS} for row in rows
    ]
    as_text = session.read_json(
        io.BytesIO(json.dumps(text_rows).encode()),
        format="array",
        columns={name: "VARCHAR" for name in prices.PRICE_COLUMNS},
    )
    casts = ", ".join(
        f'cast("{name}" as {dtype}) as "{name}"' for name, dtype in prices.PRICE_COLUMNS.items()
    )
    return as_text.project(casts)
