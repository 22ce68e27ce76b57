"""FOCUS 1.2 cost-and-usage export (``meterr export focus --month YYYY-MM``) and its validator.

:func:`write_focus_export` writes ``$METERR_HOME/exports/focus-YYYY-MM.csv`` and ``.parquet`` with
DuckDB ``COPY``: one row per line of ``marts.fct_cost_lines`` in the month (the authoritative
spend per day, provider, model, project, service tier, long-context tier and token bucket), plus
one row per ``marts.monthly_statement`` line with a platform fee. Mapping (README "FOCUS export"):

- usage rows: ``ChargeCategory`` Usage, ``ChargeFrequency`` Usage-Based, tokens as
  ``ConsumedQuantity`` (``ConsumedUnit`` Tokens) and ``PricingQuantity`` in millions
  (``PricingUnit`` ``1000000 Tokens``; a cost reported without tokens is ``PricingQuantity`` 1
  ``Days``, one day's charge, as FOCUS needs a quantity on every Usage row),
  ``ListUnitPrice``/``ListCost`` at the public catalogue
  price, ``ContractedUnitPrice``/``ContractedCost`` at the price meterr applied (a prices.yaml
  override = a negotiated price), ``BilledCost`` = ``EffectiveCost`` = the line's share of the
  authoritative spend (so a month's BilledCost adds up to ``fct_spend_daily``);
- platform-fee rows: ``ChargeCategory`` Purchase, ``ChargeFrequency`` Recurring (the fee is a
  charge by meterr, not consumption of a provider's service, and is billed per statement month),
  ``ChargePeriod`` = the month, ``PricingQuantity`` 1 ``Months``, ``ServiceCategory``
  Management and Governance / Cost Management, provider and invoice issuer ``meterr``;
- meterr's own columns come after the FOCUS ones, prefixed ``x_``;
- date-times are ISO 8601 UTC text in the CSV and UTC-adjusted timestamps in the Parquet file.

Usage whose cost is unknown (unpriced and not billed) is left out, because FOCUS requires
BilledCost and meterr never writes $0 for an unknown cost; the count is logged.

:func:`focus_column_violations` checks a written file against the FOCUS 1.2 rules meterr relies on
(reference/formats.md section 10): mandatory columns present, no NULL where none is allowed, no
empty strings, PascalCase FOCUS names or ``x_`` custom columns placed after them, ISO 8601 UTC
date-times, ISO 4217 currency codes, plain numbers, allowed values, and
``ListCost = ListUnitPrice x PricingQuantity`` (same for contracted), and ``PricingQuantity`` set
on Usage and Purchase rows (corrections excepted), NULL on Tax rows.
"""

from __future__ import annotations

import json
import logging
import os
import re
from datetime import date, datetime
from decimal import Decimal, InvalidOperation
from pathlib import Path

import duckdb

from ingest.paths import MeterrHome, meterr_home

log = logging.getLogger(__name__)

FOCUS_VERSION = "1.2"

# FOCUS 1.2 Cost and Usage columns: name -> (kind, nullable). kind: dimension, metric, datetime,
# json. Nullability from the spec's column definitions (reference/formats.md section 10.3).
FOCUS_COLUMNS: dict[str, tuple[str, bool]] = {
    "AvailabilityZone": ("dimension", True),
    "BilledCost": ("metric", False),
    "BillingAccountId": ("dimension", False),
    "BillingAccountName": ("dimension", True),
    "BillingAccountType": ("dimension", False),
    "BillingCurrency": ("dimension", False),
    "BillingPeriodEnd": ("datetime", False),
    "BillingPeriodStart": ("datetime", False),
    "CapacityReservationId": ("dimension", True),
    "CapacityReservationStatus": ("dimension", True),
    "ChargeCategory": ("dimension", False),
    "ChargeClass": ("dimension", True),
    "ChargeDescription": ("dimension", True),
    "ChargeFrequency": ("dimension", False),
    "ChargePeriodEnd": ("datetime", False),
    "ChargePeriodStart": ("datetime", False),
    "CommitmentDiscountCategory": ("dimension", True),
    "CommitmentDiscountId": ("dimension", True),
    "CommitmentDiscountName": ("dimension", True),
    "CommitmentDiscountQuantity": ("metric", True),
    "CommitmentDiscountStatus": ("dimension", True),
    "CommitmentDiscountType": ("dimension", True),
    "CommitmentDiscountUnit": ("dimension", True),
    "ConsumedQuantity": ("metric", True),
    "ConsumedUnit": ("dimension", True),
    "ContractedCost": ("metric", False),
    "ContractedUnitPrice": ("metric", True),
    "EffectiveCost": ("metric", False),
    "InvoiceId": ("dimension", True),
    "InvoiceIssuerName": ("dimension", False),
    "ListCost": ("metric", False),
    "ListUnitPrice": ("metric", True),
    "PricingCategory": ("dimension", True),
    "PricingCurrency": ("dimension", True),
    "PricingCurrencyContractedUnitPrice": ("metric", True),
    "PricingCurrencyEffectiveCost": ("metric", True),
    "PricingCurrencyListUnitPrice": ("metric", True),
    "PricingQuantity": ("metric", True),
    "PricingUnit": ("dimension", True),
    "ProviderName": ("dimension", False),
    "PublisherName": ("dimension", False),
    "RegionId": ("dimension", True),
    "RegionName": ("dimension", True),
    "ResourceId": ("dimension", True),
    "ResourceName": ("dimension", True),
    "ResourceType": ("dimension", True),
    "ServiceCategory": ("dimension", False),
    "ServiceName": ("dimension", False),
    "ServiceSubcategory": ("dimension", False),
    "SkuId": ("dimension", True),
    "SkuMeter": ("dimension", True),
    "SkuPriceDetails": ("json", True),
    "SkuPriceId": ("dimension", True),
    "SubAccountId": ("dimension", True),
    "SubAccountName": ("dimension", True),
    "SubAccountType": ("dimension", True),
    "Tags": ("json", True),
}

MANDATORY_COLUMNS: tuple[str, ...] = (
    "BilledCost",
    "BillingAccountId",
    "BillingAccountName",
    "BillingCurrency",
    "BillingPeriodEnd",
    "BillingPeriodStart",
    "ChargeCategory",
    "ChargeClass",
    "ChargeDescription",
    "ChargePeriodEnd",
    "ChargePeriodStart",
    "ContractedCost",
    "EffectiveCost",
    "InvoiceIssuerName",
    "ListCost",
    "PricingQuantity",
    "PricingUnit",
    "ProviderName",
    "PublisherName",
    "ServiceCategory",
    "ServiceName",
)

ALLOWED_VALUES: dict[str, frozenset[str]] = {
    "ChargeCategory": frozenset({"Usage", "Purchase", "Tax", "Credit", "Adjustment"}),
    "ChargeClass": frozenset({"Correction"}),
    "ChargeFrequency": frozenset({"One-Time", "Recurring", "Usage-Based"}),
    "PricingCategory": frozenset({"Standard", "Dynamic", "Committed", "Other"}),
    "CommitmentDiscountStatus": frozenset({"Used", "Unused"}),
    "CapacityReservationStatus": frozenset({"Used", "Unused"}),
    "ServiceCategory": frozenset(
        {
            "AI and Machine Learning",
            "Analytics",
            "Business Applications",
            "Compute",
            "Databases",
            "Developer Tools",
            "Multicloud",
            "Identity",
            "Integration",
            "Internet of Things",
            "Management and Governance",
            "Media",
            "Migration",
            "Mobile",
            "Networking",
            "Security",
            "Storage",
            "Web",
            "Other",
        }
    ),
}

CURRENCY_COLUMNS = ("BillingCurrency", "PricingCurrency")
# ISO 4217 active codes (national currencies and funds codes), for BillingCurrency.
ISO_4217 = frozenset(
    """AED AFN ALL AMD ANG AOA ARS AUD AWG AZN BAM BBD BDT BGN BHD BIF BMD BND BOB BOV BRL BSD BTN
    BWP BYN BZD CAD CDF CHE CHF CHW CLF CLP CNY COP COU CRC CUC CUP CVE CZK DJF DKK DOP DZD EGP ERN
    ETB EUR FJD FKP GBP GEL GHS GIP GMD GNF GTQ GYD HKD HNL HTG HUF IDR ILS INR IQD IRR ISK JMD JOD
    JPY KES KGS KHR KMF KPW KRW KWD KYD KZT LAK LBP LKR LRD LSL LYD MAD MDL MGA MKD MMK MNT MOP MRU
    MUR MVR MWK MXN MXV MYR MZN NAD NGN NIO NOK NPR NZD OMR PAB PEN PGK PHP PKR PLN PYG QAR RON RSD
    RUB RWF SAR SBD SCR SDG SEK SGD SHP SLE SLL SOS SRD SSP STN SVC SYP SZL THB TJS TMT TND TOP TRY
    TTD TWD TZS UAH UGX USD USN UYI UYU UYW UZS VED VES VND VUV WST XAF XAG XAU XBA XBB XBC XBD XCD
    XCG XDR XOF XPD XPF XPT XSU XTS XUA XXX YER ZAR ZMW ZWG ZWL""".split()
)

DATETIME_PATTERN = r"\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}Z"
# Plain decimal or E notation: no currency symbols, thousands separators or '+' sign.
NUMBER_PATTERN = r"-?(\d+(\.\d*)?|\.\d+)([eE]-?\d+)?"
FOCUS_NAME_PATTERN = re.compile(r"[A-Z][A-Za-z0-9]*")
CUSTOM_NAME_PATTERN = re.compile(r"x_[A-Za-z0-9_]+")
MONTH_PATTERN = re.compile(r"(\d{4})-(\d{2})")

# Display names for ProviderName / PublisherName / InvoiceIssuerName; others print as stored.
PROVIDER_NAMES: dict[str, str] = {
    "openai": "OpenAI",
    "anthropic": "Anthropic",
    "google": "Google",
    "mistral": "Mistral AI",
    "deepseek": "DeepSeek",
    "xai": "xAI",
    "x-ai": "xAI",
    "groq": "Groq",
    "cohere": "Cohere",
    "azure": "Microsoft Azure",
    "aws": "Amazon Web Services",
    "stability": "Stability AI",
}
BUCKET_METERS: dict[str, str] = {
    "input": "Input Tokens",
    "cache_read": "Cache Read Tokens",
    "cache_write_5m": "Cache Write Tokens (5m)",
    "cache_write_1h": "Cache Write Tokens (1h)",
    "output": "Output Tokens",
}

# Columns written, in order: FOCUS (alphabetical) first, then meterr's x_ columns.
EXPORT_COLUMNS: tuple[str, ...] = (
    "BilledCost",
    "BillingAccountId",
    "BillingAccountName",
    "BillingCurrency",
    "BillingPeriodEnd",
    "BillingPeriodStart",
    "ChargeCategory",
    "ChargeClass",
    "ChargeDescription",
    "ChargeFrequency",
    "ChargePeriodEnd",
    "ChargePeriodStart",
    "ConsumedQuantity",
    "ConsumedUnit",
    "ContractedCost",
    "ContractedUnitPrice",
    "EffectiveCost",
    "InvoiceIssuerName",
    "ListCost",
    "ListUnitPrice",
    "PricingCategory",
    "PricingQuantity",
    "PricingUnit",
    "ProviderName",
    "PublisherName",
    "ServiceCategory",
    "ServiceName",
    "ServiceSubcategory",
    "SkuMeter",
    "SubAccountId",
    "SubAccountName",
    "x_AuthoritativeSource",
    "x_ContextTier",
    "x_FeeModel",
    "x_IntegrationId",
    "x_Model",
    "x_PriceSource",
    "x_PriceVersion",
    "x_ServiceTier",
    "x_TokenBucket",
    "x_UserId",
)


def _month_bounds(month: str) -> tuple[date, date]:
    match = MONTH_PATTERN.fullmatch(month.strip())
    if not match:
        raise ValueError(f"month must be YYYY-MM; got {month!r}")
    year, number = int(match.group(1)), int(match.group(2))
    if not 1 <= number <= 12:
        raise ValueError(f"month must be YYYY-MM; got {month!r}")
    start = date(year, number, 1)
    end = date(year + 1, 1, 1) if number == 12 else date(year, number + 1, 1)
    return start, end


def _sql_text(value: str) -> str:
    return "'" + value.replace("'", "''") + "'"


def _case_map(expr: str, mapping: dict[str, str], default: str) -> str:
    whens = " ".join(f"when {_sql_text(k)} then {_sql_text(v)}" for k, v in mapping.items())
    return f"case {expr} {whens} else {default} end"


def export_sql(start: date, end: date) -> str:
    """The SELECT producing the FOCUS rows for charge periods in [start, end) (a month)."""
    billing_start = _sql_text(f"{start.isoformat()}T00:00:00Z")
    billing_end = _sql_text(f"{end.isoformat()}T00:00:00Z")
    provider_name = _case_map("provider", PROVIDER_NAMES, "provider")
    meter = _case_map("token_bucket", BUCKET_METERS, "null")
    return f"""
with
lines as (
    select * from marts.fct_cost_lines
    where usage_date >= date '{start.isoformat()}' and usage_date < date '{end.isoformat()}'
        and billed_cost_usd is not null
),
usage_rows as (
    select
        cast(billed_cost_usd as decimal(18, 6)) as "BilledCost",
        coalesce(integration_id, provider) as "BillingAccountId",
        cast(null as varchar) as "BillingAccountName",
        'USD' as "BillingCurrency",
        {billing_end} as "BillingPeriodEnd",
        {billing_start} as "BillingPeriodStart",
        'Usage' as "ChargeCategory",
        cast(null as varchar) as "ChargeClass",
        case
            when token_bucket is null then
                model || ' usage (cost reported by ' || authoritative_source || ')'
            else
                model || ' ' || lower({meter}) || ' (' || service_tier || ' tier'
                || case when context_tier > 0 then ', long context' else '' end || ')'
        end as "ChargeDescription",
        'Usage-Based' as "ChargeFrequency",
        strftime(usage_date + 1, '%Y-%m-%dT00:00:00Z') as "ChargePeriodEnd",
        strftime(usage_date, '%Y-%m-%dT00:00:00Z') as "ChargePeriodStart",
        cast(tokens as decimal(38, 0)) as "ConsumedQuantity",
        case when tokens is not null then 'Tokens' end as "ConsumedUnit",
        cast(coalesce(contracted_cost_usd, billed_cost_usd) as decimal(38, 15))
            as "ContractedCost",
        cast(unit_price_per_mtok as decimal(18, 9)) as "ContractedUnitPrice",
        cast(billed_cost_usd as decimal(18, 6)) as "EffectiveCost",
        {provider_name} as "InvoiceIssuerName",
        cast(coalesce(list_cost_usd, billed_cost_usd) as decimal(38, 15)) as "ListCost",
        cast(list_unit_price_per_mtok as decimal(18, 9)) as "ListUnitPrice",
        'Standard' as "PricingCategory",
        -- FOCUS requires a PricingQuantity on every Usage row. A line whose source reports a
        -- cost without tokens (a cost export with no usage beside it) is one day's charge.
        case
            when tokens is not null
                then cast(cast(tokens as decimal(38, 0)) * 0.000001 as decimal(38, 6))
            else cast(1 as decimal(38, 6))
        end as "PricingQuantity",
        case when tokens is not null then '1000000 Tokens' else 'Days' end as "PricingUnit",
        {provider_name} as "ProviderName",
        {provider_name} as "PublisherName",
        'AI and Machine Learning' as "ServiceCategory",
        {provider_name} || ' API' as "ServiceName",
        'Generative AI' as "ServiceSubcategory",
        {meter} as "SkuMeter",
        project_id as "SubAccountId",
        -- The project's (or workspace's) name as the source gives it: Anthropic's console
        -- exports name workspaces; the APIs and request logs give ids only, and then the id is
        -- the only name meterr knows (FOCUS: present with SubAccountId, NULL exactly where it is).
        project_id as "SubAccountName",
        authoritative_source as "x_AuthoritativeSource",
        context_tier as "x_ContextTier",
        cast(null as varchar) as "x_FeeModel",
        integration_id as "x_IntegrationId",
        model as "x_Model",
        price_source as "x_PriceSource",
        price_version as "x_PriceVersion",
        service_tier as "x_ServiceTier",
        token_bucket as "x_TokenBucket",
        cast(null as varchar) as "x_UserId",
        0 as _kind, usage_date as _day, provider as _provider
    from lines
),
fee_rows as (
    select
        cast(platform_fee_usd as decimal(18, 6)) as "BilledCost",
        'meterr:' || coalesce(user_id, 'unattributed') as "BillingAccountId",
        user_id as "BillingAccountName",
        'USD' as "BillingCurrency",
        {billing_end} as "BillingPeriodEnd",
        {billing_start} as "BillingPeriodStart",
        'Purchase' as "ChargeCategory",
        cast(null as varchar) as "ChargeClass",
        'meterr platform fee (' || fee_model || ') on ' || provider || ' spend'
            || coalesce(' via integration ' || integration_id, '') as "ChargeDescription",
        'Recurring' as "ChargeFrequency",
        {billing_end} as "ChargePeriodEnd",
        {billing_start} as "ChargePeriodStart",
        cast(null as decimal(38, 0)) as "ConsumedQuantity",
        cast(null as varchar) as "ConsumedUnit",
        cast(platform_fee_usd as decimal(38, 15)) as "ContractedCost",
        cast(platform_fee_usd as decimal(18, 9)) as "ContractedUnitPrice",
        cast(platform_fee_usd as decimal(18, 6)) as "EffectiveCost",
        'meterr' as "InvoiceIssuerName",
        cast(platform_fee_usd as decimal(38, 15)) as "ListCost",
        cast(platform_fee_usd as decimal(18, 9)) as "ListUnitPrice",
        'Standard' as "PricingCategory",
        cast(1 as decimal(38, 6)) as "PricingQuantity",
        'Months' as "PricingUnit",
        'meterr' as "ProviderName",
        'meterr' as "PublisherName",
        'Management and Governance' as "ServiceCategory",
        'meterr platform fee' as "ServiceName",
        'Cost Management' as "ServiceSubcategory",
        cast(null as varchar) as "SkuMeter",
        cast(null as varchar) as "SubAccountId",
        cast(null as varchar) as "SubAccountName",
        cast(null as varchar) as "x_AuthoritativeSource",
        cast(null as integer) as "x_ContextTier",
        fee_model as "x_FeeModel",
        integration_id as "x_IntegrationId",
        cast(null as varchar) as "x_Model",
        cast(null as varchar) as "x_PriceSource",
        cast(null as varchar) as "x_PriceVersion",
        cast(null as varchar) as "x_ServiceTier",
        cast(null as varchar) as "x_TokenBucket",
        user_id as "x_UserId",
        1 as _kind, month as _day, provider as _provider
    from marts.monthly_statement
    where month = date '{start.isoformat()}'
        and platform_fee_usd is not null
        and platform_fee_usd <> 0
)
select {", ".join(f'"{c}"' for c in EXPORT_COLUMNS)}
from (select * from usage_rows union all select * from fee_rows)
order by _kind, _day, _provider, "x_Model", "SubAccountId", "x_IntegrationId", "x_UserId",
    "x_ServiceTier", "x_ContextTier", "x_TokenBucket"
"""


def _home(home: MeterrHome | str | os.PathLike[str]) -> MeterrHome:
    return home if isinstance(home, MeterrHome) else meterr_home(home)


def _copy(con: duckdb.DuckDBPyConnection, sql: str, path: Path, options: str) -> None:
    """COPY the query to ``path`` through a temporary file, so a reader never sees half a file."""
    partial = path.with_name(path.name + ".partial")
    partial.unlink(missing_ok=True)
    target = str(partial).replace("'", "''")
    con.execute(f"COPY ({sql}) TO '{target}' ({options})")
    os.replace(partial, path)


def write_focus_export(
    con: duckdb.DuckDBPyConnection, home: MeterrHome | str | os.PathLike[str], month: str
) -> tuple[Path, Path]:
    """Write the FOCUS 1.2 export of ``month`` ('YYYY-MM'); returns (csv_path, parquet_path).

    ``con`` is a connection to the warehouse (read-only is enough: only files are written).
    Files: ``<home>/exports/focus-YYYY-MM.csv`` and ``.parquet``, replaced if they exist.
    Raises ValueError for a malformed month and duckdb.Error when the marts are missing.
    """
    start, end = _month_bounds(month)
    exports = _home(home).exports
    exports.mkdir(parents=True, exist_ok=True)
    stem = f"focus-{start:%Y-%m}"
    csv_path, parquet_path = exports / f"{stem}.csv", exports / f"{stem}.parquet"
    sql = export_sql(start, end)
    ((unpriced,),) = con.execute(
        "select count(*) from marts.fct_cost_lines "
        f"where usage_date >= date '{start.isoformat()}' and usage_date < date '{end.isoformat()}'"
        " and billed_cost_usd is null"
    ).fetchall()
    if unpriced:
        log.warning(
            "FOCUS export %s: %d cost line(s) left out because their cost is unknown "
            "(unpriced and not billed); see marts.fct_cost_lines",
            month,
            unpriced,
        )
    # NULL is written as an empty, unquoted field; an empty string would be quoted ("").
    _copy(con, sql, csv_path, "FORMAT csv, HEADER true, DELIMITER ','")
    _copy(con, _typed_datetimes(sql), parquet_path, "FORMAT parquet")
    return csv_path, parquet_path


def _datetime_columns(columns: list[str] | tuple[str, ...]) -> list[str]:
    return [c for c in columns if FOCUS_COLUMNS.get(c, ("",))[0] == "datetime"]


def _typed_datetimes(sql: str) -> str:
    """``sql`` with its ISO 8601 UTC text date-times as TIMESTAMP WITH TIME ZONE, for Parquet:
    readers get real timestamps marked as UTC instants (``isAdjustedToUTC``), not strings. The
    text carries its offset, so the cast does not depend on the session's time zone."""
    typed = ", ".join(
        f"cast(replace(\"{c}\", 'Z', '+00:00') as timestamptz) as \"{c}\""
        for c in _datetime_columns(EXPORT_COLUMNS)
    )
    return f"select * replace ({typed}) from ({sql})"


# --------------------------------------------------------------------------------------------
# Validation


def _relation_sql(path: Path) -> str:
    quoted = str(path).replace("'", "''")
    if path.suffix.lower() == ".parquet":
        return f"(select * from read_parquet('{quoted}'))"
    # All text, and a quoted empty field ("") stays an empty string instead of becoming NULL, so
    # empty strings (not allowed as "no value") can be told from NULLs (empty, unquoted).
    return (
        f"read_csv('{quoted}', header = true, all_varchar = true, delim = ',', "
        "quote = '\"', escape = '\"', allow_quoted_nulls = false)"
    )


def _count(con: duckdb.DuckDBPyConnection, sql: str) -> int:
    ((value,),) = con.execute(sql).fetchall()
    return int(value)


def focus_column_violations(path: str | os.PathLike[str]) -> list[str]:
    """Every FOCUS 1.2 rule the CSV or Parquet file at ``path`` breaks (empty list = valid).

    Checks (reference/formats.md section 10): the mandatory columns are present; column names are
    PascalCase FOCUS 1.2 columns or custom columns prefixed ``x_``, custom ones after all FOCUS
    ones; no NULL in a column that allows none; no empty strings (NULL means "no value"); date-times
    are ISO 8601 UTC ``YYYY-MM-DDTHH:mm:ssZ`` with start before end and charge periods inside the
    billing period; currency codes are ISO 4217; metrics are plain numbers (no symbols, separators
    or '+'); enumerated columns hold allowed values; JSON columns hold objects;
    ``ListCost = ListUnitPrice x PricingQuantity`` (likewise ContractedCost) where a unit price is
    given; and SubAccountId and SubAccountName come together, NULL on the same rows.
    """
    file = Path(path)
    if not file.is_file():
        return [f"{file}: no such file"]
    violations: list[str] = []
    con = duckdb.connect()
    try:
        try:
            con.execute(f"create temp view focus_file as select * from {_relation_sql(file)}")
            types = dict(
                (row[0], row[1]) for row in con.execute("describe focus_file").fetchall()
            )
            columns = list(types)
            violations += _typed_datetime_violations(types)
            con.execute(f"create temp view focus as {_as_text_datetimes(types)}")
        except duckdb.Error as exc:
            return [f"{file}: cannot be read as {file.suffix.lstrip('.')}: {exc}"]
        violations += _name_violations(columns)
        present = set(columns)
        text = {c: f'cast("{c}" as varchar)' for c in columns}
        for column in columns:
            kind_nullable = FOCUS_COLUMNS.get(column)
            expr = text[column]
            empties = _count(con, f"select count(*) from focus where {expr} = ''")
            if empties:
                violations.append(f"{column}: {empties} empty string(s); use NULL for 'no value'")
            if kind_nullable is None:
                continue
            kind, nullable = kind_nullable
            if not nullable:
                nulls = _count(con, f'select count(*) from focus where "{column}" is null')
                if nulls:
                    violations.append(f"{column}: {nulls} NULL value(s); the column allows none")
            violations += _value_violations(con, column, kind, expr)
        violations += _period_violations(con, present)
        violations += _cost_formula_violations(con, present)
        violations += _quantity_violations(con, present)
        violations += _sub_account_violations(con, present)
    finally:
        con.close()
    return violations


def _typed_datetime_violations(types: dict[str, str]) -> list[str]:
    """A typed date-time (Parquet) must be an instant marked UTC, not a local wall-clock time."""
    naive = [
        column
        for column in _datetime_columns(list(types))
        if types[column].upper() in ("TIMESTAMP", "TIMESTAMP_NS", "TIMESTAMP_MS", "TIMESTAMP_S")
    ]
    return [
        f"{column}: TIMESTAMP without time zone; FOCUS date-times are UTC (use a UTC-adjusted "
        "timestamp or ISO 8601 text ending in Z)"
        for column in naive
    ]


def _as_text_datetimes(types: dict[str, str]) -> str:
    """The file as the checks read it: typed date-times written as FOCUS's ISO 8601 text (a naive
    one is reported once, by :func:`_typed_datetime_violations`, not again as badly written)."""
    typed = []
    for c in _datetime_columns(list(types)):
        if "TIME ZONE" in types[c].upper():
            typed.append(f"strftime(timezone('UTC', \"{c}\"), '%Y-%m-%dT%H:%M:%SZ') as \"{c}\"")
        elif types[c].upper().startswith("TIMESTAMP"):
            typed.append(f"strftime(\"{c}\", '%Y-%m-%dT%H:%M:%SZ') as \"{c}\"")
    if not typed:
        return "select * from focus_file"
    return f"select * replace ({', '.join(typed)}) from focus_file"


def _name_violations(columns: list[str]) -> list[str]:
    violations = []
    seen: set[str] = set()
    custom_seen = False
    for column in columns:
        if column in seen:
            violations.append(f"{column}: duplicate column")
        seen.add(column)
        if column.startswith("x_"):
            custom_seen = True
            if not CUSTOM_NAME_PATTERN.fullmatch(column):
                violations.append(f"{column}: custom column names are x_ plus letters and digits")
            continue
        if not FOCUS_NAME_PATTERN.fullmatch(column):
            violations.append(
                f"{column}: not a PascalCase FOCUS column; custom columns need the x_ prefix"
            )
        elif column not in FOCUS_COLUMNS:
            violations.append(
                f"{column}: not a FOCUS {FOCUS_VERSION} column; custom columns need the x_ prefix"
            )
        if custom_seen:
            violations.append(f"{column}: FOCUS columns must come before the x_ columns")
    for column in MANDATORY_COLUMNS:
        if column not in seen:
            violations.append(f"{column}: mandatory column missing")
    return violations


def _value_violations(
    con: duckdb.DuckDBPyConnection, column: str, kind: str, expr: str
) -> list[str]:
    violations = []
    if kind == "datetime":
        bad = _count(
            con,
            f"select count(*) from focus where {expr} is not null and "
            f"(not regexp_full_match({expr}, '{DATETIME_PATTERN}') "
            f"or try_strptime({expr}, '%Y-%m-%dT%H:%M:%SZ') is null)",
        )
        if bad:
            violations.append(
                f"{column}: {bad} value(s) not ISO 8601 UTC date-times (YYYY-MM-DDTHH:mm:ssZ)"
            )
    elif kind == "metric":
        bad = _count(
            con,
            f"select count(*) from focus where {expr} is not null "
            f"and not regexp_full_match({expr}, '{NUMBER_PATTERN}')",
        )
        if bad:
            violations.append(
                f"{column}: {bad} value(s) not plain numbers (no symbols, separators or '+')"
            )
    elif kind == "json":
        values = [
            row[0]
            for row in con.execute(
                f"select distinct {expr} from focus where {expr} is not null"
            ).fetchall()
        ]
        bad = 0
        for value in values:
            try:
                bad += not isinstance(json.loads(value), dict)
            except ValueError:
                bad += 1
        if bad:
            violations.append(f"{column}: {bad} value(s) not a JSON object")
    if column in CURRENCY_COLUMNS:
        values = [
            row[0]
            for row in con.execute(
                f"select distinct {expr} from focus where {expr} is not null"
            ).fetchall()
        ]
        bad_codes = sorted(v for v in values if v not in ISO_4217)
        if bad_codes:
            violations.append(f"{column}: not ISO 4217 currency codes: {', '.join(bad_codes)}")
    allowed = ALLOWED_VALUES.get(column)
    if allowed is not None:
        values = [
            row[0]
            for row in con.execute(
                f"select distinct {expr} from focus where {expr} is not null"
            ).fetchall()
        ]
        bad_values = sorted(v for v in values if v not in allowed and v != "")
        if bad_values:
            violations.append(f"{column}: values not allowed: {', '.join(bad_values)}")
    return violations


def _parse_time(value: str | None) -> datetime | None:
    if value is None:
        return None
    try:
        return datetime.strptime(value, "%Y-%m-%dT%H:%M:%SZ")
    except ValueError:
        return None


def _period_violations(con: duckdb.DuckDBPyConnection, present: set[str]) -> list[str]:
    wanted = ("ChargePeriodStart", "ChargePeriodEnd", "BillingPeriodStart", "BillingPeriodEnd")
    if not set(wanted) <= present:
        return []
    rows = con.execute(
        "select distinct " + ", ".join(f'cast("{c}" as varchar)' for c in wanted) + " from focus"
    ).fetchall()
    charge_order = billing_order = outside = 0
    for charge_start, charge_end, billing_start, billing_end in rows:
        cs, ce, bs, be = map(_parse_time, (charge_start, charge_end, billing_start, billing_end))
        if cs and ce and not cs < ce:
            charge_order += 1
        if bs and be and not bs < be:
            billing_order += 1
        if cs and ce and bs and be and not (bs <= cs and ce <= be):
            outside += 1
    violations = []
    if charge_order:
        violations.append(f"ChargePeriodStart: {charge_order} period(s) not before ChargePeriodEnd")
    if billing_order:
        violations.append(
            f"BillingPeriodStart: {billing_order} period(s) not before BillingPeriodEnd"
        )
    if outside:
        violations.append(
            f"ChargePeriodStart: {outside} charge period(s) outside the billing period"
        )
    return violations


def _decimal(value: object) -> Decimal | None:
    if value is None:
        return None
    try:
        return Decimal(str(value))
    except InvalidOperation:
        return None


def _cost_formula_violations(con: duckdb.DuckDBPyConnection, present: set[str]) -> list[str]:
    violations = []
    for cost, unit_price in (
        ("ListCost", "ListUnitPrice"),
        ("ContractedCost", "ContractedUnitPrice"),
    ):
        if not {cost, unit_price, "PricingQuantity"} <= present:
            continue
        rows = con.execute(
            f'select cast("{cost}" as varchar), cast("{unit_price}" as varchar), '
            f'cast("PricingQuantity" as varchar) from focus '
            f'where "{unit_price}" is not null and "PricingQuantity" is not null'
        ).fetchall()
        bad = 0
        for cost_text, price_text, quantity_text in rows:
            total, price, quantity = map(_decimal, (cost_text, price_text, quantity_text))
            if total is None or price is None or quantity is None:
                continue  # reported by the number check
            # Exact in meterr's files; a micro-dollar of slack for files rounded elsewhere.
            if abs(total - price * quantity) > Decimal("0.000001"):
                bad += 1
        if bad:
            violations.append(
                f"{cost}: {bad} row(s) where {cost} != {unit_price} x PricingQuantity"
            )
    return violations


def _sub_account_violations(con: duckdb.DuckDBPyConnection, present: set[str]) -> list[str]:
    """A dataset with sub accounts has both SubAccountId and SubAccountName, NULL on the same
    rows: the charges that apply to no sub account (FOCUS 1.2, SubAccountId and SubAccountName)."""
    pair = {"SubAccountId", "SubAccountName"}
    if not pair & present:
        return []
    if not pair <= present:
        [there] = pair & present
        [missing] = pair - present
        return [f"{missing}: column missing; a dataset with {there} needs both"]
    mismatched = _count(
        con,
        'select count(*) from focus where ("SubAccountId" is null) <> ("SubAccountName" is null)',
    )
    if mismatched:
        return [
            f"SubAccountName: {mismatched} row(s) NULL where SubAccountId is not, or the reverse"
        ]
    return []


def _quantity_violations(con: duckdb.DuckDBPyConnection, present: set[str]) -> list[str]:
    """PricingQuantity is required on Usage and Purchase rows (corrections excepted) and must be
    NULL on Tax rows (FOCUS 1.2, PricingQuantity)."""
    if not {"PricingQuantity", "ChargeCategory"} <= present:
        return []
    not_correction = (
        """coalesce(cast("ChargeClass" as varchar), '') <> 'Correction'"""
        if "ChargeClass" in present
        else "true"
    )
    violations = []
    missing = _count(
        con,
        'select count(*) from focus where "PricingQuantity" is null '
        f"""and "ChargeCategory" in ('Usage', 'Purchase') and {not_correction}""",
    )
    if missing:
        violations.append(
            f"PricingQuantity: {missing} NULL value(s) on Usage or Purchase rows "
            "(allowed only on corrections)"
        )
    taxed = _count(
        con,
        'select count(*) from focus where "PricingQuantity" is not null '
        """and "ChargeCategory" = 'Tax'""",
    )
    if taxed:
        violations.append(f"PricingQuantity: {taxed} value(s) on Tax rows (must be NULL)")
    return violations
