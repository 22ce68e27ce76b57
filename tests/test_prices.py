"""The price table built from genai-prices (and prices.yaml) agrees with genai-prices' own
calculation, and the override file is parsed strictly."""

from __future__ import annotations

import hashlib
import json
import subprocess
import sys
from datetime import UTC, date, datetime
from decimal import Decimal
from pathlib import Path

import pytest
from genai_prices import Usage, calc_price
from genai_prices.types import ConditionalPrice, ModelInfo, ModelPrice, StartDateConstraint

from ingest import prices

# (provider, model, UTC request time): dated prices (o3 before and after its 2025-06-10 cut),
# cache-write prices (Claude, with a dearer 1-hour TTL), tiered prices (Claude Sonnet 4.5, Gemini
# 2.5 Pro) below their 200k threshold, and a time-of-day model (DeepSeek) outside its peak window.
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
UNCACHED, CACHE_READ, CACHE_WRITE, CACHE_WRITE_1H, OUTPUT = 41_000, 12_000, 3_000, 1_000, 2_500


def _genai(
    provider: str,
    model: str,
    when: datetime,
    tokens: dict[str, int],
    context: dict[str, str] | None = None,
) -> Decimal:
    """genai-prices' own price for one request of meterr's disjoint token buckets."""
    reads = tokens.get("cached_input_tokens", 0)
    writes = tokens.get("cache_write_tokens", 0)
    usage = Usage(
        input_tokens=tokens.get("input_tokens", 0) + reads + writes,
        cache_read_tokens=reads,
        cache_write_tokens=writes,
        cache_write_1h_tokens=tokens.get("cache_write_1h_tokens", 0),
        output_tokens=tokens.get("output_tokens", 0),
    )
    return calc_price(
        usage, model, provider_id=provider, genai_request_timestamp=when, price_context=context
    ).total_price


def _ours(
    provider: str,
    model: str,
    when: datetime,
    tokens: dict[str, int],
    tier: str = "standard",
    overrides: prices.PriceOverrides = prices.NO_OVERRIDES,
) -> Decimal | None:
    rows = [
        r
        for r in prices.price_rows([(provider, model)], overrides=overrides)
        if (r["provider"], r["model"]) == (provider, model)
    ]
    request_input = (
        tokens.get("input_tokens", 0)
        + tokens.get("cached_input_tokens", 0)
        + tokens.get("cache_write_tokens", 0)
    )
    row = prices.price_in_force(
        rows, when.date(), service_tier=tier, request_input_tokens=request_input
    )
    assert row is not None, f"no {tier} price for {provider}/{model} on {when.date()}"
    return prices.list_cost_usd(row, tokens)


@pytest.mark.parametrize(("provider", "model", "when"), CASES)
def test_price_table_matches_calc_price(provider: str, model: str, when: datetime) -> None:
    rows = prices.price_rows([(provider, model)])
    assert rows, f"{provider}/{model} should be in the bundled catalogue"
    row = prices.price_in_force(rows, when.date())
    assert row is not None
    # A model without a cache-write price (OpenAI) charges writes as input in genai-prices too.
    has_writes = row["cache_write_per_mtok"] is not None
    tokens = {
        "input_tokens": UNCACHED,
        "cached_input_tokens": CACHE_READ,
        "cache_write_tokens": CACHE_WRITE if has_writes else 0,
        "cache_write_1h_tokens": CACHE_WRITE_1H if has_writes else 0,
        "output_tokens": OUTPUT,
    }
    assert _ours(provider, model, when, tokens) == _genai(provider, model, when, tokens)


@pytest.mark.parametrize(
    ("provider", "model", "when"),
    [
        ("anthropic", "claude-sonnet-4-5", datetime(2025, 11, 1, 9, tzinfo=UTC)),
        ("google", "gemini-2.5-pro", datetime(2025, 8, 1, 9, tzinfo=UTC)),
    ],
)
def test_long_context_request_matches_calc_price(provider: str, model: str, when: datetime) -> None:
    """A single request above the 200k threshold pays the tier price on all of its tokens."""
    tokens = {"input_tokens": 240_000, "cached_input_tokens": 30_000, "output_tokens": 4_000}
    ours = _ours(provider, model, when, tokens)
    assert ours == _genai(provider, model, when, tokens)
    below = {"input_tokens": 150_000, "cached_input_tokens": 30_000, "output_tokens": 4_000}
    assert _ours(provider, model, when, below) == _genai(provider, model, when, below)
    # The tier really is dearer: the long request costs more than its size alone explains.
    assert ours is not None and ours > _ours(provider, model, when, below) * 270 / 180


@pytest.mark.parametrize(
    ("provider", "model", "tier", "context"),
    [
        ("openai", "gpt-4o", "batch", {"processing": "batch"}),
        ("openai", "gpt-5", "flex", {"service_tier": "flex"}),
        ("openai", "gpt-5", "priority", {"service_tier": "priority"}),
        ("anthropic", "claude-sonnet-4-5", "batch", {"processing": "batch"}),
    ],
)
def test_service_tier_matches_calc_price(
    provider: str, model: str, tier: str, context: dict[str, str]
) -> None:
    """On days the catalogue prices the tier, meterr's tier row is exactly genai-prices'."""
    when = datetime(2026, 10, 20, 12, tzinfo=UTC)
    tokens = {"input_tokens": 50_000, "cached_input_tokens": 20_000, "output_tokens": 5_000}
    assert _ours(provider, model, when, tokens, tier) == _genai(
        provider, model, when, tokens, context
    )
    rows = prices.price_rows([(provider, model)])
    row = prices.price_in_force(rows, when.date(), service_tier=tier)
    assert row is not None and row["price_basis"] == "catalogue_service_tier"


def test_batch_without_catalogue_price_is_half_of_standard() -> None:
    """Before the catalogue has batch prices, OpenAI and Anthropic batch is 50% of standard."""
    when = datetime(2026, 3, 1, 12, tzinfo=UTC)
    tokens = {"input_tokens": 50_000, "cached_input_tokens": 20_000, "output_tokens": 5_000}
    for provider, model in (("openai", "gpt-4o"), ("anthropic", "claude-opus-4-1")):
        standard = _genai(provider, model, when, tokens)
        assert _ours(provider, model, when, tokens, "batch") == standard / 2
        row = prices.price_in_force(
            prices.price_rows([(provider, model)]), when.date(), service_tier="batch"
        )
        assert row is not None and row["price_basis"] == "batch_discount_rule"


def test_tiers_the_catalogue_does_not_price_get_no_row() -> None:
    """gpt-4o has no flex price; DeepSeek has no batch price and no documented batch rule."""
    rows = prices.price_rows([("openai", "gpt-4o"), ("deepseek", "deepseek-chat")])
    day = date(2026, 3, 1)
    gpt_4o = [r for r in rows if r["model"] == "gpt-4o"]
    assert prices.price_in_force(gpt_4o, day, service_tier="flex") is None
    deepseek = [r for r in rows if r["model"] == "deepseek-chat"]
    assert prices.price_in_force(deepseek, day, service_tier="batch") is None
    assert prices.price_in_force(deepseek, day) is not None


def test_o3_price_cut_splits_periods() -> None:
    rows = [r for r in prices.price_rows([("openai", "o3")]) if r["service_tier"] == "standard"]
    assert [(r["effective_from"], r["effective_to"]) for r in rows] == [
        (prices.OPEN_START, date(2025, 6, 10)),
        (date(2025, 6, 10), None),
    ]
    assert rows[0]["input_per_mtok"] == Decimal("10")
    assert rows[1]["input_per_mtok"] == Decimal("2")
    assert {r["catalogue_version"] for r in rows} == {prices.catalogue_version()}
    assert {r["price_version"] for r in rows} == {prices.catalogue_version()}
    assert {r["price_source"] for r in rows} == {"genai-prices"}


def test_date_range_drops_periods_no_usage_falls_in() -> None:
    def standard(rows: list[dict]) -> list[dict]:
        return [r for r in rows if r["service_tier"] == "standard"]

    after_cut = prices.price_rows([("openai", "o3")], start=date(2025, 7, 1), end=date(2025, 7, 31))
    assert [r["effective_from"] for r in standard(after_cut)] == [date(2025, 6, 10)]
    before_cut = prices.price_rows([("openai", "o3")], start=date(2025, 1, 1), end=date(2025, 6, 9))
    assert [r["effective_to"] for r in standard(before_cut)] == [date(2025, 6, 10)]


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
    assert {(r["provider"], r["model"]) for r in rows} == {("openai", "gpt-4o")}


def test_tiered_prices_have_a_row_per_context_tier() -> None:
    rows = [
        r
        for r in prices.price_rows([("anthropic", "claude-sonnet-4-5")])
        if r["service_tier"] == "standard"
    ]
    assert [(r["context_tier"], r["context_threshold_tokens"]) for r in rows] == [
        (0, None),
        (1, 200_000),
    ]
    assert all(r["has_tiered_prices"] for r in rows)
    assert rows[0]["input_per_mtok"] == Decimal("3")
    assert rows[1]["input_per_mtok"] == Decimal("6")
    (flat,) = [
        r for r in prices.price_rows([("openai", "gpt-4o-mini")]) if r["service_tier"] == "standard"
    ]
    assert flat["has_tiered_prices"] is False


def test_time_of_day_prices_use_the_default_price() -> None:
    rows = prices.price_rows([("deepseek", "deepseek-chat")])
    (row,) = [r for r in rows if r["service_tier"] == "standard"]
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
    rows = prices.price_rows([("openai", "text-embedding-3-small")])
    row = prices.price_in_force(rows, date(2026, 1, 1))
    assert row is not None and row["output_per_mtok"] is None
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


# --------------------------------------------------------------------------------------------
# prices.yaml

OVERRIDES = """
version: 1
prices:
  - provider: openai
    model: gpt-4o
    effective_from: 2026-04-01
    input_per_mtok: 2.0
    cached_input_per_mtok: 1.0
    output_per_mtok: 8.0
    note: MSA 2026
  - provider: anthropic
    model: "*"
    discount_percent: 10
    effective_from: 2026-01-01
    effective_to: 2027-01-01
  - provider: anthropic
    model: claude-opus-4-1
    effective_from: 2026-06-01
    effective_to: 2026-07-01
    input_per_mtok: 1
    output_per_mtok: 2
  - provider: acme
    model: acme-large
    input_per_mtok: 0.8
    output_per_mtok: 3.2
"""


def _overrides(tmp_path: Path, text: str = OVERRIDES) -> prices.PriceOverrides:
    path = tmp_path / "prices.yaml"
    path.write_text(text, encoding="utf-8")
    return prices.load_overrides(path)


def test_override_wins_from_its_effective_date_only(tmp_path: Path) -> None:
    overrides = _overrides(tmp_path)
    tokens = {"input_tokens": 1_000_000, "cached_input_tokens": 1_000_000, "output_tokens": 1_000}
    before = datetime(2026, 3, 31, 23, tzinfo=UTC)
    after = datetime(2026, 4, 1, 0, 30, tzinfo=UTC)
    assert _ours("openai", "gpt-4o", before, tokens, overrides=overrides) == _genai(
        "openai", "gpt-4o", before, tokens
    )
    assert _ours("openai", "gpt-4o", after, tokens, overrides=overrides) == Decimal("3.008")
    rows = [
        r
        for r in prices.price_rows([("openai", "gpt-4o")], overrides=overrides)
        if r["model"] == "gpt-4o"
    ]
    row = prices.price_in_force(rows, after.date())
    assert row is not None
    digest = hashlib.sha256((tmp_path / "prices.yaml").read_bytes()).hexdigest()[:16]
    assert (row["price_source"], row["price_version"], row["price_basis"], row["note"]) == (
        "override",
        f"sha256:{digest}",
        "override",
        "MSA 2026",
    )


def test_discount_applies_to_every_tier_within_its_dates(tmp_path: Path) -> None:
    overrides = _overrides(tmp_path)
    tokens = {"input_tokens": 250_000, "output_tokens": 1_000}  # a long-context request
    model = "claude-sonnet-4-5"
    for when, factor in (
        (datetime(2025, 12, 31, tzinfo=UTC), Decimal(1)),
        (datetime(2026, 1, 1, tzinfo=UTC), Decimal("0.9")),
        (datetime(2027, 1, 1, tzinfo=UTC), Decimal(1)),
    ):
        list_price = _genai("anthropic", model, when, tokens)
        assert _ours("anthropic", model, when, tokens, overrides=overrides) == list_price * factor
    rows = prices.price_rows([("anthropic", model)], overrides=overrides)
    discounted = [r for r in rows if r["price_source"] == "override" and r["model"] == model]
    assert {r["service_tier"] for r in discounted} == {"standard", "batch"}
    assert {r["context_tier"] for r in discounted} == {0, 1}
    assert {r["price_basis"] for r in discounted} == {"override_discount"}


def test_specific_entry_wins_over_provider_wide_discount(tmp_path: Path) -> None:
    overrides = _overrides(tmp_path)
    tokens = {"input_tokens": 1_000_000, "output_tokens": 1_000_000}
    june = datetime(2026, 6, 15, tzinfo=UTC)
    may = datetime(2026, 5, 15, tzinfo=UTC)
    assert _ours("anthropic", "claude-opus-4-1", june, tokens, overrides=overrides) == 3
    assert _ours("anthropic", "claude-opus-4-1", may, tokens, overrides=overrides) == _genai(
        "anthropic", "claude-opus-4-1", may, tokens
    ) * Decimal("0.9")
    rows = prices.price_rows([("anthropic", "claude-opus-4-1")], overrides=overrides)
    standard_overrides = sorted(
        (r["effective_from"], r["effective_to"], r["price_basis"])
        for r in rows
        if r["price_source"] == "override"
        and r["service_tier"] == "standard"
        and r["model"] == "claude-opus-4-1"
    )
    assert standard_overrides == [
        (date(2026, 1, 1), date(2026, 6, 1), "override_discount"),
        (date(2026, 6, 1), date(2026, 7, 1), "override"),
        (date(2026, 7, 1), date(2027, 1, 1), "override_discount"),
    ]


def test_custom_model_is_priced_only_by_its_override(tmp_path: Path) -> None:
    overrides = _overrides(tmp_path)
    rows = prices.price_rows([], overrides=overrides)
    custom = [r for r in rows if r["model"] == "acme-large"]
    assert len(custom) == 1 and custom[0]["catalogue_model_id"] is None
    assert prices.list_cost_usd(
        custom[0], {"input_tokens": 1_000_000, "output_tokens": 1_000_000}
    ) == Decimal("4.0")
    assert not prices.price_rows([("acme", "acme-large")])


ENTRY = "prices:\n  - "  # one entry follows
GPT = "{provider: openai, model: gpt-4o, "


@pytest.mark.parametrize(
    ("text", "message"),
    [
        (ENTRY + GPT + "input_per_mtok: 1, colour: red}", "unknown key(s) colour"),
        (ENTRY + "{provider: openai, model: gpt-4o}", "give discount_percent or"),
        (ENTRY + GPT + "input_per_mtok: 1, discount_percent: 5}", "not both"),
        (ENTRY + GPT + "input_per_mtok: -1}", ">= 0"),
        (ENTRY + GPT + "input_per_mtok: 1$}", "a number"),
        (ENTRY + "{provider: openai, model: '*', input_per_mtok: 1}", "only works with"),
        (ENTRY + GPT + "output_per_mtok: 1}", "need input_per_mtok"),
        (
            ENTRY
            + GPT
            + "input_per_mtok: 1, effective_from: 2026-05-01, effective_to: 2026-04-01}",
            "must be after",
        ),
        (ENTRY + GPT + "input_per_mtok: 1, effective_from: 2026-13-01}", "YYYY-MM-DD"),
        (ENTRY + GPT + "input_per_mtok: 1, service_tier: gold}", "service_tier must be one of"),
        (
            ENTRY + GPT + "input_per_mtok: 1}\n  - " + GPT + "input_per_mtok: 2, "
            "effective_from: 2026-01-01}",
            "overlapping dates",
        ),
        (ENTRY + GPT + "discount_percent: 120}", "<= 100"),
        ("price:\n  - {provider: openai}\n", "unknown top-level key(s) price"),
        ("prices: [unclosed\n", "not valid YAML"),
        ("version: 2\nprices: []\n", "version must be 1"),
    ],
)
def test_invalid_override_files_fail_with_a_clear_message(
    tmp_path: Path, text: str, message: str
) -> None:
    with pytest.raises(prices.PriceOverrideError, match=None) as failure:
        _overrides(tmp_path, text)
    assert message in str(failure.value)
    assert "prices.yaml" in str(failure.value)


def test_entries_for_different_tiers_or_dates_may_coexist(tmp_path: Path) -> None:
    overrides = _overrides(
        tmp_path,
        "prices:\n"
        "  - {provider: openai, model: gpt-4o, input_per_mtok: 1, effective_to: 2026-01-01}\n"
        "  - {provider: openai, model: gpt-4o, input_per_mtok: 2, effective_from: 2026-01-01}\n"
        "  - {provider: openai, model: gpt-4o, input_per_mtok: 3, service_tier: batch}\n",
    )
    assert len(overrides.entries) == 3


def test_override_path_resolution(tmp_path: Path) -> None:
    home = tmp_path / "home"
    home.mkdir()
    env = {"METERR_HOME": str(home)}
    assert prices.override_path(None, env) is None
    assert prices.override_path("", env) is None
    (home / "prices.yaml").write_text("prices: []\n")
    assert prices.override_path("", env) == home / "prices.yaml"
    assert prices.override_path("none", env) is None
    explicit = tmp_path / "negotiated.yaml"
    explicit.write_text("prices: []\n")
    assert prices.override_path(str(explicit), env) == explicit
    with pytest.raises(prices.PriceOverrideError, match="does not exist"):
        prices.override_path(str(tmp_path / "missing.yaml"), env)


def test_example_file_is_valid() -> None:
    example = Path(__file__).resolve().parents[1] / "prices.example.yaml"
    overrides = prices.load_overrides(example)
    assert overrides.entries and overrides.version and overrides.version.startswith("sha256:")


MODELS_DIR = Path(__file__).resolve().parent.parent / "dbt_project/models/intermediate"
PRICE_LIST_MODEL = MODELS_DIR / "accounting/int_price_list.py"
SIBLING_PRICES_MODEL = MODELS_DIR / "insights/int_insights_sibling_prices.py"

# Runs a dbt Python model's function in a fresh interpreter (this one has pandas) against a real
# DuckDB holding the tables it refs (usage for int_price_list; usage days, the price list and the
# siblings seed for int_insights_sibling_prices), and materializes the returned relation the way
# dbt-duckdb does it (register, create table as). Prints the rows, the column types, and whether
# pandas got imported.
_RUN_PRICE_MODEL = """
import importlib.util, json, sys
import duckdb
spec = importlib.util.spec_from_file_location("price_model", sys.argv[1])
module = importlib.util.module_from_spec(spec)
spec.loader.exec_module(module)
con = duckdb.connect()
con.execute(
    "create table usage as select * from (values "
    "('openai', 'gpt-4o', date '2025-03-01'), ('anthropic', 'claude-opus-4-1', date '2025-09-01'),"
    "('openai', 'no-such-model-xyz', date '2025-03-02'), (null, 'gpt-4o', date '2025-03-03')"
    ") as t(provider, model, usage_date)"
)
con.execute(
    "create table price_list as select * from (values ('openai', 'gpt-4o')) t(provider, model)"
)
con.execute(
    "create table siblings as select * from (values ('OpenAI', 'gpt-4o', 'gpt-4o-mini'), "
    "('openai', 'gpt-4o', 'no-such-sibling-xyz')) t(provider, model, cheaper_model)"
)
TABLES = {"int_usage_unioned": "usage", "int_insights_usage_daily": "usage",
          "int_price_list": "price_list", "model_siblings": "siblings"}
class Config:
    def __call__(self, **kwargs): pass
    def get(self, name): return "none"
class Dbt:
    config = Config()
    def ref(self, name): return con.table(TABLES[name])
con.register("__model", module.model(Dbt(), con))
con.execute("create table built as select * from __model")
rows = con.sql("select * from built").fetchall()
print(json.dumps({
    "rows": [[None if v is None else str(v) for v in row] for row in rows],
    "types": dict(zip(con.table("built").columns, map(str, con.table("built").types))),
    "pandas": "pandas" in sys.modules,
}))
"""


def _run_price_model(path: Path) -> dict:
    out = subprocess.run(
        [sys.executable, "-c", _RUN_PRICE_MODEL, str(path)],
        stdout=subprocess.PIPE,
        text=True,
        check=True,
        timeout=120,
    )
    return json.loads(out.stdout)


def _as_stored(rows: list[dict]) -> list[tuple]:
    """Price rows as the text of what DuckDB stores: decimals exact to the last digit."""
    return sorted(
        (
            tuple(None if row[c] is None else str(row[c]) for c in prices.PRICE_COLUMNS)
            for row in rows
        ),
        key=str,
    )


def test_the_price_list_model_writes_price_rows_exactly_typed_without_pandas() -> None:
    # Importing pandas costs the dbt build about half a second; the model hands DuckDB JSON.
    result = _run_price_model(PRICE_LIST_MODEL)
    assert result["pandas"] is False
    assert result["types"] == prices.PRICE_COLUMNS
    # The date range spans every usage row, also the one without a provider.
    expected = prices.price_rows(
        [("openai", "gpt-4o"), ("anthropic", "claude-opus-4-1"), ("openai", "no-such-model-xyz")],
        start=date(2025, 3, 1),
        end=date(2025, 9, 1),
        overrides=prices.load_overrides(None),
    )
    assert expected, "the catalogue prices gpt-4o and claude-opus-4-1"
    assert sorted(map(tuple, result["rows"]), key=str) == _as_stored(expected)


def test_the_sibling_prices_model_prices_unused_siblings_exactly_typed_without_pandas() -> None:
    result = _run_price_model(SIBLING_PRICES_MODEL)
    assert result["pandas"] is False
    assert result["types"] == prices.PRICE_COLUMNS
    # gpt-4o-mini is priced on the last usage day; the sibling no catalogue knows gets no row.
    expected = prices.price_rows(
        [("openai", "gpt-4o-mini")],
        start=date(2025, 9, 1),
        end=date(2025, 9, 1),
        overrides=prices.load_overrides(None),
    )
    assert expected, "the catalogue prices gpt-4o-mini"
    assert sorted(map(tuple, result["rows"]), key=str) == _as_stored(expected)
