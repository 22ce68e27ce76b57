"""meterr's price table: genai-prices' bundled catalogue plus the user's override file.

meterr prices usage itself instead of calling ``genai_prices.calc_price`` on aggregates: tiered
(long-context) prices apply *per request*, so pricing a day's aggregated tokens as one call would
cross tier thresholds and multiply the cost. Instead this module turns the catalogue into a price
table that dbt joins to usage by day (``intermediate.int_model_prices``, ``marts.dim_prices``):

one row per provider x model (as named in usage) x price source x service tier x context tier x
effective period, with USD per million tokens for meterr's five disjoint buckets: uncached input,
cache reads, cache writes (5-minute / default TTL), cache writes with a 1-hour TTL, and output.

- **Catalogue** (``price_source = 'genai-prices'``): only the data bundled with the installed
  package is read (``get_snapshot()`` without ``UpdatePrices``), so a run never touches the network
  and one package version always yields the same prices; ``price_version`` is that version.
- **Service tiers**: ``standard`` always; ``batch``, ``flex`` and ``priority`` from the catalogue's
  price variants (``processing: batch``, ``service_tier: flex|priority``) on the days they are in
  force. Where the catalogue has no batch price for an OpenAI or Anthropic model, batch is priced
  at 50% of standard (:data:`BATCH_RULE_FACTOR`, ``price_basis = 'batch_discount_rule'``): both
  providers document that rule (OpenAI Batch API guide: "50% cost discount compared to synchronous
  APIs", https://platform.openai.com/docs/guides/batch; Anthropic Message Batches: "all usage is
  charged at 50% of the standard API prices",
  https://docs.anthropic.com/en/docs/build-with-claude/batch-processing). Any other tier the
  catalogue does not price stays unpriced.
- **Long-context tiers**: a catalogue ``TieredPrices`` becomes one row per tier. ``context_tier`` 0
  is the base price; tier ``n`` applies to a *request* whose total input tokens (uncached + cache
  read + cache write) exceed ``context_threshold_tokens``, and then to all of that request's tokens
  (genai-prices' "cliff" semantics).
- **Overrides** (``price_source = 'override'``): the user's ``$METERR_HOME/prices.yaml`` (see
  :func:`load_overrides` and ``dbt_project/README.md``) adds negotiated prices, discounts and custom
  models with effective dates; on any day an override covers it wins over the catalogue.
  ``price_version`` is the file's SHA-256 digest, so a priced row always says which price priced it.
"""

from __future__ import annotations

import hashlib
import io
import json
import os
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from datetime import date
from decimal import ROUND_HALF_EVEN, Decimal, InvalidOperation
from pathlib import Path
from typing import Any

import duckdb
import genai_prices
import yaml
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
OVERRIDE_SOURCE = "override"

# The catalogue gives no start date for a model's first price; this date stands for "always" so
# the price table's effective_from is never NULL and the dbt join stays a plain range check.
OPEN_START = date(1970, 1, 1)

# meterr's service tiers; usage with any other tier (after staging's normalisation) is unpriced.
SERVICE_TIERS = ("standard", "batch", "flex", "priority")
# The genai-prices price context that selects each non-standard tier's price variant.
TIER_CONTEXTS: dict[str, dict[str, str]] = {
    "batch": {"processing": "batch"},
    "flex": {"service_tier": "flex"},
    "priority": {"service_tier": "priority"},
}
# Documented provider rule (module docstring): batch costs half the standard price.
BATCH_RULE_PROVIDERS = frozenset({"openai", "anthropic"})
BATCH_RULE_FACTOR = Decimal("0.5")

# meterr bucket -> genai-prices price fields, first present wins (USD per million tokens).
# genai-prices' cache_write_mtok prices every cache write; cache_write_1h_mtok the 1-hour part.
BUCKET_PRICE_FIELDS: dict[str, tuple[str, ...]] = {
    "input_per_mtok": ("input_mtok",),
    "cached_input_per_mtok": ("cache_read_mtok",),
    "cache_write_per_mtok": ("cache_write_5m_mtok", "cache_write_mtok"),
    "cache_write_1h_per_mtok": ("cache_write_1h_mtok",),
    "output_per_mtok": ("output_mtok",),
}
BUCKETS = tuple(BUCKET_PRICE_FIELDS)
# The four buckets of intermediate.int_model_prices (kept for code that reads that table's shape):
# meterr bucket -> the genai-prices price field.
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
    "price_source": "VARCHAR",
    "price_version": "VARCHAR",
    "price_basis": "VARCHAR",
    "service_tier": "VARCHAR",
    "context_tier": "INTEGER",
    "context_threshold_tokens": "BIGINT",
    "effective_from": "DATE",
    "effective_to": "DATE",
    "input_per_mtok": "DECIMAL(18,9)",
    "cached_input_per_mtok": "DECIMAL(18,9)",
    "cache_write_per_mtok": "DECIMAL(18,9)",
    "cache_write_1h_per_mtok": "DECIMAL(18,9)",
    "output_per_mtok": "DECIMAL(18,9)",
    "catalogue_model_id": "VARCHAR",
    "catalogue_provider_id": "VARCHAR",
    "catalogue_version": "VARCHAR",
    "has_tiered_prices": "BOOLEAN",
    "has_time_of_day_prices": "BOOLEAN",
    "note": "VARCHAR",
}

OVERRIDE_FILE_NAME = "prices.yaml"
# The dbt var value that means "no override file" (an empty var means "look in $METERR_HOME").
NO_OVERRIDE_FILE = "none"


class PriceOverrideError(ValueError):
    """The override file is unreadable or breaks its schema; the message names file and entry."""


# --------------------------------------------------------------------------------------------
# Bucket prices


@dataclass(frozen=True)
class BucketPrices:
    """USD per million tokens for each meterr bucket; None where there is no price."""

    input_per_mtok: Decimal | None = None
    cached_input_per_mtok: Decimal | None = None
    cache_write_per_mtok: Decimal | None = None
    cache_write_1h_per_mtok: Decimal | None = None
    output_per_mtok: Decimal | None = None

    def is_empty(self) -> bool:
        """True when none of meterr's token buckets has a price (e.g. per-image models)."""
        return all(getattr(self, name) is None for name in BUCKETS)

    def scaled(self, factor: Decimal) -> BucketPrices:
        """Every price times ``factor`` (a discount or the batch rule), rounded to the quantum."""
        values = {name: getattr(self, name) for name in BUCKETS}
        return BucketPrices(
            **{name: None if v is None else _quantize(v * factor) for name, v in values.items()}
        )


@dataclass(frozen=True)
class ContextTier:
    """One long-context tier: prices for requests whose input exceeds ``threshold_tokens``.

    The base tier has ``threshold_tokens`` None (any request size).
    """

    threshold_tokens: int | None
    prices: BucketPrices


@dataclass(frozen=True)
class TierPrices:
    """One service tier's prices at one time: the base tier, then long-context tiers ascending."""

    tiers: tuple[ContextTier, ...]
    basis: str

    @property
    def has_tiered_prices(self) -> bool:
        return len(self.tiers) > 1

    def scaled(self, factor: Decimal, basis: str) -> TierPrices:
        return TierPrices(
            tuple(ContextTier(t.threshold_tokens, t.prices.scaled(factor)) for t in self.tiers),
            basis,
        )


@dataclass(frozen=True)
class PricePeriod:
    """The prices in force from ``effective_from`` (inclusive) to ``effective_to`` (exclusive).

    ``effective_to`` None means still in force. ``service_tiers`` maps each priced tier to its
    prices; ``prices`` is the standard tier's base price (what older code called the price).
    """

    effective_from: date
    effective_to: date | None
    service_tiers: Mapping[str, TierPrices]

    @property
    def prices(self) -> BucketPrices:
        return self.service_tiers["standard"].tiers[0].prices


def _quantize(value: Decimal) -> Decimal:
    return value.quantize(PRICE_QUANTUM, ROUND_HALF_EVEN)


def catalogue_version() -> str:
    """The installed genai-prices version: the bundled catalogue changes only with it."""
    return genai_prices.__version__


def _field_values(model_price: ModelPrice) -> dict[str, Decimal | TieredPrices | None]:
    """meterr bucket -> the catalogue value (a price, tiered prices or None)."""
    values: dict[str, Decimal | TieredPrices | None] = {}
    for bucket, field_names in BUCKET_PRICE_FIELDS.items():
        values[bucket] = next(
            (v for name in field_names if (v := getattr(model_price, name, None)) is not None),
            None,
        )
    return values


def _tier_prices(values: Mapping[str, Decimal | TieredPrices | None], basis: str) -> TierPrices:
    """Base and long-context tiers from bucket values, some of which may be ``TieredPrices``.

    A bucket's price for requests above threshold ``t`` is its highest tier starting at or below
    ``t`` (genai-prices applies a tier when the request's input tokens exceed its start); buckets
    without tiers keep their flat price in every tier.
    """
    thresholds = sorted(
        {tier.start for v in values.values() if isinstance(v, TieredPrices) for tier in v.tiers}
    )

    def at(value: Decimal | TieredPrices | None, threshold: int | None) -> Decimal | None:
        if value is None:
            return None
        if not isinstance(value, TieredPrices):
            return _quantize(Decimal(value))
        price = value.base
        for tier in value.tiers:
            if threshold is not None and tier.start <= threshold:
                price = tier.price
        return _quantize(Decimal(price))

    tiers = [
        ContextTier(t, BucketPrices(**{b: at(values.get(b), t) for b in BUCKETS}))
        for t in [None, *thresholds]
    ]
    return TierPrices(tuple(tiers), basis)


def bucket_prices(model_price: ModelPrice) -> BucketPrices:
    """meterr's bucket prices (base tier) from one genai-prices ``ModelPrice``.

    Other price fields (audio, image, web searches, per-request fees) have no meterr bucket and are
    ignored, so list cost covers token charges only.
    """
    return _tier_prices(_field_values(model_price), "catalogue").tiers[0].prices


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


def _standard_price(model: ModelInfo, day: date) -> ModelPrice | None:
    if isinstance(model.prices, ModelPrice):
        return model.prices
    return _price_on(list(model.prices), day) if model.prices else None


def _variant_overrides(model: ModelInfo, tier: str, day: date) -> dict[str, Any]:
    """Price fields the catalogue's variants set for ``tier`` on ``day`` (as ``get_prices``).

    Variants are tried first to last and the first value for each price field wins; a variant
    with a start date applies from that date; one limited to hours of the day never applies here.
    """
    context = TIER_CONTEXTS.get(tier)
    if context is None:
        return {}
    found: dict[str, Any] = {}
    for variant in model.price_variants or ():
        constraint = variant.constraint
        if isinstance(constraint, TimeOfDateConstraint):
            continue
        if isinstance(constraint, StartDateConstraint) and constraint.start_date > day:
            continue
        if not all(context.get(key) == value for key, value in variant.when.items()):
            continue
        for key, value in variant.prices.__dict__.items():
            if value is not None and not key.startswith("_"):
                found.setdefault(key, value)
    return found


def _boundaries(model: ModelInfo) -> list[date]:
    """Every date on which some price of the model (standard or a variant) may change."""
    starts: set[date] = set()
    if not isinstance(model.prices, ModelPrice):
        starts |= {
            c.constraint.start_date
            for c in model.prices
            if isinstance(c.constraint, StartDateConstraint)
        }
    starts |= {
        v.constraint.start_date
        for v in model.price_variants or ()
        if isinstance(v.constraint, StartDateConstraint)
    }
    return [OPEN_START, *sorted(d for d in starts if d > OPEN_START)]


def price_periods(
    model: ModelInfo, provider: Provider | None = None, *, variants_apply: bool = True
) -> list[PricePeriod]:
    """The model's prices as consecutive effective-dated periods, oldest first.

    A model with one price yields one open-ended period from :data:`OPEN_START`. Dated prices
    (``StartDateConstraint``, e.g. o3's June 2025 cut) and dated variants split the timeline at each
    start date; neighbouring periods with identical prices are merged. ``variants_apply`` is False
    when the model was found through another provider's fallback (genai-prices then ignores the
    price context too). ``provider`` decides whether the documented batch rule applies.
    """
    catalogue_provider = provider.id if provider is not None else None
    boundaries = _boundaries(model)
    periods: list[PricePeriod] = []
    for index, start in enumerate(boundaries):
        end = boundaries[index + 1] if index + 1 < len(boundaries) else None
        standard = _standard_price(model, start)
        if standard is None:
            continue
        standard_values = _field_values(standard)
        tiers: dict[str, TierPrices] = {"standard": _tier_prices(standard_values, "catalogue")}
        for tier in SERVICE_TIERS[1:]:
            overrides = _variant_overrides(model, tier, start) if variants_apply else {}
            variant_values = {
                bucket: next((overrides[n] for n in names if n in overrides), None)
                for bucket, names in BUCKET_PRICE_FIELDS.items()
            }
            if any(v is not None for v in variant_values.values()):
                merged = {
                    b: variant_values[b] if variant_values[b] is not None else standard_values[b]
                    for b in BUCKETS
                }
                tiers[tier] = _tier_prices(merged, "catalogue_service_tier")
            elif tier == "batch" and catalogue_provider in BATCH_RULE_PROVIDERS:
                tiers[tier] = tiers["standard"].scaled(BATCH_RULE_FACTOR, "batch_discount_rule")
        if periods and periods[-1].service_tiers == tiers:
            periods[-1] = replace(periods[-1], effective_to=end)
        else:
            periods.append(PricePeriod(start, end, tiers))
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


# --------------------------------------------------------------------------------------------
# The override file


@dataclass(frozen=True)
class OverrideEntry:
    """One entry of ``prices.yaml`` (``index`` is its 1-based position, for error messages).

    Either ``prices`` (explicit USD per million tokens: a negotiated price or a custom model) or
    ``discount_percent`` (a percentage off the catalogue's prices, every context tier) is set.
    ``model`` ``'*'`` means every model of the provider (discounts only). ``service_tier`` None
    means every tier (discounts only; explicit prices default to ``standard``).
    """

    index: int
    provider: str
    model: str
    service_tier: str | None
    effective_from: date
    effective_to: date | None
    prices: BucketPrices | None
    discount_percent: Decimal | None
    note: str | None

    @property
    def is_wildcard(self) -> bool:
        return self.model == "*"

    def covers(self, provider: str, model: str) -> bool:
        return self.provider == provider.lower() and (self.is_wildcard or self.model == model)


@dataclass(frozen=True)
class PriceOverrides:
    """The parsed override file; ``version`` is ``sha256:<first 16 hex>`` of its bytes."""

    path: Path | None = None
    version: str | None = None
    entries: tuple[OverrideEntry, ...] = field(default_factory=tuple)


NO_OVERRIDES = PriceOverrides()


class _TextDatesLoader(yaml.SafeLoader):
    """A safe loader that leaves dates as text, so a bad date gets this module's clear message
    (PyYAML's own date constructor raises a bare ValueError for e.g. 2026-13-01)."""


_TextDatesLoader.yaml_implicit_resolvers = {
    first: [r for r in resolvers if r[0] != "tag:yaml.org,2002:timestamp"]
    for first, resolvers in yaml.SafeLoader.yaml_implicit_resolvers.items()
}

_ENTRY_KEYS = {
    "provider",
    "model",
    "service_tier",
    "effective_from",
    "effective_to",
    "discount_percent",
    "note",
    *BUCKETS,
}


def _decimal(value: Any, where: str) -> Decimal:
    if isinstance(value, bool) or not isinstance(value, int | float | str | Decimal):
        raise PriceOverrideError(f"{where} must be a number; got {value!r}")
    try:
        number = Decimal(str(value).strip())
    except InvalidOperation:
        raise PriceOverrideError(f"{where} must be a number; got {value!r}") from None
    if not number.is_finite() or number < 0:
        raise PriceOverrideError(f"{where} must be a number >= 0; got {value!r}")
    return number


def _date(value: Any, where: str) -> date | None:
    if value is None:
        return None
    if isinstance(value, date):
        return value
    try:
        return date.fromisoformat(str(value).strip())
    except ValueError:
        raise PriceOverrideError(f"{where} must be a date YYYY-MM-DD; got {value!r}") from None


def _text(value: Any, where: str) -> str:
    if not isinstance(value, str) or not value.strip():
        raise PriceOverrideError(f"{where} must be a non-empty string; got {value!r}")
    return value.strip()


def _parse_entry(raw: Any, index: int, source: str) -> OverrideEntry:
    where = f"{source}: prices[{index}]"
    if not isinstance(raw, Mapping):
        raise PriceOverrideError(f"{where} must be a mapping; got {raw!r}")
    unknown = sorted(set(map(str, raw)) - _ENTRY_KEYS)
    if unknown:
        allowed = ", ".join(sorted(_ENTRY_KEYS))
        raise PriceOverrideError(
            f"{where}: unknown key(s) {', '.join(unknown)}; allowed: {allowed}"
        )
    provider = _text(raw.get("provider"), f"{where}.provider").lower()
    model = _text(raw.get("model"), f"{where}.model")
    tier = raw.get("service_tier")
    if tier is not None:
        tier = _text(tier, f"{where}.service_tier").lower()
        if tier not in SERVICE_TIERS:
            raise PriceOverrideError(
                f"{where}.service_tier must be one of {', '.join(SERVICE_TIERS)}; got {tier!r}"
            )
    start = _date(raw.get("effective_from"), f"{where}.effective_from") or OPEN_START
    end = _date(raw.get("effective_to"), f"{where}.effective_to")
    if end is not None and end <= start:
        raise PriceOverrideError(
            f"{where}: effective_to ({end}) must be after effective_from ({start}); "
            "effective_to is exclusive"
        )
    given = {b: _decimal(raw[b], f"{where}.{b}") for b in BUCKETS if raw.get(b) is not None}
    discount = raw.get("discount_percent")
    note = raw.get("note")
    if note is not None and not isinstance(note, str):
        raise PriceOverrideError(f"{where}.note must be text; got {note!r}")
    if discount is not None:
        if given:
            raise PriceOverrideError(
                f"{where}: give either discount_percent or explicit prices, not both"
            )
        percent = _decimal(discount, f"{where}.discount_percent")
        if percent > 100:
            raise PriceOverrideError(f"{where}.discount_percent must be <= 100; got {discount!r}")
        return OverrideEntry(index, provider, model, tier, start, end, None, percent, note)
    if not given:
        raise PriceOverrideError(
            f"{where}: give discount_percent or at least one of {', '.join(BUCKETS)}"
        )
    if model == "*":
        raise PriceOverrideError(
            f"{where}: model '*' (every model) only works with discount_percent"
        )
    if "input_per_mtok" not in given:
        raise PriceOverrideError(f"{where}: explicit prices need input_per_mtok")
    return OverrideEntry(
        index, provider, model, tier or "standard", start, end, BucketPrices(**given), None, note
    )


def _overlap(a: OverrideEntry, b: OverrideEntry) -> bool:
    a_end = a.effective_to or date.max
    b_end = b.effective_to or date.max
    return a.effective_from < b_end and b.effective_from < a_end


def _check_overlaps(entries: Sequence[OverrideEntry], source: str) -> None:
    """Two entries for the same provider, model and tier must not cover the same day.

    A specific model's entry may overlap a provider-wide ('*') discount: the specific one wins.
    """
    for i, a in enumerate(entries):
        for b in entries[i + 1 :]:
            same_scope = a.provider == b.provider and a.model == b.model
            same_tier = (
                a.service_tier is None
                or b.service_tier is None
                or (a.service_tier == b.service_tier)
            )
            if same_scope and same_tier and _overlap(a, b):
                raise PriceOverrideError(
                    f"{source}: prices[{a.index}] and prices[{b.index}] both price "
                    f"{a.provider}/{a.model} ({a.service_tier or 'every tier'}) on overlapping "
                    "dates; give them disjoint effective_from/effective_to ranges"
                )


def yaml_problem(exc: yaml.YAMLError) -> str:
    """A YAML parse error in one line: what is wrong and where (PyYAML's own text spans several
    lines, quoting the input, which does not fit an ``error:`` line)."""
    problem = getattr(exc, "problem", None)
    mark = getattr(exc, "problem_mark", None)
    if not problem:
        return " ".join(str(exc).split())
    where = f" at line {mark.line + 1}, column {mark.column + 1}" if mark is not None else ""
    context = getattr(exc, "context", None)
    return f"{context}: {problem}{where}" if context else f"{problem}{where}"


def parse_overrides(text: str, *, source: str = OVERRIDE_FILE_NAME) -> tuple[OverrideEntry, ...]:
    """The entries of an override document (YAML text); raises :class:`PriceOverrideError`.

    Schema (documented in ``dbt_project/README.md``)::

        version: 1            # optional
        prices:
          - provider: openai
            model: gpt-4o
            effective_from: 2026-01-01   # optional, inclusive UTC day (default: always)
            effective_to: 2027-01-01     # optional, exclusive (default: open-ended)
            service_tier: standard       # optional: standard (default) | batch | flex | priority
            input_per_mtok: 2.00         # USD per million uncached input tokens (required)
            cached_input_per_mtok: 1.00  # optional; cache buckets default to the input price
            cache_write_per_mtok: 2.50
            cache_write_1h_per_mtok: 4.00
            output_per_mtok: 8.00
            note: "MSA 2026, schedule B"
          - provider: anthropic
            model: "*"                   # every Anthropic model
            discount_percent: 10         # 10% off the catalogue, every tier
    """
    try:
        document = yaml.load(text, Loader=_TextDatesLoader)  # noqa: S506 - a SafeLoader subclass
    except yaml.YAMLError as exc:
        raise PriceOverrideError(f"{source} is not valid YAML: {yaml_problem(exc)}") from None
    if document is None:
        return ()
    if not isinstance(document, Mapping):
        raise PriceOverrideError(f"{source} must be a mapping with a 'prices' list")
    unknown = sorted(set(map(str, document)) - {"version", "prices"})
    if unknown:
        raise PriceOverrideError(
            f"{source}: unknown top-level key(s) {', '.join(unknown)}; allowed: version, prices"
        )
    version = document.get("version", 1)
    if version != 1:
        raise PriceOverrideError(f"{source}: version must be 1; got {version!r}")
    raw_entries = document.get("prices") or []
    if not isinstance(raw_entries, list):
        raise PriceOverrideError(f"{source}: 'prices' must be a list of entries")
    entries = tuple(_parse_entry(raw, i, source) for i, raw in enumerate(raw_entries, start=1))
    _check_overlaps(entries, source)
    return entries


def load_overrides(path: str | os.PathLike[str] | None) -> PriceOverrides:
    """The override file at ``path`` (None: no overrides); raises :class:`PriceOverrideError`."""
    if path is None:
        return NO_OVERRIDES
    file = Path(path)
    try:
        data = file.read_bytes()
    except OSError as exc:
        raise PriceOverrideError(f"price override file {file} cannot be read: {exc}") from None
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError:
        raise PriceOverrideError(f"price override file {file} is not UTF-8 text") from None
    entries = parse_overrides(text, source=str(file))
    return PriceOverrides(file, "sha256:" + hashlib.sha256(data).hexdigest()[:16], entries)


def override_path(
    configured: str | os.PathLike[str] | None, environ: Mapping[str, str] | None = None
) -> Path | None:
    """Which override file to read, from the dbt var ``prices_override_path``:

    - a path: that file (one that does not exist is an error, not silently no overrides);
    - ``none`` (:data:`NO_OVERRIDE_FILE`): no overrides (what meterr passes when there is none);
    - empty / unset: ``$METERR_HOME/prices.yaml`` when that file exists, else none (a bare
      ``dbt build`` in a shell with ``METERR_HOME`` set).
    """
    text = "" if configured is None else str(configured).strip()
    if text.lower() == NO_OVERRIDE_FILE:
        return None
    if text:
        path = Path(text).expanduser()
        if not path.is_file():
            raise PriceOverrideError(f"price override file {path} does not exist")
        return path
    env = os.environ if environ is None else environ
    home = env.get("METERR_HOME")
    if home:
        candidate = Path(home).expanduser() / OVERRIDE_FILE_NAME
        if candidate.is_file():
            return candidate
    return None


# --------------------------------------------------------------------------------------------
# The price table


def _overlaps(start_a: date, end_a: date | None, start: date | None, end: date | None) -> bool:
    """Whether [start_a, end_a) meets the inclusive usage range [start, end] (None = unbounded)."""
    if start is not None and end_a is not None and end_a <= start:
        return False
    return not (end is not None and start_a > end)


def _clip(
    start: date, end: date | None, lo: date, hi: date | None
) -> tuple[date, date | None] | None:
    new_start = max(start, lo)
    ends = [e for e in (end, hi) if e is not None]
    new_end = min(ends) if ends else None
    if new_end is not None and new_end <= new_start:
        return None
    return new_start, new_end


def _subtract(
    start: date, end: date | None, holes: Sequence[tuple[date, date | None]]
) -> list[tuple[date, date | None]]:
    """[start, end) minus the union of ``holes`` (all half-open; None end = open)."""
    pieces = [(start, end)]
    for hole_start, hole_end in holes:
        next_pieces = []
        for p_start, p_end in pieces:
            if _clip(p_start, p_end, hole_start, hole_end) is None:
                next_pieces.append((p_start, p_end))
                continue
            if p_start < hole_start:
                next_pieces.append((p_start, hole_start))
            if hole_end is not None and (p_end is None or hole_end < p_end):
                next_pieces.append((hole_end, p_end))
        pieces = next_pieces
    return pieces


def _row(
    provider: str,
    model: str,
    *,
    source: str,
    version: str | None,
    basis: str,
    service_tier: str,
    context_tier: int,
    tier: ContextTier,
    effective_from: date,
    effective_to: date | None,
    catalogue: tuple[Provider, ModelInfo] | None,
    has_tiered: bool,
    time_of_day: bool,
    note: str | None = None,
) -> dict[str, Any]:
    return {
        "provider": provider,
        "model": model,
        "price_source": source,
        "price_version": version,
        "price_basis": basis,
        "service_tier": service_tier,
        "context_tier": context_tier,
        "context_threshold_tokens": tier.threshold_tokens,
        "effective_from": effective_from,
        "effective_to": effective_to,
        **{bucket: getattr(tier.prices, bucket) for bucket in BUCKETS},
        "catalogue_model_id": catalogue[1].id if catalogue else None,
        "catalogue_provider_id": catalogue[0].id if catalogue else None,
        "catalogue_version": catalogue_version(),
        "has_tiered_prices": has_tiered,
        "has_time_of_day_prices": time_of_day,
        "note": note,
    }


def _tier_timelines(
    periods: Sequence[PricePeriod],
) -> dict[str, list[tuple[date, date | None, TierPrices]]]:
    """Per service tier, its prices over time with identical neighbours merged.

    Periods split whenever *any* tier's price changes; one tier's table should only change when
    its own price does.
    """
    timelines: dict[str, list[tuple[date, date | None, TierPrices]]] = {}
    for period in periods:
        for tier, tier_prices in period.service_tiers.items():
            timeline = timelines.setdefault(tier, [])
            if (
                timeline
                and timeline[-1][1] == period.effective_from
                and (timeline[-1][2] == tier_prices)
            ):
                timeline[-1] = (timeline[-1][0], period.effective_to, tier_prices)
            else:
                timeline.append((period.effective_from, period.effective_to, tier_prices))
    return timelines


def _catalogue_rows(
    provider: str, model: str, found: tuple[Provider, ModelInfo]
) -> list[dict[str, Any]]:
    catalogue_provider, model_info = found
    variants_apply = any(model_info is m for m in catalogue_provider.models)
    time_of_day = has_time_of_day_prices(model_info)
    periods = price_periods(model_info, catalogue_provider, variants_apply=variants_apply)
    rows: list[dict[str, Any]] = []
    for service_tier, timeline in _tier_timelines(periods).items():
        for effective_from, effective_to, tier_prices in timeline:
            if tier_prices.tiers[0].prices.is_empty():
                continue
            for index, tier in enumerate(tier_prices.tiers):
                rows.append(
                    _row(
                        provider,
                        model,
                        source=PRICE_SOURCE,
                        version=catalogue_version(),
                        basis=tier_prices.basis,
                        service_tier=service_tier,
                        context_tier=index,
                        tier=tier,
                        effective_from=effective_from,
                        effective_to=effective_to,
                        catalogue=found,
                        has_tiered=tier_prices.has_tiered_prices,
                        time_of_day=time_of_day,
                    )
                )
    return rows


def _override_rows(
    provider: str,
    model: str,
    overrides: PriceOverrides,
    catalogue_rows: Sequence[dict[str, Any]],
    found: tuple[Provider, ModelInfo] | None,
) -> list[dict[str, Any]]:
    """Override rows for one usage pair: specific entries, then '*' discounts around them."""
    matching = [e for e in overrides.entries if e.covers(provider, model)]
    specific = [e for e in matching if not e.is_wildcard]
    rows: list[dict[str, Any]] = []
    for entry in matching:
        if entry.is_wildcard:
            holes_by_tier = {
                tier: [
                    (s.effective_from, s.effective_to)
                    for s in specific
                    if s.service_tier is None or s.service_tier == tier
                ]
                for tier in SERVICE_TIERS
            }
        else:
            holes_by_tier = {tier: [] for tier in SERVICE_TIERS}
        if entry.prices is not None:
            assert entry.service_tier is not None
            for start, end in _subtract(
                entry.effective_from, entry.effective_to, holes_by_tier[entry.service_tier]
            ):
                rows.append(
                    _row(
                        provider,
                        model,
                        source=OVERRIDE_SOURCE,
                        version=overrides.version,
                        basis="override",
                        service_tier=entry.service_tier,
                        context_tier=0,
                        tier=ContextTier(None, entry.prices),
                        effective_from=start,
                        effective_to=end,
                        catalogue=found,
                        has_tiered=False,
                        time_of_day=False,
                        note=entry.note,
                    )
                )
            continue
        assert entry.discount_percent is not None
        factor = (Decimal(100) - entry.discount_percent) / Decimal(100)
        for base in catalogue_rows:
            tier = base["service_tier"]
            if entry.service_tier is not None and tier != entry.service_tier:
                continue
            clipped = _clip(
                base["effective_from"],
                base["effective_to"],
                entry.effective_from,
                entry.effective_to,
            )
            if clipped is None:
                continue
            prices = BucketPrices(**{b: base[b] for b in BUCKETS}).scaled(factor)
            for start, end in _subtract(*clipped, holes_by_tier[tier]):
                rows.append(
                    {
                        **base,
                        **{b: getattr(prices, b) for b in BUCKETS},
                        "price_source": OVERRIDE_SOURCE,
                        "price_version": overrides.version,
                        "price_basis": "override_discount",
                        "effective_from": start,
                        "effective_to": end,
                        "note": entry.note,
                    }
                )
    return rows


def price_rows(
    pairs: Iterable[tuple[str | None, str | None]],
    *,
    start: date | None = None,
    end: date | None = None,
    snapshot: DataSnapshot | None = None,
    overrides: PriceOverrides = NO_OVERRIDES,
) -> list[dict[str, Any]]:
    """The price table for the given usage (provider, model) pairs plus the override entries.

    One dict per provider x model x price_source x service_tier x context_tier x effective period,
    keyed by :data:`PRICE_COLUMNS`. Pairs the catalogue does not know get catalogue rows only if an
    override prices them; periods that price none of the token buckets get no row: their usage
    stays unpriced rather than costing $0. ``start``/``end`` (inclusive usage dates) drop periods
    no usage can fall in (override rows are always kept, so ``dim_prices`` shows every one).
    Explicit override entries for models not in ``pairs`` (custom models not used yet) are
    included too. Duplicate or NULL pairs are skipped.
    """
    snap = snapshot if snapshot is not None else get_snapshot()
    wanted = {(p, m) for p, m in pairs if p and m}
    wanted |= {(e.provider, e.model) for e in overrides.entries if not e.is_wildcard}
    rows: list[dict[str, Any]] = []
    for provider, model in sorted(wanted):
        found = resolve_model(provider, model, snap)
        catalogue_rows = _catalogue_rows(provider, model, found) if found else []
        rows += [
            r
            for r in catalogue_rows
            if _overlaps(r["effective_from"], r["effective_to"], start, end)
        ]
        rows += _override_rows(provider, model, overrides, catalogue_rows, found)
    return rows


def price_relation(
    session: duckdb.DuckDBPyConnection, rows: Sequence[Mapping[str, Any]]
) -> duckdb.DuckDBPyRelation:
    """``rows`` (as :func:`price_rows` returns them) as a DuckDB relation typed as
    :data:`PRICE_COLUMNS`: what the dbt Python models that build price tables return.

    Every value travels as text and is cast in SQL: decimals stay exact, and the columns get their
    types even when there are no rows. DuckDB reads the rows as JSON rather than from a pandas
    frame because importing pandas would cost a dbt build more than everything these models do.
    """
    as_text = [{c: None if row[c] is None else str(row[c]) for c in PRICE_COLUMNS} for row in rows]
    relation = session.read_json(
        io.BytesIO(json.dumps(as_text).encode()),
        format="array",
        columns={name: "VARCHAR" for name in PRICE_COLUMNS},
    )
    return relation.project(
        ", ".join(f'cast("{name}" as {dtype}) as "{name}"' for name, dtype in PRICE_COLUMNS.items())
    )


def price_in_force(
    rows: Sequence[Mapping[str, Any]],
    day: date,
    *,
    service_tier: str = "standard",
    request_input_tokens: int | None = None,
) -> Mapping[str, Any] | None:
    """The row ``int_usage_priced`` applies to usage on ``day`` (the same rules, in Python).

    Overrides win over the catalogue; among the winner's context tiers the highest whose
    threshold the request's input tokens exceed (the base tier when the size is unknown).
    """
    for source in (OVERRIDE_SOURCE, PRICE_SOURCE):
        candidates = [
            r
            for r in rows
            if r["price_source"] == source
            and r["service_tier"] == service_tier
            and r["effective_from"] <= day
            and (r["effective_to"] is None or day < r["effective_to"])
            and (
                r["context_threshold_tokens"] is None
                or (
                    request_input_tokens is not None
                    and request_input_tokens > r["context_threshold_tokens"]
                )
            )
        ]
        if candidates:
            return max(candidates, key=lambda r: r["context_tier"])
    return None


def list_cost_usd(row: Mapping[str, Any], tokens: Mapping[str, int]) -> Decimal | None:
    """The cost of disjoint token counts at one price row, exactly as ``int_usage_priced``.

    ``tokens`` has ``input_tokens`` (uncached), ``cached_input_tokens``, ``cache_write_tokens``
    (every cache write), ``cache_write_1h_tokens`` (the part of the writes with a 1-hour TTL) and
    ``output_tokens``. A cache read or write without its own price is charged at the input price, a
    1-hour write without its own price at the cache-write price (what genai-prices computes, since
    its input total includes cache tokens); missing prices for non-zero tokens in any other bucket
    make the cost unknown (None), never $0.
    """
    input_price = row["input_per_mtok"]
    write_price = (
        row["cache_write_per_mtok"] if row["cache_write_per_mtok"] is not None else (input_price)
    )
    write_1h_price = row.get("cache_write_1h_per_mtok")
    writes = tokens.get("cache_write_tokens", 0) or 0
    writes_1h = tokens.get("cache_write_1h_tokens", 0) or 0
    rates_and_counts = [
        (input_price, tokens.get("input_tokens", 0) or 0),
        (
            row["cached_input_per_mtok"]
            if row["cached_input_per_mtok"] is not None
            else input_price,
            tokens.get("cached_input_tokens", 0) or 0,
        ),
        (write_price, writes - writes_1h),
        (write_1h_price if write_1h_price is not None else write_price, writes_1h),
        (row["output_per_mtok"], tokens.get("output_tokens", 0) or 0),
    ]
    total = Decimal(0)
    for rate, count in rates_and_counts:
        if count == 0:
            continue
        if rate is None:
            return None
        total += Decimal(count) * rate
    return total / Decimal(1_000_000)
