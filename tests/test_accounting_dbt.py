"""The accounting models built for real: prices vs genai-prices, re-pricing and restatements, one
source of truth per day, allocation, the monthly statement and its fees.

Most tests stand in for the union of all sources: they build an empty warehouse, replace
``intermediate.int_usage_unioned`` with a view over hand-written rows from any source (the API,
console exports, Helicone, ...) and build everything downstream of it. The restatement test goes
through ``raw.custom_usage`` and the real staging instead.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from pathlib import Path
from typing import Any

import duckdb
import pytest
from genai_prices import Usage, calc_price

from ingest import prices, settings
from ingest.paths import meterr_home
from tests.dbt_helpers import prepare_warehouse, query, run_dbt

pytestmark = pytest.mark.slow

# The union's columns (int_usage_unioned), including the optional ones int_usage_normalized reads.
UNION_COLUMNS: dict[str, str] = {
    "usage_ts": "TIMESTAMP",
    "usage_date": "DATE",
    "source": "VARCHAR",
    "provider": "VARCHAR",
    "model": "VARCHAR",
    "project_id": "VARCHAR",
    "api_key_id": "VARCHAR",
    "user_id": "VARCHAR",
    "integration_id": "VARCHAR",
    "request_id": "VARCHAR",
    "request_count": "BIGINT",
    "input_tokens": "BIGINT",
    "cached_input_tokens": "BIGINT",
    "cache_write_tokens": "BIGINT",
    "output_tokens": "BIGINT",
    "billed_cost_usd": "DECIMAL(38,12)",
    "_file_sha256": "VARCHAR",
    "service_tier": "VARCHAR",
    "cache_write_1h_tokens": "BIGINT",
    "is_long_context": "BOOLEAN",
}
TOKEN_DEFAULTS = {
    "request_count": 1,
    "input_tokens": 0,
    "cached_input_tokens": 0,
    "cache_write_tokens": 0,
    "cache_write_1h_tokens": 0,
    "output_tokens": 0,
}
CENT = Decimal("0.01")
MICRO = Decimal("0.000001")


def build_from_union(
    work: Path,
    rows: Iterable[Mapping[str, Any]],
    *,
    dbt_vars: Mapping[str, Any] | None = None,
    integrations: Iterable[tuple[str, str, str]] = (),
    select: Iterable[str] = ("+tag:accounting",),
    extra_args: Iterable[str] = ("--exclude-resource-type", "unit_test"),
) -> Path:
    """A warehouse whose union of sources is exactly ``rows``, built downstream of it.

    Each row maps union columns to values (``usage_date`` required; tokens default to 0,
    request_count to 1, service_tier to standard). ``integrations`` are (integration_id,
    owner user_id, provider) rows of meta.integrations. ``select`` and ``extra_args`` go to
    ``dbt build`` (see :func:`build_union`). Returns the warehouse path.
    """
    work.mkdir(parents=True, exist_ok=True)
    warehouse = work / "warehouse.duckdb"
    prepare_warehouse(warehouse)
    con = duckdb.connect(str(warehouse))
    try:
        con.execute("SET TimeZone = 'UTC'")
        con.execute("CREATE SCHEMA IF NOT EXISTS intermediate")
        columns = ", ".join(f'"{name}" {dtype}' for name, dtype in UNION_COLUMNS.items())
        con.execute(f"CREATE TABLE main.union_rows ({columns})")
        insert_union_rows(con, rows)
        con.execute(
            "CREATE OR REPLACE VIEW intermediate.int_usage_unioned AS SELECT * FROM main.union_rows"
        )
        for integration_id, user_id, provider in integrations:
            con.execute(
                "INSERT INTO meta.integrations (integration_id, user_id, provider, name, "
                "key_ciphertext, status, created_at) "
                "VALUES (?, ?, ?, ?, 'x', 'enabled', now())",
                [integration_id, user_id, provider, integration_id],
            )
    finally:
        con.close()
    build_union(warehouse, work, select=select, extra_args=extra_args, dbt_vars=dbt_vars)
    return warehouse


def insert_union_rows(con: duckdb.DuckDBPyConnection, rows: Iterable[Mapping[str, Any]]) -> None:
    """Add ``rows`` (as for :func:`build_from_union`) to the union of a warehouse made by it."""
    for row in rows:
        full = {**TOKEN_DEFAULTS, "service_tier": "standard", **row}
        full.setdefault("usage_ts", datetime.combine(full["usage_date"], datetime.min.time()))
        names = ", ".join(f'"{name}"' for name in full)
        marks = ", ".join("?" for _ in full)
        con.execute(f"INSERT INTO main.union_rows ({names}) VALUES ({marks})", list(full.values()))


def build_union(
    warehouse: Path,
    work: Path,
    *,
    select: Iterable[str] = ("+tag:accounting",),
    extra_args: Iterable[str] = ("--exclude-resource-type", "unit_test"),
    dbt_vars: Mapping[str, Any] | None = None,
) -> None:
    """``dbt build`` downstream of the union of a warehouse made by :func:`build_from_union`.

    ``select``: dbt selectors (empty: everything); ``extra_args``: more ``dbt build`` options.
    """
    selection = ["--select", *select] if select else []
    done = run_dbt(
        ["build", *selection, "--exclude", "+int_usage_unioned", *extra_args],
        warehouse,
        work,
        dbt_vars={"prices_override_path": "none", **(dbt_vars or {})},
    )
    assert done.returncode == 0, done.stdout[-6000:] + done.stderr[-2000:]


def rows_of(warehouse: Path, sql: str) -> list[dict[str, Any]]:
    con = duckdb.connect(str(warehouse), read_only=True)
    try:
        cursor = con.execute(sql)
        names = [d[0] for d in cursor.description]
        return [dict(zip(names, row, strict=True)) for row in cursor.fetchall()]
    finally:
        con.close()


# --------------------------------------------------------------------------------------------
# list cost == genai-prices, across providers, models, tiers and cache buckets

TIER_CONTEXT = {
    "standard": None,
    "batch": {"processing": "batch"},
    "flex": {"service_tier": "flex"},
    "priority": {"service_tier": "priority"},
}
# (request_id, provider, model, day, service_tier, uncached, cache read, cache write, of which 1h,
# output): one request each, so long-context tiers are decided per request as genai-prices does.
PRICING_CASES: list[tuple[str, str, str, date, str, int, int, int, int, int]] = [
    ("gpt4o", "openai", "gpt-4o", date(2026, 3, 1), "standard", 41_000, 12_000, 0, 0, 2_500),
    ("mini", "openai", "gpt-4o-mini", date(2026, 3, 1), "standard", 9_000, 1_000, 0, 0, 700),
    ("o3-before", "openai", "o3", date(2025, 6, 9), "standard", 10_000, 0, 0, 0, 5_000),
    ("o3-after", "openai", "o3", date(2025, 6, 10), "standard", 10_000, 0, 0, 0, 5_000),
    ("4o-batch", "openai", "gpt-4o", date(2026, 10, 20), "batch", 50_000, 20_000, 0, 0, 5_000),
    ("gpt5-flex", "openai", "gpt-5", date(2026, 10, 20), "flex", 50_000, 20_000, 0, 0, 5_000),
    ("gpt5-prio", "openai", "gpt-5", date(2026, 10, 20), "priority", 50_000, 20_000, 0, 0, 5_000),
    (
        "opus-1h",
        "anthropic",
        "claude-opus-4-1",
        date(2025, 9, 1),
        "standard",
        6_000,
        2_000,
        4_000,
        1_000,
        800,
    ),
    (
        "sonnet",
        "anthropic",
        "claude-sonnet-4-5",
        date(2025, 11, 1),
        "standard",
        41_000,
        12_000,
        3_000,
        1_000,
        2_500,
    ),
    (
        "sonnet-long",
        "anthropic",
        "claude-sonnet-4-5",
        date(2025, 11, 1),
        "standard",
        230_000,
        20_000,
        3_000,
        1_000,
        2_500,
    ),
    (
        "sonnet-batch-long",
        "anthropic",
        "claude-sonnet-4-5",
        date(2026, 10, 20),
        "batch",
        230_000,
        20_000,
        3_000,
        0,
        2_500,
    ),
    (
        "haiku",
        "anthropic",
        "claude-3-5-haiku-20241022",
        date(2025, 1, 15),
        "standard",
        9_000,
        5_000,
        2_000,
        0,
        400,
    ),
    (
        "gemini-long",
        "google",
        "gemini-2.5-pro",
        date(2025, 8, 1),
        "standard",
        240_000,
        0,
        0,
        0,
        4_000,
    ),
]


def _genai_cost(case: tuple) -> Decimal:
    _, provider, model, day, tier, uncached, reads, writes, writes_1h, output = case
    usage = Usage(
        input_tokens=uncached + reads + writes,
        cache_read_tokens=reads,
        cache_write_tokens=writes,
        cache_write_1h_tokens=writes_1h,
        output_tokens=output,
    )
    when = datetime.combine(day, datetime.min.time(), tzinfo=UTC) + timedelta(hours=12)
    return calc_price(
        usage,
        model,
        provider_id=provider,
        genai_request_timestamp=when,
        price_context=TIER_CONTEXT[tier],
    ).total_price


@pytest.fixture(scope="module")
def priced(tmp_path_factory: pytest.TempPathFactory) -> Path:
    rows = [
        {
            "request_id": request_id,
            "usage_date": day,
            "source": "helicone",
            "provider": provider,
            "model": model,
            "service_tier": tier,
            "input_tokens": uncached,
            "cached_input_tokens": reads,
            "cache_write_tokens": writes,
            "cache_write_1h_tokens": writes_1h,
            "output_tokens": output,
        }
        for request_id, provider, model, day, tier, uncached, reads, writes, writes_1h, output in (
            PRICING_CASES
        )
    ]
    # The same batch request before the catalogue has batch prices: the documented 50% rule.
    rows.append({**rows[0], "request_id": "4o-batch-rule", "service_tier": "batch"})
    # A tier nobody prices and a model nobody knows: unpriced, never $0.
    rows.append({**rows[0], "request_id": "4o-flex", "service_tier": "flex"})
    rows.append({**rows[0], "request_id": "unknown", "model": "no-such-model"})
    # int_usage_priced too: the marts read int_usage_priced_daily, the tests check single records.
    return build_from_union(
        tmp_path_factory.mktemp("priced"), rows, select=("+tag:accounting", "int_usage_priced")
    )


def test_list_cost_equals_genai_prices_to_the_cent(priced: Path) -> None:
    actual = {
        r["request_id"]: r for r in rows_of(priced, "select * from intermediate.int_usage_priced")
    }
    for case in PRICING_CASES:
        expected = _genai_cost(case)
        row = actual[case[0]]
        assert row["is_priced"], case
        assert abs(row["list_cost_usd"] - expected) < Decimal("0.005"), case  # to the cent
        assert abs(row["list_cost_usd"] - expected) < Decimal("0.000000001"), case  # and exactly
        assert row["price_source"] == "genai-prices"
        assert row["price_version"] == prices.catalogue_version()
    # The long-context requests really paid the tier price.
    assert actual["sonnet-long"]["context_tier"] == 1
    assert actual["sonnet-long"]["context_tier_basis"] == "per_request"
    assert actual["sonnet"]["context_tier"] == 0
    assert actual["gemini-long"]["context_tier"] == 1


def test_batch_rule_and_unpriced_states(priced: Path) -> None:
    actual = {
        r["request_id"]: r for r in rows_of(priced, "select * from intermediate.int_usage_priced")
    }
    standard = actual["gpt4o"]["list_cost_usd"]
    assert actual["4o-batch-rule"]["list_cost_usd"] == standard / 2
    assert actual["4o-batch-rule"]["price_basis"] == "batch_discount_rule"
    for request_id, reason in (("4o-flex", "unpriced_service_tier"), ("unknown", "unknown_model")):
        assert actual[request_id]["list_cost_usd"] is None
        assert actual[request_id]["is_priced"] is False
        assert actual[request_id]["unpriced_reason"] == reason
    spend = rows_of(
        priced,
        "select * from marts.fct_spend_daily where model = 'no-such-model'",
    )
    assert [r["spend_usd"] for r in spend] == [None]
    assert spend[0]["spend_basis"] == "unpriced" and spend[0]["has_unpriced_usage"]


def test_dim_prices_lists_catalogue_rows_with_provenance(priced: Path) -> None:
    dim = rows_of(priced, "select * from marts.dim_prices where model = 'claude-sonnet-4-5'")
    assert {(r["service_tier"], r["context_tier"]) for r in dim} >= {
        ("standard", 0),
        ("standard", 1),
        ("batch", 0),
        ("batch", 1),
    }
    assert {r["price_source"] for r in dim} == {"genai-prices"}
    long = [r for r in dim if r["service_tier"] == "standard" and r["context_tier"] == 1]
    assert long[0]["context_threshold_tokens"] == 200_000


# --------------------------------------------------------------------------------------------
# re-pricing: an override changes cost from its effective date only, and is restated

RESTATEMENT_DAYS = [date(2026, 3, 30), date(2026, 3, 31), date(2026, 4, 1), date(2026, 4, 2)]


def test_override_reprices_from_its_date_and_is_restated(tmp_path: Path) -> None:
    home = meterr_home(tmp_path / "home").ensure()
    work = tmp_path / "dbt"
    prepare_warehouse(
        home.warehouse,
        [
            dict(
                timestamp=datetime.combine(day, datetime.min.time()) + timedelta(hours=9),
                provider="openai",
                model="gpt-4o",
                input_tokens=1_000_000,
                cached_input_tokens=0,
                output_tokens=100_000,
                request_id=f"r{day}",
            )
            for day in RESTATEMENT_DAYS
        ],
    )

    def build() -> None:
        # As the Dagster asset does: vars from $METERR_HOME (meterr.yaml, prices.yaml).
        done = run_dbt(
            [
                "build",
                "--select",
                "+tag:accounting",
                "+fct_usage_daily",
                "int_usage_priced",
                "--exclude-resource-type",
                "unit_test",
            ],
            home.warehouse,
            work,
            dbt_vars=settings.dbt_vars(home),
        )
        assert done.returncode == 0, done.stdout[-6000:] + done.stderr[-2000:]

    def daily_cost() -> dict[date, Decimal]:
        return dict(
            query(home.warehouse, "select usage_date, list_cost_usd from marts.fct_usage_daily")
        )

    build()
    before = daily_cost()
    assert set(before.values()) == {Decimal("3.5")}  # 1M x $2.50 + 100k x $10
    assert query(home.warehouse, "select count(*) from marts.restatements") == [(0,)]

    (home.root / "prices.yaml").write_text(
        "prices:\n"
        "  - provider: openai\n"
        "    model: gpt-4o\n"
        "    effective_from: 2026-04-01\n"
        "    input_per_mtok: 2.00\n"
        "    output_per_mtok: 8.00\n"
        "    note: negotiated\n",
        encoding="utf-8",
    )
    digest = "sha256:" + prices.load_overrides(home.root / "prices.yaml").version.split(":")[1]
    build()
    after = daily_cost()
    assert after == {
        date(2026, 3, 30): Decimal("3.5"),
        date(2026, 3, 31): Decimal("3.5"),
        date(2026, 4, 1): Decimal("2.8"),
        date(2026, 4, 2): Decimal("2.8"),
    }
    restated = rows_of(home.warehouse, "select * from marts.restatements order by usage_date")
    assert [r["usage_date"] for r in restated] == [date(2026, 4, 1), date(2026, 4, 2)]
    for row in restated:
        assert (row["old_list_cost_usd"], row["new_list_cost_usd"], row["delta_usd"]) == (
            Decimal("3.5"),
            Decimal("2.8"),
            Decimal("-0.7"),
        )
        assert (row["old_price_sources"], row["old_price_versions"]) == (
            "genai-prices",
            prices.catalogue_version(),
        )
        assert (row["new_price_sources"], row["new_price_versions"]) == ("override", digest)
        assert row["restatement_reason"] == "price_change"
        assert row["restated_at"] is not None and row["build_id"] != row["previous_build_id"]
    priced_rows = rows_of(
        home.warehouse,
        "select usage_date, price_source, price_version from intermediate.int_usage_priced",
    )
    assert {(r["usage_date"], r["price_source"]) for r in priced_rows} == {
        (date(2026, 3, 30), "genai-prices"),
        (date(2026, 3, 31), "genai-prices"),
        (date(2026, 4, 1), "override"),
        (date(2026, 4, 2), "override"),
    }

    # A rebuild with nothing changed restates nothing and appends no history.
    history = query(home.warehouse, "select count(*) from marts.cost_history")
    build()
    assert query(home.warehouse, "select count(*) from marts.cost_history") == history
    assert query(home.warehouse, "select count(*) from marts.restatements") == [(2,)]


# --------------------------------------------------------------------------------------------
# one source of truth per day, and allocation

DAY = date(2026, 5, 4)
DAY2 = date(2026, 5, 5)


def _multi_source_rows() -> list[dict[str, Any]]:
    """One day of gpt-4o traffic seen by the usage API (its cost endpoint's $10.00 attached, as
    staging does), the console export and Helicone; a second day from the API only."""
    base = {"provider": "openai", "model": "gpt-4o", "project_id": "proj_1"}
    usage = {"request_count": 100, "input_tokens": 3_000_000, "output_tokens": 200_000}
    billed = {"billed_cost_usd": Decimal("10.00")}
    helicone = {**base, "usage_date": DAY, "source": "helicone"}
    return [
        # Day 1: the API and the console export, each with the $10.00 its cost data bills.
        {**base, **usage, **billed, "usage_date": DAY, "source": "openai_api"},
        {**base, **usage, **billed, "usage_date": DAY, "source": "openai_export"},
        # Helicone saw most of it, per user (one request without a user); u2's cost is reported.
        {
            **helicone,
            "user_id": "u1",
            "request_count": 40,
            "input_tokens": 1_200_000,
            "output_tokens": 80_000,
            "request_id": "h1",
        },
        {
            **helicone,
            "user_id": "u2",
            "request_count": 30,
            "input_tokens": 900_000,
            "output_tokens": 60_000,
            "billed_cost_usd": Decimal("2.85"),
            "request_id": "h2",
        },
        {
            **helicone,
            "request_count": 10,
            "input_tokens": 300_000,
            "output_tokens": 20_000,
            "request_id": "h3",
        },
        # Day 2: the usage API by API key, no cost endpoint; Helicone names the model differently
        # (its traffic is the API's, not extra spend, and it cannot share out gpt-4o's spend).
        {
            **base,
            "usage_date": DAY2,
            "source": "openai_api",
            "api_key_id": "key_a",
            "request_count": 6,
            "input_tokens": 600_000,
        },
        {
            **base,
            "usage_date": DAY2,
            "source": "openai_api",
            "api_key_id": "key_b",
            "request_count": 4,
            "input_tokens": 400_000,
        },
        {
            **base,
            "usage_date": DAY2,
            "source": "helicone",
            "model": "gpt-4o-2024-08-06",
            "user_id": "u1",
            "request_count": 10,
            "input_tokens": 1_000_000,
            "request_id": "h4",
        },
    ]


@pytest.fixture(scope="module")
def multi_source(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return build_from_union(tmp_path_factory.mktemp("multi"), _multi_source_rows())


def test_same_day_from_api_export_and_helicone_counts_once(multi_source: Path) -> None:
    spend = rows_of(multi_source, "select * from marts.fct_spend_daily order by usage_date")
    assert [(r["usage_date"], r["spend_usd"], r["authoritative_source"]) for r in spend] == [
        (DAY, Decimal("10.00"), "openai_api"),
        (DAY2, Decimal("2.50"), "openai_api"),  # usage x price: 1M x $2.50
    ]
    assert [r["spend_basis"] for r in spend] == ["billed", "priced"]
    assert spend[0]["sources_seen"] == "helicone,openai_api,openai_export"
    assert spend[0]["request_count"] == 100
    # Helicone's name for the model does not add a second row for the same traffic.
    assert {r["model"] for r in spend} == {"gpt-4o"}
    # Every source's own figure is still there (for reconciliation), but only one is spend.
    by_source = rows_of(
        multi_source,
        "select source, amount_usd, is_authoritative from intermediate.int_spend_by_source "
        f"where usage_date = date '{DAY}' order by source",
    )
    assert [(r["source"], r["amount_usd"], r["is_authoritative"]) for r in by_source] == [
        ("helicone", Decimal("7.60"), False),
        ("openai_api", Decimal("10.00"), True),
        ("openai_export", Decimal("10.00"), False),
    ]


def test_allocations_add_up_to_the_authoritative_total(multi_source: Path) -> None:
    allocated = rows_of(
        multi_source,
        "select * from marts.fct_spend_allocated order by usage_date, user_id, api_key_id",
    )
    day1 = {(r["user_id"], r["api_key_id"]): r for r in allocated if r["usage_date"] == DAY}
    assert sum(r["allocated_cost_usd"] for r in day1.values()) == Decimal("10.00")
    assert sum(r["request_count"] for r in day1.values()) == 100
    # Helicone's own costs: u1 1.2M x $2.50 + 80k x $10 = $3.80; u2 reported $2.85; the
    # request without a user $0.95 plus what Helicone did not see ($10 - $7.60) is unattributed.
    assert day1[("u1", None)]["allocated_cost_usd"] == Decimal("3.80")
    assert day1[("u2", None)]["allocated_cost_usd"] == Decimal("2.85")
    assert day1[(None, None)]["allocated_cost_usd"] == Decimal("3.35")
    assert day1[(None, None)]["allocation_basis"] == "unattributed"
    assert day1[("u1", None)]["allocation_basis"] == "observed_cost"
    assert {r["attribution_source"] for r in day1.values()} == {"helicone"}
    # Day 2: no request log covers gpt-4o, so the API's own keys share it.
    day2 = {r["api_key_id"]: r for r in allocated if r["usage_date"] == DAY2}
    assert set(day2) == {"key_a", "key_b"}
    assert day2["key_a"]["allocated_cost_usd"] == Decimal("1.50")
    assert day2["key_b"]["allocated_cost_usd"] == Decimal("1.00")
    assert {r["attribution_source"] for r in day2.values()} == {"openai_api"}


def test_reconciliation_compares_the_three_figures(multi_source: Path) -> None:
    (row,) = rows_of(
        multi_source,
        f"select * from marts.rpt_source_reconciliation where usage_date = date '{DAY}'",
    )
    assert row["estimated_cost_usd"] == Decimal("9.5")  # 3M x $2.50 + 200k x $10
    assert row["estimated_source"] == "provider_api"
    assert row["billed_cost_usd"] == Decimal("10")
    assert row["billed_source"] == "provider_api"
    assert row["observed_cost_usd"] == Decimal("7.60")
    assert row["observed_source"] == "helicone"
    assert row["status"] == "mismatch"
    assert row["reason_code"] == "observability_missing_traffic"
    assert row["observed_minus_estimated_tokens"] == -640_000


def test_cost_lines_itemise_the_spend(multi_source: Path) -> None:
    lines = rows_of(
        multi_source,
        f"select * from marts.fct_cost_lines where usage_date = date '{DAY}' order by token_bucket",
    )
    assert [(r["token_bucket"], r["tokens"]) for r in lines] == [
        ("input", 3_000_000),
        ("output", 200_000),
    ]
    assert [r["contracted_cost_usd"] for r in lines] == [Decimal("7.5"), Decimal("2.0")]
    # The billed $10.00 shared in proportion to contracted cost, exactly.
    assert [r["billed_cost_usd"] for r in lines] == [Decimal("7.894737"), Decimal("2.105263")]


# --------------------------------------------------------------------------------------------
# the "My integrations" statement and the fee models

MAY = date(2026, 5, 1)


def _integration_rows() -> list[dict[str, Any]]:
    """alice's two integrations in May: OpenAI $12.43, Stable Diffusion $8.21."""
    openai = {
        "provider": "openai",
        "model": "gpt-4o",
        "source": "openai_api",
        "integration_id": "int-openai",
        "request_count": 0,
    }
    sd = {
        "provider": "stability",
        "model": "stable-diffusion-3",
        "source": "webhook",
        "integration_id": "int-sd",
    }
    return [
        # $12.43 of OpenAI cost this month through alice's key: 1,000 requests of usage with the
        # first day's cost attached, and two days of cost lines without usage.
        {
            **openai,
            "usage_date": date(2026, 5, 1),
            "billed_cost_usd": Decimal("4.10"),
            "request_count": 1000,
            "input_tokens": 1000,
        },
        {**openai, "usage_date": date(2026, 5, 2), "billed_cost_usd": Decimal("5.00")},
        {**openai, "usage_date": date(2026, 5, 20), "billed_cost_usd": Decimal("3.33")},
        # $8.21 of Stable Diffusion images (reported per request by a webhook), 234 requests.
        {
            **sd,
            "usage_date": date(2026, 5, 3),
            "billed_cost_usd": Decimal("3.00"),
            "request_count": 100,
        },
        {
            **sd,
            "usage_date": date(2026, 5, 9),
            "billed_cost_usd": Decimal("5.21"),
            "request_count": 134,
        },
    ]


@pytest.fixture(scope="module")
def statement_warehouse(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    work = tmp_path_factory.mktemp("statement")
    warehouse = build_from_union(
        work,
        _integration_rows(),
        dbt_vars={"platform_fee_model": "percentage", "platform_fee_percent": 5},
        integrations=[("int-openai", "alice", "openai"), ("int-sd", "alice", "stability")],
    )
    return warehouse, work


def _statement(warehouse: Path) -> dict[str, dict[str, Any]]:
    rows = rows_of(warehouse, "select * from marts.monthly_statement")
    assert {(r["month"], r["user_id"]) for r in rows} == {(MAY, "alice")}
    return {r["integration_id"]: r for r in rows}


def test_monthly_statement_reproduces_my_integrations_example(
    statement_warehouse: tuple[Path, Path],
) -> None:
    lines = _statement(statement_warehouse[0])
    assert lines["int-openai"]["provider"] == "openai"
    assert lines["int-openai"]["provider_cost_usd"] == Decimal("12.43")
    assert lines["int-sd"]["provider_cost_usd"] == Decimal("8.21")
    # Total Platform Costs This Month: $20.64; Platform Service Fee (5% of platform costs):
    # $1.03; Total: $21.67.
    assert sum(r["provider_cost_usd"] for r in lines.values()) == Decimal("20.64")
    assert sum(r["platform_fee_usd"] for r in lines.values()) == Decimal("1.03")
    assert sum(r["total_usd"] for r in lines.values()) == Decimal("21.67")
    for line in lines.values():
        assert line["total_usd"] == line["provider_cost_usd"] + line["platform_fee_usd"]


@pytest.mark.parametrize(
    ("fee_vars", "fees"),
    [
        # $0.002 x 1,234 requests = $2.468 -> $2.47, split by requests.
        (
            {"platform_fee_model": "per_request", "platform_fee_per_request_usd": 0.002},
            {"int-openai": Decimal("2.00"), "int-sd": Decimal("0.47")},
        ),
        # $100 a month for the user, split by cost.
        (
            {"platform_fee_model": "flat_monthly", "platform_fee_flat_monthly_usd": 100},
            {"int-openai": Decimal("60.22"), "int-sd": Decimal("39.78")},
        ),
        # (percentage: the module's build above; none: the unit tests.)
    ],
)
def test_fee_models_are_exact(
    statement_warehouse: tuple[Path, Path],
    tmp_path: Path,
    fee_vars: dict[str, Any],
    fees: dict[str, Decimal],
) -> None:
    source, work = statement_warehouse
    warehouse = tmp_path / "warehouse.duckdb"
    warehouse.write_bytes(source.read_bytes())
    done = run_dbt(
        ["build", "--select", "monthly_statement", "--exclude-resource-type", "unit_test"],
        warehouse,
        tmp_path,
        dbt_vars={"prices_override_path": "none", **fee_vars},
    )
    assert done.returncode == 0, done.stdout[-4000:]
    lines = _statement(warehouse)
    assert {key: line["platform_fee_usd"] for key, line in lines.items()} == fees
    assert {line["fee_model"] for line in lines.values()} == {fee_vars["platform_fee_model"]}
    for line in lines.values():
        assert line["total_usd"] == line["provider_cost_usd"] + line["platform_fee_usd"]


# --------------------------------------------------------------------------------------------
# incremental pricing: a build re-prices only the days whose usage or prices changed, and the
# marts are what pricing everything again gives

# Models and seeds only: the data tests pass on every build elsewhere in this file.
MODELS_ONLY = ("--exclude-resource-type", "unit_test", "--exclude-resource-type", "test")
# Columns that say which build wrote a row rather than what the row says.
BUILD_COLUMNS = {"_built_by", "build_id", "built_at", "previous_build_id", "restated_at"}
JUNE = [date(2026, 6, 1), date(2026, 6, 2), date(2026, 6, 3), date(2026, 6, 4)]
GPT4O = {"provider": "openai", "model": "gpt-4o", "project_id": "p1"}
SONNET = {"provider": "anthropic", "model": "claude-sonnet-4-5"}
USAGE = {"request_count": 10, "input_tokens": 1_000_000, "output_tokens": 100_000}


def _built_by(warehouse: Path) -> dict[date, set[str]]:
    """The builds that wrote each day's rows of int_usage_priced_daily."""
    rows = query(
        warehouse,
        "select usage_date, list(distinct _built_by) "
        "from intermediate.int_usage_priced_daily group by usage_date",
    )
    return {day: set(builds) for day, builds in rows}


def _day_rows(warehouse: Path, day: date) -> list[tuple[Any, ...]]:
    return query(
        warehouse,
        "select * from intermediate.int_usage_priced_daily "
        f"where usage_date = date '{day}' order by all",
    )


def _contents(warehouse: Path) -> dict[str, list[tuple[Any, ...]]]:
    """Every mart, int_usage_priced_daily and the insights' daily tables, row by row, without the
    columns naming builds."""
    con = duckdb.connect(str(warehouse), read_only=True)
    try:
        tables = con.execute(
            "select table_schema || '.' || table_name from information_schema.tables "
            "where table_schema = 'marts' or table_name in ("
            "'int_usage_priced_daily', 'int_insights_usage_daily', 'int_insights_scope_daily'"
            ") order by 1"
        ).fetchall()
        contents = {}
        for (table,) in tables:
            columns = [
                name
                for name, *_ in con.execute(f"describe {table}").fetchall()
                if name not in BUILD_COLUMNS
            ]
            listed = ", ".join(f'"{name}"' for name in columns)
            contents[table] = con.execute(f"select {listed} from {table} order by all").fetchall()
        return contents
    finally:
        con.close()


# Models rebuilt a usage day at a time downstream of int_usage_priced_daily, each with a text
# column every row fills (macros/usage_day_builds.sql).
DAY_AT_A_TIME = {
    "intermediate.int_insights_usage_daily": "source",
    "intermediate.int_insights_scope_daily": "scope",
    "marts.fct_spend_daily": "authoritative_source",
    "marts.fct_spend_allocated": "authoritative_source",
}
MARK = " (kept)"


def _record(day: date, source: str, file: str, **columns: Any) -> dict[str, Any]:
    """A union row: 10 gpt-4o requests, 1M input and 100k output tokens; ``columns`` override."""
    return {**GPT4O, **USAGE, "usage_date": day, "source": source, "_file_sha256": file, **columns}


def test_rebuild_reprices_only_the_days_that_changed(tmp_path: Path) -> None:
    work = tmp_path / "dbt"
    warehouse = build_from_union(
        work,
        [
            # Day 1: the usage API with its cost line attached, and Helicone's view of it.
            _record(JUNE[0], "openai_api", "api-1", billed_cost_usd=Decimal("4.00")),
            _record(JUNE[0], "helicone", "helicone-1", user_id="u1", request_id="h1"),
            # Day 2: usage API usage whose cost line has not come in yet.
            _record(JUNE[1], "openai_api", "api-2"),
            # Day 3: a model nobody prices, from a custom file; day 4: Anthropic from the same file.
            _record(JUNE[2], "custom", "custom-1", model="mystery", request_id="c1"),
            _record(JUNE[3], "custom", "custom-1", **SONNET, request_id="c2"),
        ],
        select=(),
        extra_args=MODELS_ONLY,
    )
    first = _built_by(warehouse)
    assert set(first) == set(JUNE)
    untouched = _day_rows(warehouse, JUNE[3])

    con = duckdb.connect(str(warehouse))
    try:
        # Mark every row of the models kept a usage day at a time, to see which days a build
        # writes again (a recomputed day loses the mark).
        for table, column in DAY_AT_A_TIME.items():
            con.execute(f"update {table} set {column} = {column} || '{MARK}'")
        # Day 1: a new Helicone file adds a record.
        insert_union_rows(con, [_record(JUNE[0], "helicone", "helicone-2", user_id="u2")])
        # Day 2: the cost line arrives and is shared out over the usage loaded before (staging
        # does that): the records and their file are the same, only the billed cost is new.
        con.execute(
            "update main.union_rows set billed_cost_usd = 4.50 "
            "where usage_date = ? and source = 'openai_api'",
            [JUNE[1]],
        )
        # Day 3: its records are gone.
        con.execute("delete from main.union_rows where usage_date = ?", [JUNE[2]])
    finally:
        con.close()
    build_union(warehouse, work, select=(), extra_args=MODELS_ONLY)

    second = _built_by(warehouse)
    assert set(second) == {JUNE[0], JUNE[1], JUNE[3]}
    # Downstream, only the days whose priced usage changed were computed again; day 3 is gone.
    for table, column in DAY_AT_A_TIME.items():
        marked = query(
            warehouse,
            f"select usage_date, bool_and(ends_with({column}, '{MARK}')), "
            f"bool_or(ends_with({column}, '{MARK}')) from {table} group by all order by 1",
        )
        assert marked == [
            (JUNE[0], False, False), (JUNE[1], False, False), (JUNE[3], True, True)
        ], table
    con = duckdb.connect(str(warehouse))
    try:
        for table, column in DAY_AT_A_TIME.items():
            con.execute(f"update {table} set {column} = replace({column}, '{MARK}', '')")
    finally:
        con.close()
    # (The marts rebuilt whole read the marks: a build with nothing new rebuilds them unmarked.)
    build_union(warehouse, work, select=(), extra_args=MODELS_ONLY)
    (rebuilt_by,) = second[JUNE[0]]
    assert rebuilt_by not in first[JUNE[0]]
    assert second[JUNE[1]] == {rebuilt_by}
    # Day 4 did not change, so its rows were not even rewritten.
    assert _day_rows(warehouse, JUNE[3]) == untouched
    spend = dict(query(warehouse, "select usage_date, spend_usd from marts.fct_spend_daily"))
    assert set(spend) == {JUNE[0], JUNE[1], JUNE[3]}
    assert spend[JUNE[1]] == Decimal("4.50")
    users = query(
        warehouse,
        f"select user_id, request_count from marts.fct_usage_daily "
        f"where usage_date = date '{JUNE[0]}' and source = 'helicone' order by user_id",
    )
    assert users == [("u1", 10), ("u2", 10)]

    # The marts are exactly what pricing every day again gives.
    incremental = _contents(warehouse)
    build_union(warehouse, work, select=(), extra_args=(*MODELS_ONLY, "--full-refresh"))
    assert _contents(warehouse) == incremental

    # New code upstream (a different logic fingerprint): every day is priced again, same result.
    con = duckdb.connect(str(warehouse))
    try:
        con.execute(
            "update intermediate.int_usage_priced_daily set _logic_fingerprint = 'older meterr'"
        )
    finally:
        con.close()
    refreshed = set().union(*_built_by(warehouse).values())
    done = run_dbt(
        ["run", "--select", "int_usage_priced_daily"],
        warehouse,
        work,
        dbt_vars={"prices_override_path": "none"},
    )
    assert done.returncode == 0, done.stdout[-6000:]
    (repriced_by,) = set().union(*_built_by(warehouse).values())
    assert repriced_by not in refreshed
    daily = "intermediate.int_usage_priced_daily"
    assert _contents(warehouse)[daily] == incremental[daily]

    # Downstream, the same for a model kept a day at a time: new code upstream of it (as its
    # bookkeeping records) computes every day again, though no day of priced usage changed.
    downstream = [table.split(".")[1] for table in DAY_AT_A_TIME]
    build_union(warehouse, work, select=downstream, extra_args=MODELS_ONLY)
    con = duckdb.connect(str(warehouse))
    try:
        for table, column in DAY_AT_A_TIME.items():
            con.execute(f"update {table} set {column} = {column} || '{MARK}'")
        con.execute(
            "update intermediate._usage_day_builds set logic_fingerprint = 'older meterr' "
            "where model = 'fct_spend_daily'"
        )
    finally:
        con.close()
    build_union(warehouse, work, select=downstream, extra_args=MODELS_ONLY)
    # (The others' own records say nothing changed upstream of them.)
    assert _marks_kept(warehouse) == {
        table: (table != "marts.fct_spend_daily",) * 2 for table in DAY_AT_A_TIME
    }

    # A warehouse of a meterr from before the bookkeeping table: the models exist, the table does
    # not yet when their days are asked (its pre-hook runs later), so every day is recomputed.
    con = duckdb.connect(str(warehouse))
    try:
        con.execute("drop table intermediate._usage_day_builds")
    finally:
        con.close()
    build_union(warehouse, work, select=downstream, extra_args=MODELS_ONLY)
    assert _marks_kept(warehouse) == {table: (False, False) for table in DAY_AT_A_TIME}


def _marks_kept(warehouse: Path) -> dict[str, tuple[bool, bool]]:
    """For each model kept a day at a time: whether any, and whether all, of its rows still end
    with MARK (rows a build did not recompute)."""
    kept = {}
    for table, column in DAY_AT_A_TIME.items():
        marked = f"ends_with({column}, '{MARK}')"
        sql = f"select bool_or({marked}), bool_and({marked}) from {table}"
        [kept[table]] = query(warehouse, sql)
    return kept


# The measures int_usage_priced_daily sums, and what says how each record was priced.
DAILY_SUMS = (
    "record_count, request_count, input_tokens, cached_input_tokens, cache_write_tokens, "
    "cache_write_1h_tokens, output_tokens, billed_cost_usd, list_cost_usd, input_cost_usd, "
    "cached_input_cost_usd, cache_write_cost_usd, cache_write_1h_cost_usd, output_cost_usd, "
    "catalogue_list_cost_usd"
)
DAILY_GRAIN = (
    "usage_date, source, provider, model, user_id, service_tier, is_long_context, is_priced, "
    "unpriced_reason, price_source, context_tier, context_tier_basis, input_per_mtok, "
    "output_per_mtok, billed_cost_usd is not null, list_cost_usd is not null"
)


def test_daily_pricing_of_sums_equals_pricing_each_record(tmp_path: Path) -> None:
    """int_usage_priced_daily sums records priced alike before pricing them; every sum must be
    exactly what pricing each record (int_usage_priced) and adding up gives."""
    day = JUNE[0]
    sonnet = {**SONNET, "usage_date": day, "source": "helicone", "user_id": "u1"}
    gpt = {**GPT4O, "usage_date": day, "source": "helicone", "user_id": "u1"}
    rows = [
        # Single requests below and above Sonnet's 200k long-context threshold, with and without
        # cache reads and 1-hour cache writes, some with a billed cost.
        {**sonnet, "input_tokens": 1_000, "output_tokens": 200},
        {**sonnet, "input_tokens": 3_000, "output_tokens": 10, "cached_input_tokens": 500},
        {**sonnet, "input_tokens": 150_000, "cache_write_tokens": 70_000, "output_tokens": 9},
        {**sonnet, "input_tokens": 230_000, "output_tokens": 1_000},
        {**sonnet, "input_tokens": 5, "cache_write_tokens": 40, "cache_write_1h_tokens": 40},
        {**sonnet, "input_tokens": 7, "billed_cost_usd": Decimal("0.000123456789")},
        {**sonnet, "input_tokens": 9, "billed_cost_usd": Decimal("0.000000000001")},
        # An aggregated record (its size cannot pick a tier) and records with nothing in them.
        {**sonnet, "request_count": 10, "input_tokens": 300_000, "output_tokens": 3},
        {**sonnet, "request_count": 0, "output_tokens": 50},
        {**sonnet},
        # gpt-4o: standard, a tier nobody prices, a model nobody knows; another user.
        {**gpt, "input_tokens": 333, "output_tokens": 77},
        {**gpt, "input_tokens": 1, "output_tokens": 1, "user_id": "u2"},
        {**gpt, "input_tokens": 12, "service_tier": "flex"},
        {**gpt, "input_tokens": 12, "service_tier": "flex", "billed_cost_usd": Decimal("0.5")},
        {**gpt, "model": "no-such-model", "input_tokens": 40},
        {**gpt, "model": "no-such-model", "output_tokens": 40},
    ]
    rows = [
        {**row, "request_id": f"r{n}", "_file_sha256": f"f{n % 3}"} for n, row in enumerate(rows)
    ]
    warehouse = build_from_union(
        tmp_path / "dbt", rows, select=("+int_usage_priced", "+int_usage_priced_daily")
    )
    records = query(
        warehouse,
        f"select {DAILY_GRAIN}, count(*) as record_count, "
        + ", ".join(f"sum({c})" for c in DAILY_SUMS.split(", ")[1:])
        + " from intermediate.int_usage_priced group by all order by all",
    )
    daily = query(
        warehouse,
        f"select {DAILY_GRAIN}, "
        + ", ".join(f"sum({c})" for c in DAILY_SUMS.split(", "))
        + " from intermediate.int_usage_priced_daily group by all order by all",
    )
    assert daily == records
    # The rows really hold different prices and tiers (the sums were not all alike).
    assert {row[10:12] for row in daily} >= {(0, "per_request"), (1, "per_request")}
    assert {row[11] for row in daily} >= {"assumed_base"}
    assert {row[8] for row in daily} >= {"unknown_model", "unpriced_service_tier"}


def test_price_override_reprices_every_day_of_its_model(tmp_path: Path) -> None:
    work = tmp_path / "dbt"
    select = ("+tag:accounting", "+fct_usage_daily")
    warehouse = build_from_union(
        work,
        [
            _record(JUNE[0], "custom", "f1", request_id="r1"),
            _record(JUNE[1], "custom", "f1", request_id="r2"),
            _record(JUNE[1], "custom", "f1", **SONNET, request_id="r3"),
            _record(JUNE[2], "custom", "f1", **SONNET, request_id="r4"),
        ],
        select=select,
        extra_args=MODELS_ONLY,
    )
    first = _built_by(warehouse)
    sonnet_only = _day_rows(warehouse, JUNE[2])

    override = tmp_path / "prices.yaml"
    override.write_text(
        "prices:\n"
        "  - provider: openai\n"
        "    model: gpt-4o\n"
        "    effective_from: 2026-01-01\n"
        "    input_per_mtok: 2.00\n"
        "    output_per_mtok: 8.00\n",
        encoding="utf-8",
    )
    with_override = {"prices_override_path": str(override)}
    build_union(warehouse, work, select=select, extra_args=MODELS_ONLY, dbt_vars=with_override)

    second = _built_by(warehouse)
    # Every day with gpt-4o usage is priced again; a day without any is left as it was.
    assert second[JUNE[0]] == second[JUNE[1]] != first[JUNE[0]]
    assert _day_rows(warehouse, JUNE[2]) == sonnet_only
    costs = dict(
        query(
            warehouse,
            "select usage_date, list_cost_usd from marts.fct_usage_daily where model = 'gpt-4o'",
        )
    )
    assert costs == {JUNE[0]: Decimal("2.8"), JUNE[1]: Decimal("2.8")}  # 1M x $2 + 100k x $8

    incremental = _contents(warehouse)
    build_union(
        warehouse,
        work,
        select=select,
        extra_args=(*MODELS_ONLY, "--full-refresh"),
        dbt_vars=with_override,
    )
    assert _contents(warehouse) == incremental


# --------------------------------------------------------------------------------------------
# the whole project's unit tests include the accounting ones, and they pass

ACCOUNTING_UNIT_TESTS = {
    "int_usage_priced_override_wins_from_its_date",
    "int_usage_priced_long_context_tiers_per_request",
    "int_usage_priced_service_tiers",
    "int_spend_by_source_prefers_provider_api",
    "int_spend_by_source_known_cost_beats_rank",
    "fct_spend_daily_takes_only_the_authoritative_source",
    "fct_spend_allocated_observed_cost_and_unattributed_rest",
    "fct_spend_allocated_scaled_token_share_and_unpriced",
    "fct_cost_lines_share_billed_spend_over_buckets",
    "monthly_statement_my_integrations_example",
    "monthly_statement_per_request_fee",
    "monthly_statement_flat_monthly_fee",
    "monthly_statement_no_fee_and_unknown_cost",
    "restatements_reasons",
    "cost_history_appends_only_changes",
    "rpt_source_reconciliation_reason_codes",
}


def test_accounting_unit_tests_pass(priced: Path) -> None:
    work = priced.parent
    done = run_dbt(
        ["test", "--select", "test_type:unit", "--exclude", "+int_usage_unioned"],
        priced,
        work,
        dbt_vars={"prices_override_path": "none"},
    )
    results = json.loads((work / "target" / "run_results.json").read_text())["results"]
    status = {r["unique_id"].split(".")[-1]: r["status"] for r in results}
    missing = ACCOUNTING_UNIT_TESTS - set(status)
    assert not missing, missing
    failed = {
        name: s for name, s in status.items() if name in ACCOUNTING_UNIT_TESTS and s != "pass"
    }
    assert not failed, (failed, done.stdout[-6000:])
