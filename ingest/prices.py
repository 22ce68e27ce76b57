"""List prices per token bucket, effective-dated, from genai-prices' bundled catalogue.

meterr prices usage itself instead of calling ``genai_prices.calc_price`` on aggregates: tiered
prices apply *per request*, so pricing a day's aggregated tokens as one call would cross tier
thresholds and multiply the cost. Instead this module turns the catalogue into a price table that
dbt joins to usage by day (``intermediate.int_model_prices``):

one row per provider x model (as named in usage) x effective period, with USD per million tokens
for meterr's four disjoint buckets: uncached input, cache reads, cache writes and output.

Only the catalogue bundled with the installed package is read (``get_snapshot()`` without
``UpdatePrices``): a run never touches the network, and the same package version always yields the
same prices (``catalogue_version`` records which one).
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import date, timedelta
from decimal import ROUND_HALF_EVEN, Decimal
from typing import Any

import genai_prices
from genai_prices.data_snapshot import DataSnapshot, get_snapshot
from genai_prices.types import (
    ConditionalPrice,
    ModelInfo,
    ModelPrice,
    Provider,
    StartDateConstraint,
    TieredPrices,
    TimeOfDateConstraint,
)

PRICE_SOURCE = "genai-prices"

# The catalogue gives no start date for a model's first price; this date stands for "always" so
# the price table's effective_from is never NULL and the dbt join stays a plain range check.
OPEN_START = date(1970, 1, 1)

# meterr bucket -> genai-prices price field (USD per million tokens). genai-prices' cache_write_mtok
# is the default (Anthropic: 5-minute) cache write; meterr has no separate 1-hour bucket.
BUCKET_FIELDS: dict[str, str] = {
    "input_per_mtok": "input_mtok",
    "cached_input_per_mtok": "cache_read_mtok",
    "cache_write_per_mtok": "cache_write_mtok",
    "output_per_mtok": "output_mtok",
}

# Prices are stored as DECIMAL(18,9); a few aggregator entries carry more digits (e.g. 1/24 USD).
PRICE_QUANTUM = Decimal("0.000000001")

# Columns of the price table and their DuckDB types, in order (the dbt Python model casts to these).
PRICE_COLUMNS: dict[str, str] = {
    "provider": "VARCHAR",
    "model": "VARCHAR",
    "catalogue_model_id": "VARCHAR",
    "catalogue_provider_id": "VARCHAR",
    "effective_from": "DATE",
    "effective_to": "DATE",
    "input_per_mtok": "DECIMAL(18,9)",
    "cached_input_per_mtok": "DECIMAL(18,9)",
    "cache_write_per_mtok": "DECIMAL(18,9)",
    "output_per_mtok": "DECIMAL(18,9)",
    "has_tiered_prices": "BOOLEAN",
    "has_time_of_day_prices": "BOOLEAN",
    "price_source": "VARCHAR",
    "catalogue_version": "VARCHAR",
}


@dataclass(frozen=True)
class BucketPrices:
    """USD per million tokens for each meterr bucket; None where the catalogue has no price."""

    input_per_mtok: Decimal | None
    cached_input_per_mtok: Decimal | None
    cache_write_per_mtok: Decimal | None
    output_per_mtok: Decimal | None
    has_tiered_prices: bool

    def is_empty(self) -> bool:
        """True when the catalogue prices none of meterr's token buckets (e.g. per-image models)."""
        return all(getattr(self, name) is None for name in BUCKET_FIELDS)


@dataclass(frozen=True)
class PricePeriod:
    """The bucket prices in force from ``effective_from`` (inclusive) to ``effective_to``.

    ``effective_to`` is exclusive; None means the price is still in force.
    """

    effective_from: date
    effective_to: date | None
    prices: BucketPrices


def catalogue_version() -> str:
    """The installed genai-prices version: the bundled catalogue changes only with it."""
    return genai_prices.__version__


def _base_price(value: Decimal | TieredPrices | None) -> tuple[Decimal | None, bool]:
    """The price below every tier threshold, and whether the field had tiers.

    Tiers switch on a single request's input tokens; meterr's rows are aggregates, so the base
    (below-threshold) price is the only one that can be applied without per-request detail.
    """
    if value is None:
        return None, False
    if isinstance(value, TieredPrices):
        return value.base.quantize(PRICE_QUANTUM, ROUND_HALF_EVEN), True
    return Decimal(value).quantize(PRICE_QUANTUM, ROUND_HALF_EVEN), False


def bucket_prices(model_price: ModelPrice) -> BucketPrices:
    """meterr's four bucket prices from one genai-prices ``ModelPrice``.

    Other price fields (audio, image, web searches, per-request fees) have no meterr bucket and are
    ignored, so list cost covers token charges only.
    """
    values: dict[str, Decimal | None] = {}
    tiered = False
    for bucket, field_name in BUCKET_FIELDS.items():
        price, has_tiers = _base_price(getattr(model_price, field_name, None))
        values[bucket] = price
        tiered = tiered or has_tiers
    return BucketPrices(**values, has_tiered_prices=tiered)


def _price_on(prices: Sequence[ConditionalPrice], day: date) -> ModelPrice:
    """The price genai-prices selects for a request on ``day``, time-of-day windows left out.

    Mirrors ``ModelInfo.get_prices``: the last entry whose constraint is active wins, else the
    first. A ``TimeOfDateConstraint`` (DeepSeek's peak/off-peak hours) is treated as never active:
    usage is priced per day, so the hour is unknown, and the catalogue's default (first) price is
    used. For DeepSeek that default is the off-peak rate, so its list cost is a lower bound;
    ``has_time_of_day_prices`` flags such rows.
    """
    for conditional in reversed(prices):
        constraint = conditional.constraint
        if constraint is None:
            return conditional.prices
        if isinstance(constraint, StartDateConstraint) and constraint.start_date <= day:
            return conditional.prices
    return prices[0].prices


def price_periods(model: ModelInfo) -> list[PricePeriod]:
    """The model's bucket prices as consecutive effective-dated periods, oldest first.

    A model with one price yields one open-ended period from :data:`OPEN_START`. Dated prices
    (``StartDateConstraint``, e.g. o3's June 2025 cut) split the timeline at each start date;
    neighbouring periods with identical prices are merged.
    """
    if isinstance(model.prices, ModelPrice):
        return [PricePeriod(OPEN_START, None, bucket_prices(model.prices))]
    conditionals = list(model.prices)
    if not conditionals:
        return []
    starts = sorted(
        {
            c.constraint.start_date
            for c in conditionals
            if isinstance(c.constraint, StartDateConstraint)
            and c.constraint.start_date > OPEN_START
        }
    )
    boundaries = [OPEN_START, *starts]
    periods: list[PricePeriod] = []
    for index, start in enumerate(boundaries):
        end = boundaries[index + 1] if index + 1 < len(boundaries) else None
        # The first period runs up to the day before the first dated price.
        probe = start if index > 0 else (starts[0] - timedelta(days=1) if starts else start)
        prices = bucket_prices(_price_on(conditionals, probe))
        if periods and periods[-1].prices == prices:
            periods[-1] = PricePeriod(periods[-1].effective_from, end, prices)
        else:
            periods.append(PricePeriod(start, end, prices))
    return periods


def has_time_of_day_prices(model: ModelInfo) -> bool:
    """True when some of the model's prices depend on the hour of the request (ignored here)."""
    if isinstance(model.prices, ModelPrice):
        return False
    return any(isinstance(c.constraint, TimeOfDateConstraint) for c in model.prices)


def resolve_model(
    provider: str, model: str, snapshot: DataSnapshot | None = None
) -> tuple[Provider, ModelInfo] | None:
    """The catalogue's provider and model for a usage (provider, model) pair, or None if unknown.

    ``provider`` is meterr's lower-case provider name; genai-prices matches it against its own ids
    and aliases (``xai`` finds ``x-ai``) and follows a provider's fallbacks (Azure serves OpenAI
    models). An unknown provider or model is not an error: that usage stays unpriced.
    """
    snap = snapshot if snapshot is not None else get_snapshot()
    try:
        return snap.find_provider_model(model, None, provider, None)
    except LookupError:
        return None


def _overlaps(period: PricePeriod, start: date | None, end: date | None) -> bool:
    if start is not None and period.effective_to is not None and period.effective_to <= start:
        return False
    return not (end is not None and period.effective_from > end)


def price_rows(
    pairs: Iterable[tuple[str | None, str | None]],
    *,
    start: date | None = None,
    end: date | None = None,
    snapshot: DataSnapshot | None = None,
) -> list[dict[str, Any]]:
    """The price table for the given usage (provider, model) pairs.

    One dict per provider x model x effective period, keyed by :data:`PRICE_COLUMNS`: the pair as
    seen in usage, the catalogue ids it resolved to, ``effective_from`` (inclusive) and
    ``effective_to`` (exclusive, None = open-ended), the four bucket prices in USD per million
    tokens (None where the catalogue has none), ``has_tiered_prices``, ``has_time_of_day_prices``,
    ``price_source`` and ``catalogue_version``.

    Pairs the catalogue does not know, and periods that price none of the token buckets, get no
    row: their usage stays unpriced rather than costing $0. ``start``/``end`` (inclusive usage
    dates) drop periods no usage can fall in. Duplicate or NULL pairs are skipped.
    """
    snap = snapshot if snapshot is not None else get_snapshot()
    version = catalogue_version()
    rows: list[dict[str, Any]] = []
    for provider, model in sorted({p for p in pairs if p[0] and p[1]}):
        assert provider is not None and model is not None
        found = resolve_model(provider, model, snap)
        if found is None:
            continue
        catalogue_provider, model_info = found
        time_of_day = has_time_of_day_prices(model_info)
        for period in price_periods(model_info):
            if period.prices.is_empty() or not _overlaps(period, start, end):
                continue
            rows.append(
                {
                    "provider": provider,
                    "model": model,
                    "catalogue_model_id": model_info.id,
                    "catalogue_provider_id": catalogue_provider.id,
                    "effective_from": period.effective_from,
                    "effective_to": period.effective_to,
                    "input_per_mtok": period.prices.input_per_mtok,
                    "cached_input_per_mtok": period.prices.cached_input_per_mtok,
                    "cache_write_per_mtok": period.prices.cache_write_per_mtok,
                    "output_per_mtok": period.prices.output_per_mtok,
                    "has_tiered_prices": period.prices.has_tiered_prices,
                    "has_time_of_day_prices": time_of_day,
                    "price_source": PRICE_SOURCE,
                    "catalogue_version": version,
                }
            )
    return rows


def list_cost_usd(row: dict[str, Any], tokens: dict[str, int]) -> Decimal | None:
    """The list cost of disjoint token counts at one price row, as ``int_usage_priced`` computes it.

    ``tokens`` has ``input_tokens`` (uncached), ``cached_input_tokens``, ``cache_write_tokens`` and
    ``output_tokens``. A cache read or write the catalogue has no price for is charged at the input
    price (what genai-prices itself does, since its input total includes cache tokens); missing
    input or output prices for non-zero tokens make the cost unknown (None), never $0.
    """
    input_price = row["input_per_mtok"]

    def or_input(price: Decimal | None) -> Decimal | None:
        return input_price if price is None else price

    rates = {
        "input_tokens": input_price,
        "cached_input_tokens": or_input(row["cached_input_per_mtok"]),
        "cache_write_tokens": or_input(row["cache_write_per_mtok"]),
        "output_tokens": row["output_per_mtok"],
    }
    total = Decimal(0)
    for bucket, rate in rates.items():
        count = tokens.get(bucket, 0) or 0
        if count == 0:
            continue
        if rate is None:
            return None
        total += Decimal(count) * rate
    return total / Decimal(1_000_000)
