"""Data-health details whose tables may not exist (yet): raw-table freshness, failed checks and
source reconciliation gaps. Plain data only, read-only.

Each reader tolerates an absent table (it says so in ``note``) and a table whose columns it does
not know: the failed-check and reconciliation tables are read generically from the catalogue, so a
later change to their columns changes what is shown, not whether the report renders. Columns that
look like secrets (:func:`reports.query.is_sensitive_column`) are never selected.
"""

from __future__ import annotations

import logging
import re
from datetime import date
from typing import Any

import duckdb

from ingest.formats import FORMATS
from reports.query import (
    columns,
    fetch_one,
    fetch_rows,
    is_numeric_type,
    is_sensitive_column,
    quote_ident,
    table_exists,
    timestamp_expr,
)

log = logging.getLogger(__name__)

RAW_SCHEMA = "raw"
LOADED_AT = "_loaded_at"
# Raw tables listed at most (a warehouse has one per source endpoint: a dozen or two).
RAW_TABLES_LIMIT = 60
# Where failed asset checks may be recorded, first found wins. None of these is in the contract
# yet; a run that records check results into one of them shows up here without a code change.
CHECK_TABLES = (
    ("meta", "check_results"),
    ("meta", "asset_check_results"),
    ("meta", "asset_check_failures"),
    ("meta", "check_failures"),
    ("meta", "failed_checks"),
)
CHECKS_LIMIT = 20
RECONCILIATION_TABLE = ("marts", "rpt_source_reconciliation")
RECONCILIATION_LIMIT = 10
# A reconciliation column is a "gap" column when its name says it is a difference
# (``difference_usd``, ``billed_minus_estimated_usd``, ``cost_delta`` ...).
_GAP_COLUMN = re.compile(r"diff|delta|gap|minus", re.I)
# A row whose status says the sources agree is not a gap, whatever rounding left in a difference.
_AGREED_STATUSES = ("matched", "match", "ok", "agreed", "reconciled")
# Columns shown, in this order, when the table has them (the accounting mart's layout); a table
# with fewer than three of them is shown whole, up to RECONCILIATION_COLUMNS columns.
_RECONCILIATION_PREFERRED = (
    "usage_date", "date", "day", "month", "provider", "model", "project_id", "source",
    "estimated_cost_usd", "billed_cost_usd", "observed_cost_usd",
)  # fmt: skip
_RECONCILIATION_TAIL = ("status", "reason_code", "note", "reason")
RECONCILIATION_COLUMNS = 12
# Below this, a difference is float noise (DECIMAL(18,6) holds millionths).
GAP_EPSILON = 5e-7
_FAILED_WORDS = ("failed", "fail", "failure", "error", "errored")


def raw_tables(con: duckdb.DuckDBPyConnection) -> list[dict[str, Any]]:
    """One row per ``raw.*`` table: its row count and newest ``_loaded_at`` (the last load)."""
    found = con.execute(
        "SELECT table_name FROM information_schema.tables"
        " WHERE table_catalog = current_database() AND table_schema = ?"
        " ORDER BY table_name LIMIT ?",
        [RAW_SCHEMA, RAW_TABLES_LIMIT],
    ).fetchall()
    rows: list[dict[str, Any]] = []
    for (name,) in found:
        table = f"{RAW_SCHEMA}.{quote_ident(name)}"
        has_loaded_at = LOADED_AT in columns(con, RAW_SCHEMA, name)
        loaded = (
            f"max({timestamp_expr(con, RAW_SCHEMA, name, LOADED_AT)})"
            if has_loaded_at
            else "CAST(NULL AS TIMESTAMP)"
        )
        try:
            row = fetch_one(
                con, f"SELECT count(*) AS row_count, {loaded} AS last_loaded_at FROM {table}"
            )
        except duckdb.Error as exc:
            log.warning("raw.%s could not be read for the report: %s", name, exc)
            row = {"row_count": None, "last_loaded_at": None}
        rows.append({"table": f"{RAW_SCHEMA}.{name}", **row})
    return rows


def newest_raw_load(tables: list[dict[str, Any]]) -> str | None:
    """The newest ``_loaded_at`` over all raw tables (``None`` without any load)."""
    loads = [row["last_loaded_at"] for row in tables if row["last_loaded_at"]]
    return max(loads) if loads else None


def _safe_columns(con: duckdb.DuckDBPyConnection, schema: str, table: str) -> dict[str, str]:
    return {
        name: kind
        for name, kind in columns(con, schema, table).items()
        if not is_sensitive_column(name)
    }


def _first_time_column(cols: dict[str, str]) -> str | None:
    for name, kind in cols.items():
        if "TIMESTAMP" in kind:
            return name
    for name, kind in cols.items():
        if kind == "DATE":
            return name
    return None


def failed_checks(con: duckdb.DuckDBPyConnection) -> dict[str, Any]:
    """Checks whose latest evaluation failed, from ``meta.check_results`` (the quality gates and
    dbt tests of every run): one row per asset x check, newest first, at most
    :data:`CHECKS_LIMIT`. A check that failed once and passed since is not listed."""
    if not table_exists(con, "meta", "check_results"):
        return {
            "available": False,
            "table": None,
            "columns": [],
            "rows": [],
            "total": 0,
            "note": "No failed checks recorded (no run has recorded check results yet).",
        }
    latest = """
        SELECT checked_at, asset_key, check_name, severity, description, passed
        FROM meta.check_results
        QUALIFY row_number() OVER (
            PARTITION BY asset_key, check_name ORDER BY checked_at DESC
        ) = 1
    """
    try:
        total = fetch_one(con, f"SELECT count(*) AS n FROM ({latest}) WHERE NOT passed")["n"]
        rows = fetch_rows(
            con,
            f"SELECT checked_at, asset_key, check_name, severity, description "
            f"FROM ({latest}) WHERE NOT passed ORDER BY checked_at DESC, asset_key "
            f"LIMIT {CHECKS_LIMIT}",
        )
    except duckdb.Error as exc:
        log.warning("meta.check_results could not be read for the report: %s", exc)
        return {
            "available": False,
            "table": "meta.check_results",
            "columns": [],
            "rows": [],
            "total": 0,
            "note": f"meta.check_results could not be read ({type(exc).__name__}).",
        }
    return {
        "available": True,
        "table": "meta.check_results",
        "columns": ["checked_at", "asset_key", "check_name", "severity", "description"],
        "rows": rows,
        "total": total,
        "note": None if total else "No failing checks: every check passed on its latest run.",
    }


def reconciliation_gaps(
    con: duckdb.DuckDBPyConnection, start: date | None = None, end: date | None = None
) -> dict[str, Any]:
    """Rows of ``marts.rpt_source_reconciliation`` with a non-zero difference, biggest first.

    Difference columns are the numeric ones named like ``*diff*``, ``*delta*``, ``*gap*`` or
    ``*minus*`` (e.g. ``difference_usd``, ``billed_minus_estimated_usd``); a row is a gap when any
    of them is non-zero and its ``status`` (if there is one) does not say the sources agree.
    Dollar differences rank first. When the table has a DATE column ``usage_date`` (or
    ``date``/``day``) and ``start``/``end`` are given, only rows in that window are read. At most
    :data:`RECONCILIATION_LIMIT` rows; ``total`` counts them all. ``columns`` are the ones shown.
    """
    schema, name = RECONCILIATION_TABLE
    result: dict[str, Any] = {
        "available": False,
        "table": f"{schema}.{name}",
        "columns": [],
        "gap_columns": [],
        "rows": [],
        "total": 0,
        "window": None,
        "note": "Source reconciliation is not available (marts.rpt_source_reconciliation has not "
        "been built yet).",
    }
    if not table_exists(con, schema, name):
        return result
    cols = _safe_columns(con, schema, name)
    gaps = [c for c, kind in cols.items() if _GAP_COLUMN.search(c) and is_numeric_type(kind)]
    if not gaps:
        result["note"] = (
            "Source reconciliation is not available (marts.rpt_source_reconciliation has no "
            "difference column)."
        )
        return result

    def largest(names: list[str]) -> str:
        parts = [f"abs(coalesce(CAST({quote_ident(c)} AS DOUBLE), 0))" for c in names]
        return parts[0] if len(parts) == 1 else f"greatest({', '.join(parts)})"

    money_gaps = [c for c in gaps if c.lower().endswith("_usd")]
    where = [f"{largest(gaps)} > {GAP_EPSILON}"]
    if "status" in cols:
        agreed = ", ".join(f"'{status}'" for status in _AGREED_STATUSES)
        where.append(f"lower(coalesce(CAST(status AS VARCHAR), '')) NOT IN ({agreed})")
    order = f"{largest(money_gaps)} DESC, " if money_gaps else ""
    order += f"{largest(gaps)} DESC"
    params: dict[str, Any] = {}
    date_column = next((c for c in ("usage_date", "date", "day") if cols.get(c) == "DATE"), None)
    if date_column and start is not None and end is not None:
        where.append(f"{quote_ident(date_column)} BETWEEN $start AND $end")
        params = {"start": start, "end": end}
        result["window"] = {
            "column": date_column,
            "start": start.isoformat(),
            "end": end.isoformat(),
        }
    preferred = [c for c in _RECONCILIATION_PREFERRED if c in cols]
    if len(preferred) >= 3:
        tail = [c for c in _RECONCILIATION_TAIL if c in cols]
        shown = [*preferred, *gaps, *tail]
    else:
        shown = list(cols)[:RECONCILIATION_COLUMNS]
        shown += [c for c in gaps if c not in shown]
    select = ", ".join(quote_ident(column) for column in shown)
    table = f"{schema}.{quote_ident(name)}"
    condition = " AND ".join(where)
    try:
        total = fetch_one(con, f"SELECT count(*) AS n FROM {table} WHERE {condition}", params)["n"]
        rows = fetch_rows(
            con,
            f"SELECT {select} FROM {table} WHERE {condition}"
            f" ORDER BY {order} LIMIT {RECONCILIATION_LIMIT}",
            params,
        )
    except duckdb.Error as exc:
        log.warning("%s.%s could not be read for the report: %s", schema, name, exc)
        result["note"] = f"{schema}.{name} could not be read ({type(exc).__name__})."
        return result
    result.update(
        available=True,
        columns=shown,
        gap_columns=gaps,
        rows=rows,
        total=total,
        note=None if total else "No reconciliation gaps: every source agrees.",
    )
    return result


def last_file_loads(con: duckdb.DuckDBPyConnection) -> dict[str, str]:
    """The newest successful file load per usage ``source`` (ISO timestamps, UTC).

    The ledger records each file's format; several formats feed one source (the Anthropic
    Console's usage and cost CSVs are both ``anthropic_export``, OpenAI's cost CSV is
    ``openai_export``), so the formats are mapped to their sources here. Empty without a ledger.
    """
    if not table_exists(con, "meta", "ingested_files"):
        return {}
    ts = timestamp_expr(con, "meta", "ingested_files", "ingested_at")
    rows = fetch_rows(
        con,
        f"SELECT format, max({ts}) AS t FROM meta.ingested_files"
        " WHERE status = 'loaded' AND format IS NOT NULL GROUP BY format",
    )
    source_of = {export.format_name: export.source for export in FORMATS}
    loads: dict[str, str] = {}
    for row in rows:
        source = source_of.get(row["format"], row["format"])
        if row["t"] is not None and (source not in loads or row["t"] > loads[source]):
            loads[source] = row["t"]
    return loads
