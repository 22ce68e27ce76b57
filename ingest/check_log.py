"""``meta.check_results``: every quality-gate and dbt-test outcome of every run, for the report's
data-health section (Dagster keeps them too, but the report reads only the warehouse)."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import UTC, datetime

import duckdb

DDL = """
CREATE TABLE IF NOT EXISTS meta.check_results (
    checked_at TIMESTAMP NOT NULL,
    run_id VARCHAR,
    asset_key VARCHAR NOT NULL,
    check_name VARCHAR NOT NULL,
    passed BOOLEAN NOT NULL,
    severity VARCHAR,
    description VARCHAR
)
"""


@dataclass(frozen=True)
class CheckOutcome:
    """One evaluation of one check on one asset (one row of ``meta.check_results``)."""

    asset_key: str
    check_name: str
    passed: bool
    severity: str | None = None
    description: str | None = None


def record(
    con: duckdb.DuckDBPyConnection,
    outcomes: Iterable[CheckOutcome],
    *,
    run_id: str | None = None,
    at: datetime | None = None,
) -> int:
    """Append outcomes; returns how many were written."""
    con.execute("CREATE SCHEMA IF NOT EXISTS meta")
    con.execute(DDL)
    when = (at or datetime.now(UTC)).replace(tzinfo=None)
    rows = [
        [
            when,
            run_id,
            o.asset_key,
            o.check_name,
            o.passed,
            o.severity,
            (o.description or "")[:2000],
        ]
        for o in outcomes
    ]
    if rows:
        con.executemany("INSERT INTO meta.check_results VALUES (?, ?, ?, ?, ?, ?, ?)", rows)
    return len(rows)


def last_passed(con: duckdb.DuckDBPyConnection, asset_key: str, check_name: str) -> datetime | None:
    """When ``check_name`` on ``asset_key`` last passed (UTC, naive), or None if it never did."""
    recorded = con.execute(
        "SELECT count(*) FROM duckdb_tables() WHERE database_name = current_database() "
        "AND schema_name = 'meta' AND table_name = 'check_results'"
    ).fetchone()[0]
    if not recorded:
        return None
    return con.execute(
        "SELECT max(checked_at) FROM meta.check_results "
        "WHERE asset_key = ? AND check_name = ? AND passed",
        [asset_key, check_name],
    ).fetchone()[0]
