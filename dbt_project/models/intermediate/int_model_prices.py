"""List prices for the models seen in usage, from genai-prices' bundled catalogue.

One row per provider x model (as named in usage) x effective period. Built in Python because the
catalogue is a Python package; the logic lives in ``ingest.prices`` (unit-tested there) and this
model only feeds it the distinct (provider, model) pairs and the usage date range. Models the
catalogue does not know get no row, so their usage stays unpriced.
"""

import pandas as pd

from ingest import prices


def model(dbt, session):
    dbt.config(materialized="table")

    usage = dbt.ref("int_usage_unioned")
    pairs = usage.query(
        "usage",
        "select distinct provider, model from usage "
        "where provider is not null and model is not null",
    ).fetchall()
    ((first_day, last_day),) = usage.query(
        "usage", "select min(usage_date), max(usage_date) from usage"
    ).fetchall()

    rows = prices.price_rows(pairs, start=first_day, end=last_day)
    # Every value travels as text and is cast in SQL: exact decimals, and the right column types
    # even when there is no usage yet (an empty frame has no types of its own).
    frame = pd.DataFrame(
        [[None if v is None else str(v) for v in row.values()] for row in rows],
        columns=list(prices.PRICE_COLUMNS),
        dtype=object,
    )
    casts = ", ".join(
        f'cast("{name}" as {dtype}) as "{name}"' for name, dtype in prices.PRICE_COLUMNS.items()
    )
    return session.from_df(frame).project(casts)
