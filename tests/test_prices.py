"""The price table built from genai-prices agrees with genai-prices' own calculation."""

from __future__ import annotations

from datetime import UTC, date, datetime
from decimal import Decimal

import pytest
from genai_prices import Usage, calc_price
from genai_prices.types import ConditionalPrice, ModelInfo, ModelPrice, StartDateConstraint

from ingest import prices

# (provider, model, UTC request time): dated prices (o3 before and after its 2025-06-10 cut),
# a cache-write price (Claude), tiered prices (Claude Sonnet 4.5, Gemini 2.5 Pro) below their
# 200k threshold, and a time-of-day model (DeepSeek) outside its peak window.
CASES = [
    ("openai", "gpt-4o", datetime(2025, 3, 1, 12, tzinfo=UTC)),
    ("openai", "gpt-4o-mini", datetime(2025, 3, 1, 12, tzinfo=UTC)),
    ("openai", "o3", datetime(2025, 6, 9, 23, 59, tzinfo=UTC)),
    ("openai", "o3", datetime(2025, 6, 10, 0, 1, tzinfo=UTC)),
    ("anthropic", "claude-sonnet-4-5", datetime(2025, 11, 1, 9, tzinfo=UTC)),
    ("anthropic", "claude-opus-4-1", datetime(2025, 9, 1, 9, tzinfo=UTC)),
    ("anthropic", "claude-3-5-haiku-20241022", datetime(2025, 1, 15, 9, tzinfo=UTC)),
    ("google", "gemini-2.5-pro", datetime(2025, 8, 1, 9, tzinfo=UTC)),
    ("deepseek", "deepseek-chat", datetime(2025, 8, 1, 20, tzinfo=UTC)),
]

# Disjoint meterr buckets; genai-prices' input_tokens is their input total.
UNCACHED, CACHE_READ, CACHE_WRITE, OUTPUT = 41_000, 12_000, 3_000, 2_500


def _row_on(rows: list[dict], day: date) -> dict:
    matching = [
        r
        for r in rows
        if r["effective_from"] <= day and (r["effective_to"] is None or day < r["effective_to"])
    ]
    assert len(matching) == 1, f"expected exactly one price in force on {day}, got {matching}"
    return matching[0]


@pytest.mark.parametrize(("provider", "model", "when"), CASES)
def test_price_table_matches_calc_price(provider: str, model: str, when: datetime) -> None:
    rows = prices.price_rows([(provider, model)])
    assert rows, f"{provider}/{model} should be in the bundled catalogue"
    row = _row_on(rows, when.date())
    # A model without a cache-write price (OpenAI) charges writes as input in genai-prices too.
    cache_write = CACHE_WRITE if row["cache_write_per_mtok"] is not None else 0
    ours = prices.list_cost_usd(
        row,
        {
            "input_tokens": UNCACHED,
            "cached_input_tokens": CACHE_READ,
            "cache_write_tokens": cache_write,
            "output_tokens": OUTPUT,
        },
    )
    usage = Usage(
        input_tokens=UNCACHED + CACHE_READ + cache_write,
        cache_read_tokens=CACHE_READ,
        cache_write_tokens=cache_write,
        output_tokens=OUTPUT,
    )
    theirs = calc_price(usage, model, provider_id=provider, genai_request_timestamp=when)
    assert ours == theirs.total_price


def test_cache_write_without_catalogue_price_costs_input_price() -> None:
    """OpenAI has no cache-write price: genai-prices charges those tokens at the input price."""
    row = _row_on(prices.price_rows([("openai", "gpt-4o")]), date(2025, 3, 1))
    assert row["cache_write_per_mtok"] is None
    ours = prices.list_cost_usd(row, {"input_tokens": 1_000, "cache_write_tokens": 4_000})
    theirs = calc_price(
        Usage(input_tokens=5_000, cache_write_tokens=4_000),
        "gpt-4o",
        provider_id="openai",
        genai_request_timestamp=datetime(2025, 3, 1, tzinfo=UTC),
    )
    assert ours == theirs.total_price


def test_o3_price_cut_splits_periods() -> None:
    rows = prices.price_rows([("openai", "o3")])
    assert [(r["effective_from"], r["effective_to"]) for r in rows] == [
        (prices.OPEN_START, date(2025, 6, 10)),
        (date(2025, 6, 10), None),
    ]
    assert rows[0]["input_per_mtok"] == Decimal("10")
    assert rows[1]["input_per_mtok"] == Decimal("2")
    assert {r["catalogue_version"] for r in rows} == {prices.catalogue_version()}
    assert {r["price_source"] for r in rows} == {"genai-prices"}


def test_date_range_drops_periods_no_usage_falls_in() -> None:
    after_cut = prices.price_rows([("openai", "o3")], start=date(2025, 7, 1), end=date(2025, 7, 31))
    assert [r["effective_from"] for r in after_cut] == [date(2025, 6, 10)]
    before_cut = prices.price_rows([("openai", "o3")], start=date(2025, 1, 1), end=date(2025, 6, 9))
    assert [r["effective_to"] for r in before_cut] == [date(2025, 6, 10)]


def test_unknown_models_and_providers_get_no_row() -> None:
    rows = prices.price_rows(
        [
            ("openai", "no-such-model-xyz"),
            ("stability", "sdxl"),
            ("openai", None),
            (None, "gpt-4o"),
            ("openai", "gpt-4o"),
            ("openai", "gpt-4o"),
        ]
    )
    assert [(r["provider"], r["model"]) for r in rows] == [("openai", "gpt-4o")]


def test_tiered_prices_use_base_and_are_flagged() -> None:
    (row,) = prices.price_rows([("anthropic", "claude-sonnet-4-5")])
    assert row["has_tiered_prices"] is True
    assert row["input_per_mtok"] == Decimal("3")
    (flat,) = prices.price_rows([("openai", "gpt-4o-mini")])
    assert flat["has_tiered_prices"] is False


def test_time_of_day_prices_use_the_default_price() -> None:
    (row,) = prices.price_rows([("deepseek", "deepseek-chat")])
    assert row["has_time_of_day_prices"] is True
    off_peak = calc_price(
        Usage(input_tokens=1_000_000),
        "deepseek-chat",
        provider_id="deepseek",
        genai_request_timestamp=datetime(2025, 8, 1, 20, tzinfo=UTC),
    )
    assert row["input_per_mtok"] == off_peak.total_price


def test_provider_alias_resolves() -> None:
    """meterr names xAI ``xai``; the catalogue's id is ``x-ai``."""
    rows = prices.price_rows([("xai", "grok-3")])
    assert rows and rows[0]["catalogue_provider_id"] == "x-ai"
    assert rows[0]["provider"] == "xai"


def test_missing_output_price_makes_cost_unknown() -> None:
    (row,) = prices.price_rows([("openai", "text-embedding-3-small")])
    assert row["output_per_mtok"] is None
    assert prices.list_cost_usd(row, {"input_tokens": 1_000_000}) == Decimal("0.02")
    assert prices.list_cost_usd(row, {"input_tokens": 10, "output_tokens": 5}) is None


def test_periods_merge_identical_neighbours() -> None:
    same = ModelPrice(input_mtok=Decimal("1"), output_mtok=Decimal("2"))
    model = ModelInfo(
        id="m",
        match={"equals": "m"},  # type: ignore[arg-type]
        prices=[
            ConditionalPrice(constraint=None, prices=same),
            ConditionalPrice(constraint=StartDateConstraint(date(2025, 1, 1)), prices=same),
            ConditionalPrice(
                constraint=StartDateConstraint(date(2025, 3, 1)),
                prices=ModelPrice(input_mtok=Decimal("0.5"), output_mtok=Decimal("2")),
            ),
        ],
    )
    periods = prices.price_periods(model)
    assert [(p.effective_from, p.effective_to) for p in periods] == [
        (prices.OPEN_START, date(2025, 3, 1)),
        (date(2025, 3, 1), None),
    ]
    assert periods[1].prices.input_per_mtok == Decimal("0.5")
