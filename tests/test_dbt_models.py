"""The dbt project built for real on a temp warehouse: totals, pricing, unpriced rows, fees."""

from __future__ import annotations

import json
import shutil
from collections import defaultdict
from datetime import UTC, date, datetime
from decimal import ROUND_HALF_UP, Decimal
from pathlib import Path

import duckdb
import pytest
from genai_prices import Usage, calc_price

from ingest.warehouse import MEMORY_LIMIT
from tests.dbt_helpers import prepare_warehouse, query, run_dbt

pytestmark = pytest.mark.slow

# raw.custom_usage rows (NULL = not given: tokens count 0, request_count 1).
RAW_ROWS: list[dict] = [
    # Two records of one grain (same day, model and attribution keys): one fct row.
    dict(
        timestamp=datetime(2025, 3, 1, 10),
        provider="openai",
        model="gpt-4o",
        input_tokens=1_000,
        cached_input_tokens=200,
        output_tokens=300,
        project_id="p1",
        api_key_id="k1",
        user_id="u1",
        request_id="r1",
    ),
    dict(
        timestamp=datetime(2025, 3, 1, 15, 30),
        provider="openai",
        model="gpt-4o",
        input_tokens=500,
        output_tokens=100,
        request_count=3,
        project_id="p1",
        api_key_id="k1",
        user_id="u1",
        request_id="r2",
    ),
    # Cache reads and writes, no attribution keys (NULL keys still group).
    dict(
        timestamp=datetime(2025, 3, 2, 9),
        provider="anthropic",
        model="claude-sonnet-4-5",
        input_tokens=2_000,
        cached_input_tokens=5_000,
        cache_write_tokens=1_000,
        output_tokens=400,
        request_count=1,
        request_id="r3",
    ),
    # o3 on either side of its 2025-06-10 price cut.
    dict(
        timestamp=datetime(2025, 6, 9, 12),
        provider="openai",
        model="o3",
        input_tokens=10_000,
        output_tokens=5_000,
        project_id="p2",
        request_id="r4",
    ),
    dict(
        timestamp=datetime(2025, 6, 10, 12),
        provider="openai",
        model="o3",
        input_tokens=10_000,
        output_tokens=5_000,
        project_id="p2",
        request_id="r5",
    ),
    # Unknown to the catalogue: unpriced; the second reports a billed cost.
    dict(
        timestamp=datetime(2025, 3, 1, 8),
        provider="openai",
        model="mystery-model-x",
        input_tokens=700,
        output_tokens=70,
        request_id="r6",
    ),
    dict(
        timestamp=datetime(2025, 3, 1, 8),
        provider="openai",
        model="mystery-billed",
        input_tokens=700,
        output_tokens=70,
        cost_usd=Decimal("0.42"),
        request_id="r7",
    ),
    # Known model with a billed cost: total uses the billed cost.
    dict(
        timestamp=datetime(2025, 3, 3, 8),
        provider="openai",
        model="gpt-4o-mini",
        input_tokens=40_000,
        output_tokens=2_000,
        cost_usd=Decimal("0.01"),
        request_id="r8",
    ),
    # One grain, one record billed and one not (a cost export that missed a line): the row
    # costs the billed one's cost plus the other's list cost.
    dict(
        timestamp=datetime(2025, 3, 4, 8),
        provider="openai",
        model="gpt-4o-mini",
        input_tokens=10_000,
        output_tokens=1_000,
        cost_usd=Decimal("0.002"),
        project_id="p9",
        request_id="r9",
    ),
    dict(
        timestamp=datetime(2025, 3, 4, 9),
        provider="openai",
        model="gpt-4o-mini",
        input_tokens=30_000,
        output_tokens=2_000,
        project_id="p9",
        request_id="r10",
    ),
]
UNKNOWN_MODELS = {"mystery-model-x", "mystery-billed"}
TOKEN_COLUMNS = ("input_tokens", "cached_input_tokens", "cache_write_tokens", "output_tokens")
MICRO = Decimal("0.000001")


def _genai_cost(row: dict) -> Decimal:
    """genai-prices' own price of one raw row (its input total includes cache tokens)."""
    cached = row.get("cached_input_tokens") or 0
    writes = row.get("cache_write_tokens") or 0
    usage = Usage(
        input_tokens=(row.get("input_tokens") or 0) + cached + writes,
        cache_read_tokens=cached,
        cache_write_tokens=writes,
        output_tokens=row.get("output_tokens") or 0,
    )
    when = row["timestamp"].replace(tzinfo=UTC)
    return calc_price(
        usage, row["model"], provider_id=row["provider"], genai_request_timestamp=when
    ).total_price


@pytest.fixture(scope="module")
def built(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A warehouse with RAW_ROWS in raw.custom_usage after a full ``dbt build``."""
    work = tmp_path_factory.mktemp("dbt")
    warehouse = work / "warehouse.duckdb"
    # Every other raw and meta table the project's sources read, empty.
    prepare_warehouse(warehouse, RAW_ROWS)
    # No prices.yaml, whatever $METERR_HOME the test process has.
    done = run_dbt(["build"], warehouse, work, dbt_vars={"prices_override_path": "none"})
    assert done.returncode == 0, done.stdout + done.stderr
    return warehouse


def _fct(warehouse: Path) -> list[dict]:
    con_rows = query(warehouse, "SELECT * FROM marts.fct_usage_daily")
    columns = [r[0] for r in query(warehouse, "DESCRIBE marts.fct_usage_daily")]
    return [dict(zip(columns, row, strict=True)) for row in con_rows]


def test_models_land_in_contract_schemas(built: Path) -> None:
    tables = set(
        query(
            built,
            "SELECT table_schema, table_name FROM information_schema.tables "
            "WHERE table_schema IN ('staging', 'intermediate', 'marts')",
        )
    )
    assert {
        ("staging", "stg_custom__usage"),
        ("intermediate", "int_usage_unioned"),
        ("intermediate", "int_model_prices"),
        ("intermediate", "int_price_list"),
        ("intermediate", "int_usage_normalized"),
        ("intermediate", "int_usage_priced"),
        ("intermediate", "int_usage_priced_daily"),
        ("marts", "fct_usage_daily"),
        ("marts", "dim_prices"),
        ("marts", "fct_spend_daily"),
        ("marts", "fct_spend_allocated"),
        ("marts", "fct_cost_lines"),
        ("marts", "rpt_source_reconciliation"),
        ("marts", "cost_history"),
        ("marts", "restatements"),
        ("marts", "monthly_statement"),
    } <= tables


def test_fct_usage_daily_has_contract_types(built: Path) -> None:
    types = {name: dtype for name, dtype, *_ in query(built, "DESCRIBE marts.fct_usage_daily")}
    assert types == {
        "usage_date": "DATE",
        "source": "VARCHAR",
        "provider": "VARCHAR",
        "model": "VARCHAR",
        "project_id": "VARCHAR",
        "api_key_id": "VARCHAR",
        "user_id": "VARCHAR",
        "integration_id": "VARCHAR",
        "request_count": "BIGINT",
        "input_tokens": "BIGINT",
        "cached_input_tokens": "BIGINT",
        "cache_write_tokens": "BIGINT",
        "output_tokens": "BIGINT",
        "list_cost_usd": "DECIMAL(18,6)",
        "billed_cost_usd": "DECIMAL(18,6)",
        "platform_fee_usd": "DECIMAL(18,6)",
        "total_cost_usd": "DECIMAL(18,6)",
    }


def test_totals_equal_inserted_totals(built: Path) -> None:
    fct = _fct(built)
    for column in TOKEN_COLUMNS:
        assert sum(r[column] for r in fct) == sum(row.get(column) or 0 for row in RAW_ROWS)
    assert sum(r["request_count"] for r in fct) == sum(
        row.get("request_count") or 1 for row in RAW_ROWS
    )
    assert sum(r["billed_cost_usd"] or 0 for r in fct) == Decimal("0.432")
    assert {r["source"] for r in fct} == {"custom"}


def test_records_of_one_grain_aggregate(built: Path) -> None:
    fct = _fct(built)
    (row,) = [r for r in fct if r["model"] == "gpt-4o"]
    assert (row["usage_date"], row["project_id"], row["api_key_id"], row["user_id"]) == (
        date(2025, 3, 1),
        "p1",
        "k1",
        "u1",
    )
    assert row["request_count"] == 4
    assert (row["input_tokens"], row["cached_input_tokens"], row["output_tokens"]) == (
        1_500,
        200,
        400,
    )
    assert len(fct) == len(RAW_ROWS) - 2


def test_unknown_models_stay_unpriced(built: Path) -> None:
    by_model = {r["model"]: r for r in _fct(built) if r["model"] in UNKNOWN_MODELS}
    unpriced = by_model["mystery-model-x"]
    assert unpriced["list_cost_usd"] is None
    assert unpriced["billed_cost_usd"] is None
    assert unpriced["total_cost_usd"] is None
    billed = by_model["mystery-billed"]
    assert billed["list_cost_usd"] is None
    assert billed["total_cost_usd"] == Decimal("0.42")
    flags = dict(query(built, "SELECT model, is_priced FROM intermediate.int_usage_priced"))
    assert flags["mystery-model-x"] is False
    assert flags["gpt-4o"] is True


def test_list_cost_equals_genai_prices(built: Path) -> None:
    expected: dict[tuple[date, str], Decimal] = defaultdict(Decimal)
    for row in RAW_ROWS:
        if row["model"] not in UNKNOWN_MODELS:
            expected[(row["timestamp"].date(), row["model"])] += _genai_cost(row)
    actual = {(r["usage_date"], r["model"]): r["list_cost_usd"] for r in _fct(built)}
    for key, cost in expected.items():
        assert abs(actual[key] - cost) < Decimal("0.005"), key  # to the cent
        assert actual[key] == cost.quantize(MICRO, ROUND_HALF_UP), key  # and to the micro-dollar
    # The June cut: the same usage costs a fifth after it.
    assert actual[(date(2025, 6, 9), "o3")] == 5 * actual[(date(2025, 6, 10), "o3")]


def test_total_is_billed_else_list_record_by_record_with_no_fee_by_default(built: Path) -> None:
    # Each record's billed cost where it has one, else its list cost, summed per row.
    expected: dict[tuple[date, str], Decimal] = defaultdict(Decimal)
    for row in RAW_ROWS:
        if row.get("cost_usd") is not None:
            expected[(row["timestamp"].date(), row["model"])] += row["cost_usd"]
        elif row["model"] not in UNKNOWN_MODELS:
            expected[(row["timestamp"].date(), row["model"])] += _genai_cost(row)
    for row in _fct(built):
        assert row["platform_fee_usd"] == 0
        key = (row["usage_date"], row["model"])
        if key in expected:
            assert row["total_cost_usd"] == expected[key].quantize(MICRO, ROUND_HALF_UP), key
        else:
            assert row["total_cost_usd"] is None, key
    (mini,) = [r for r in _fct(built) if r["model"] == "gpt-4o-mini" and r["project_id"] is None]
    assert mini["total_cost_usd"] == Decimal("0.01") != mini["list_cost_usd"]
    # Partly billed: neither the billed cost alone nor the list cost alone.
    (mixed,) = [r for r in _fct(built) if r["project_id"] == "p9"]
    assert mixed["billed_cost_usd"] == Decimal("0.002")
    assert mixed["billed_cost_usd"] < mixed["total_cost_usd"] < mixed["list_cost_usd"]


def test_every_model_documents_its_grain(built: Path) -> None:
    manifest = json.loads((built.parent / "target" / "manifest.json").read_text())
    models = [n for n in manifest["nodes"].values() if n["resource_type"] == "model"]
    assert models
    for node in models:
        assert "Grain:" in node["description"], node["name"]


def test_flat_monthly_fee_sums_to_amount(built: Path, tmp_path: Path) -> None:
    warehouse = tmp_path / "warehouse.duckdb"
    shutil.copy(built, warehouse)
    done = run_dbt(
        ["build", "--select", "fct_usage_daily"],
        warehouse,
        tmp_path,
        dbt_vars={
            "platform_fee_model": "flat_monthly",
            "platform_fee_flat_monthly_usd": 100,
            "prices_override_path": "none",
        },
    )
    assert done.returncode == 0, done.stdout + done.stderr
    monthly = dict(
        query(
            warehouse,
            "SELECT strftime(usage_date, '%Y-%m'), sum(platform_fee_usd) "
            "FROM marts.fct_usage_daily GROUP BY 1",
        )
    )
    assert monthly == {"2025-03": Decimal("100"), "2025-06": Decimal("100")}
    fct = _fct(warehouse)
    (unpriced,) = [r for r in fct if r["model"] == "mystery-model-x"]
    assert unpriced["platform_fee_usd"] == 0 and unpriced["total_cost_usd"] is None
    # June's fee follows cost: the day before the cut costs five times as much.
    june = {r["usage_date"]: r["platform_fee_usd"] for r in fct if r["model"] == "o3"}
    assert june == {date(2025, 6, 9): Decimal("83.333333"), date(2025, 6, 10): Decimal("16.666667")}


def test_dbt_uses_the_memory_limit_of_meterrs_own_connections(built: Path, tmp_path: Path) -> None:
    with duckdb.connect() as con:
        con.execute(f"SET memory_limit = '{MEMORY_LIMIT}'")
        (expected,) = con.execute("SELECT current_setting('memory_limit')").fetchone()
    done = run_dbt(
        [
            "show",
            "--inline",
            "select current_setting('memory_limit') as memory_limit",
            "--output",
            "json",
        ],
        built,
        tmp_path,
        dbt_vars={"prices_override_path": "none"},
    )
    assert done.returncode == 0, done.stdout[-3000:]
    assert f'"memory_limit": "{expected}"' in done.stdout, done.stdout[-3000:]
