"""The FOCUS 1.2 export: the file meterr writes passes the column rules, and broken ones fail."""

from __future__ import annotations

import csv
from datetime import UTC, datetime
from decimal import Decimal
from pathlib import Path

import duckdb
import pytest

from ingest.paths import MeterrHome, meterr_home
from reports.focus import (
    EXPORT_COLUMNS,
    MANDATORY_COLUMNS,
    focus_column_violations,
    write_focus_export,
)
from tests.test_accounting_dbt import (
    _integration_rows,
    _multi_source_rows,
    build_from_union,
    rows_of,
)


@pytest.fixture(scope="module")
def exported(tmp_path_factory: pytest.TempPathFactory) -> tuple[MeterrHome, Path, Path, Path]:
    """A warehouse with several sources, integrations, a negotiated price and a 5% fee, and its
    FOCUS export for May 2026."""
    root = tmp_path_factory.mktemp("focus")
    home = meterr_home(root / "home").ensure()
    override = root / "prices.yaml"
    override.write_text(
        "prices:\n"
        "  - {provider: openai, model: gpt-4o, effective_from: 2026-05-05, input_per_mtok: 2,"
        " output_per_mtok: 8}\n",
        encoding="utf-8",
    )
    warehouse = build_from_union(
        root / "dbt",
        [*_multi_source_rows(), *_integration_rows()],
        dbt_vars={
            "platform_fee_model": "percentage",
            "platform_fee_percent": 5,
            "prices_override_path": str(override),
        },
        integrations=[("int-openai", "alice", "openai"), ("int-sd", "alice", "stability")],
    )
    con = duckdb.connect(str(warehouse), read_only=True)
    try:
        csv_path, parquet_path = write_focus_export(con, home, "2026-05")
    finally:
        con.close()
    return home, warehouse, csv_path, parquet_path


def _utc(year: int, month: int, day: int) -> datetime:
    """A Parquet date-time as read back: an instant in UTC."""
    return datetime(year, month, day, tzinfo=UTC)


@pytest.mark.slow
def test_export_files_are_where_the_contract_says(exported) -> None:
    home, _, csv_path, parquet_path = exported
    assert csv_path == home.root / "exports" / "focus-2026-05.csv"
    assert parquet_path == home.root / "exports" / "focus-2026-05.parquet"
    assert csv_path.stat().st_size > 0 and parquet_path.stat().st_size > 0
    assert not list((home.root / "exports").glob("*.partial"))


@pytest.mark.slow
def test_export_passes_the_focus_column_checks(exported) -> None:
    _, _, csv_path, parquet_path = exported
    assert focus_column_violations(csv_path) == []
    assert focus_column_violations(parquet_path) == []
    with open(csv_path, newline="", encoding="utf-8") as handle:
        header = next(csv.reader(handle))
    assert header == list(EXPORT_COLUMNS)
    assert set(MANDATORY_COLUMNS) <= set(header)
    # In Parquet the date-times are timestamps marked UTC, not text.
    described = duckdb.sql(f"describe select * from read_parquet('{parquet_path}')").fetchall()
    types = {row[0]: row[1] for row in described}
    periods = ("BillingPeriodStart", "BillingPeriodEnd", "ChargePeriodStart", "ChargePeriodEnd")
    for column in periods:
        assert types[column] == "TIMESTAMP WITH TIME ZONE", column
    # NULL is an empty unquoted field; there are no empty strings.
    assert '""' not in csv_path.read_text(encoding="utf-8")


@pytest.mark.slow
def test_export_adds_up_to_the_marts(exported) -> None:
    _, warehouse, _, parquet_path = exported
    rows = rows_of(warehouse, f"select * from read_parquet('{parquet_path}')")
    usage = [r for r in rows if r["ChargeCategory"] == "Usage"]
    fees = [r for r in rows if r["ChargeCategory"] == "Purchase"]
    ((spend,),) = (
        duckdb.connect(str(warehouse), read_only=True)
        .execute(
            "select sum(spend_usd) from marts.fct_spend_daily "
            "where usage_date >= date '2026-05-01' and usage_date < date '2026-06-01'"
        )
        .fetchall()
    )
    assert sum(r["BilledCost"] for r in usage) == spend
    ((statement_fees,),) = (
        duckdb.connect(str(warehouse), read_only=True)
        .execute("select sum(platform_fee_usd) from marts.monthly_statement")
        .fetchall()
    )
    assert sum(r["BilledCost"] for r in fees) == statement_fees
    alice = [r for r in fees if r["x_UserId"] == "alice"]
    assert sum(r["BilledCost"] for r in alice) == Decimal("1.03")  # 5% of alice's $20.64
    for fee in fees:
        assert fee["ChargePeriodStart"] == _utc(2026, 5, 1)
        assert fee["ChargePeriodEnd"] == _utc(2026, 6, 1)
        assert fee["ChargeFrequency"] == "Recurring"
        assert fee["ProviderName"] == fee["InvoiceIssuerName"] == "meterr"
        assert fee["x_FeeModel"] == "percentage"
    # A cost reported without tokens is one day's charge: FOCUS needs a quantity on Usage rows.
    cost_only = [r for r in usage if r["ConsumedQuantity"] is None]
    assert cost_only, "the fixture has cost lines without tokens"
    for row in cost_only:
        assert (row["PricingQuantity"], row["PricingUnit"]) == (Decimal(1), "Days")
        assert row["ListUnitPrice"] is None and row["ContractedUnitPrice"] is None
    for row in usage:
        assert row["ServiceCategory"] == "AI and Machine Learning"
        assert row["BillingCurrency"] == "USD"
        assert row["EffectiveCost"] == row["BilledCost"]
        assert row["BillingPeriodStart"] == _utc(2026, 5, 1)


@pytest.mark.slow
def test_tokens_are_quantities_and_negotiated_prices_are_contracted(exported) -> None:
    _, warehouse, _, parquet_path = exported
    rows = rows_of(
        warehouse,
        f"select * from read_parquet('{parquet_path}') "
        "where x_Model = 'gpt-4o' and x_TokenBucket = 'input' and SubAccountId = 'proj_1' "
        "order by ChargePeriodStart",
    )
    before, after = rows[0], rows[-1]
    # The project id is the only name the API gives the project.
    assert {row["SubAccountName"] for row in rows} == {"proj_1"}
    assert before["ChargePeriodStart"] == _utc(2026, 5, 4)
    assert (before["ConsumedQuantity"], before["ConsumedUnit"]) == (Decimal(3_000_000), "Tokens")
    assert (before["PricingQuantity"], before["PricingUnit"]) == (Decimal(3), "1000000 Tokens")
    assert before["ListUnitPrice"] == before["ContractedUnitPrice"] == Decimal("2.5")
    assert before["x_PriceSource"] == "genai-prices"
    # From 2026-05-05 the prices.yaml price is the contracted one; list stays the catalogue's.
    assert after["ChargePeriodStart"] == _utc(2026, 5, 5)
    assert after["ListUnitPrice"] == Decimal("2.5")
    assert after["ContractedUnitPrice"] == Decimal("2")
    assert after["ContractedCost"] == after["ContractedUnitPrice"] * after["PricingQuantity"]
    assert after["x_PriceSource"] == "override"
    assert after["x_PriceVersion"].startswith("sha256:")


@pytest.mark.slow
def test_month_must_be_yyyy_mm(exported) -> None:
    home, warehouse, _, _ = exported
    con = duckdb.connect(str(warehouse), read_only=True)
    try:
        for bad in ("2026-13", "2026-5", "May 2026"):
            with pytest.raises(ValueError, match="YYYY-MM"):
                write_focus_export(con, home, bad)
    finally:
        con.close()


# --------------------------------------------------------------------------------------------
# broken files fail (no dbt needed: a small valid file is built here)

VALID_ROW = {
    "BilledCost": "0.005000",
    "BillingAccountId": "int-openai",
    "BillingAccountName": None,
    "BillingCurrency": "USD",
    "BillingPeriodEnd": "2026-06-01T00:00:00Z",
    "BillingPeriodStart": "2026-05-01T00:00:00Z",
    "ChargeCategory": "Usage",
    "ChargeClass": None,
    "ChargeDescription": "gpt-4o input tokens (standard tier)",
    "ChargeFrequency": "Usage-Based",
    "ChargePeriodEnd": "2026-05-05T00:00:00Z",
    "ChargePeriodStart": "2026-05-04T00:00:00Z",
    "ConsumedQuantity": "2000",
    "ConsumedUnit": "Tokens",
    "ContractedCost": "0.005000000000000",
    "ContractedUnitPrice": "2.500000000",
    "EffectiveCost": "0.005000",
    "InvoiceIssuerName": "OpenAI",
    "ListCost": "0.005000000000000",
    "ListUnitPrice": "2.500000000",
    "PricingCategory": "Standard",
    "PricingQuantity": "0.002000",
    "PricingUnit": "1000000 Tokens",
    "ProviderName": "OpenAI",
    "PublisherName": "OpenAI",
    "ServiceCategory": "AI and Machine Learning",
    "ServiceName": "OpenAI API",
    "ServiceSubcategory": "Generative AI",
    "SkuMeter": "Input Tokens",
    "SubAccountId": "proj_1",
    "SubAccountName": "proj_1",
    "x_Model": "gpt-4o",
}


def _write_csv(path: Path, rows: list[dict[str, str | None]]) -> Path:
    """CSV as meterr writes it: NULL = empty unquoted field, empty string = \"\"."""
    columns = list(rows[0])
    lines = [",".join(columns)]
    for row in rows:
        cells = []
        for column in columns:
            value = row[column]
            if value is None:
                cells.append("")
            elif value == "" or any(ch in value for ch in ',"\n'):
                cells.append('"' + value.replace('"', '""') + '"')
            else:
                cells.append(value)
        lines.append(",".join(cells))
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return path


def test_valid_handmade_file_passes(tmp_path: Path) -> None:
    path = _write_csv(tmp_path / "ok.csv", [VALID_ROW])
    assert focus_column_violations(path) == []
    parquet = tmp_path / "ok.parquet"
    duckdb.sql(f"copy (select * from read_csv('{path}', all_varchar = true)) to '{parquet}'")
    assert focus_column_violations(parquet) == []


def _without(column: str) -> dict[str, str | None]:
    return {k: v for k, v in VALID_ROW.items() if k != column}


BROKEN: list[tuple[str, dict[str, str | None], str]] = [
    ("missing mandatory column", _without("BilledCost"), "BilledCost: mandatory column missing"),
    ("currency symbol", {**VALID_ROW, "BilledCost": "$0.005"}, "BilledCost: 1 value(s) not plain"),
    ("thousands separator", {**VALID_ROW, "ConsumedQuantity": "2,000"}, "ConsumedQuantity: 1"),
    ("plus sign", {**VALID_ROW, "ListCost": "+0.005"}, "ListCost: 1 value(s) not plain"),
    (
        "date without T and Z",
        {**VALID_ROW, "ChargePeriodStart": "2026-05-04 00:00:00"},
        "ChargePeriodStart: 1 value(s) not ISO 8601",
    ),
    (
        "local time offset",
        {**VALID_ROW, "BillingPeriodEnd": "2026-06-01T00:00:00+02:00"},
        "BillingPeriodEnd: 1 value(s) not ISO 8601",
    ),
    ("currency code", {**VALID_ROW, "BillingCurrency": "usd"}, "not ISO 4217"),
    (
        "empty string for no value",
        {**VALID_ROW, "ChargeClass": ""},
        "ChargeClass: 1 empty string(s)",
    ),
    (
        "NULL where none is allowed",
        {**VALID_ROW, "BillingAccountId": None},
        "BillingAccountId: 1 NULL value(s)",
    ),
    ("custom column without x_", {**VALID_ROW, "Model": "gpt-4o"}, "Model: not a FOCUS 1.2"),
    (
        "not PascalCase",
        {**VALID_ROW, "billed_cost": "1"},
        "billed_cost: not a PascalCase FOCUS column",
    ),
    (
        "FOCUS column after x_",
        {**_without("ServiceName"), "ServiceName": "OpenAI API"},
        "ServiceName: FOCUS columns must come before the x_ columns",
    ),
    (
        "unknown charge category",
        {**VALID_ROW, "ChargeCategory": "Fee"},
        "ChargeCategory: values not allowed: Fee",
    ),
    (
        "unknown service category",
        {**VALID_ROW, "ServiceCategory": "AI"},
        "ServiceCategory: values not allowed: AI",
    ),
    (
        "list cost not unit price x quantity",
        {**VALID_ROW, "ListCost": "0.006"},
        "ListCost: 1 row(s) where ListCost != ListUnitPrice x PricingQuantity",
    ),
    (
        "usage row without a pricing quantity",
        {**VALID_ROW, "PricingQuantity": None},
        "PricingQuantity: 1 NULL value(s) on Usage or Purchase rows",
    ),
    (
        "tax row with a pricing quantity",
        {**VALID_ROW, "ChargeCategory": "Tax"},
        "PricingQuantity: 1 value(s) on Tax rows",
    ),
    (
        "sub account id without its name",
        _without("SubAccountName"),
        "SubAccountName: column missing; a dataset with SubAccountId needs both",
    ),
    (
        "sub account name missing on a row with an id",
        {**VALID_ROW, "SubAccountName": None},
        "SubAccountName: 1 row(s) NULL where SubAccountId is not",
    ),
    (
        "charge period ends before it starts",
        {**VALID_ROW, "ChargePeriodEnd": "2026-05-03T00:00:00Z"},
        "not before ChargePeriodEnd",
    ),
    (
        "charge period outside the billing period",
        {
            **VALID_ROW,
            "ChargePeriodStart": "2026-06-04T00:00:00Z",
            "ChargePeriodEnd": "2026-06-05T00:00:00Z",
        },
        "outside the billing period",
    ),
]


@pytest.mark.parametrize(("case", "row", "message"), BROKEN, ids=[b[0] for b in BROKEN])
def test_broken_file_fails_the_checks(
    tmp_path: Path, case: str, row: dict[str, str | None], message: str
) -> None:
    path = _write_csv(tmp_path / "broken.csv", [row])
    violations = focus_column_violations(path)
    assert any(message in v for v in violations), (case, violations)


def test_parquet_date_times_must_be_utc_instants(tmp_path: Path) -> None:
    """Typed date-times pass when marked UTC (their text form is then checked like a CSV's);
    naive timestamps are local wall-clock times and fail."""
    source = _write_csv(tmp_path / "ok.csv", [VALID_ROW])
    datetimes = ("BillingPeriodEnd", "BillingPeriodStart", "ChargePeriodEnd", "ChargePeriodStart")
    for kind, expected in (("timestamptz", []), ("timestamp", datetimes)):
        typed = ", ".join(
            f"cast(replace({c}, 'Z', '') as {kind}) as {c}" for c in datetimes
        )
        parquet = tmp_path / f"{kind}.parquet"
        duckdb.sql(
            f"copy (select * replace ({typed}) from read_csv('{source}', all_varchar = true))"
            f" to '{parquet}'"
        )
        found = focus_column_violations(parquet)
        assert [v.split(":")[0] for v in found] == list(expected), found
    # A typed charge period outside the billing period is still caught.
    bad = tmp_path / "outside.parquet"
    duckdb.sql(
        f"copy (select * replace (timestamptz '2026-06-04 00:00:00+00' as ChargePeriodStart,"
        f" timestamptz '2026-06-05 00:00:00+00' as ChargePeriodEnd)"
        f" from read_csv('{source}', all_varchar = true)) to '{bad}'"
    )
    assert any("outside the billing period" in v for v in focus_column_violations(bad))


def test_unreadable_or_missing_file_is_reported(tmp_path: Path) -> None:
    assert focus_column_violations(tmp_path / "nope.csv") == [
        f"{tmp_path / 'nope.csv'}: no such file"
    ]
    garbage = tmp_path / "garbage.parquet"
    garbage.write_bytes(b"not parquet")
    (violation,) = focus_column_violations(garbage)
    assert "cannot be read" in violation
