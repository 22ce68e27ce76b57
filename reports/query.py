"""Small read-only query helpers shared by the report data modules.

Every helper returns plain values (see :func:`plain`): the report data is JSON-able and never
holds DuckDB objects. Nothing here writes to the warehouse.
"""

from __future__ import annotations

from datetime import UTC, date, datetime
from decimal import Decimal
from typing import Any

import duckdb

# Column names that may hold secrets: never selected by the generic (unknown-schema) readers.
SENSITIVE_COLUMN_PARTS = ("ciphertext", "secret", "password", "api_key_value", "credential")


def plain(value: Any) -> Any:
    """A DuckDB value as a plain JSON-able one (Decimal -> float, dates -> ISO strings)."""
    if isinstance(value, Decimal):
        return float(value)
    if isinstance(value, datetime):
        if value.tzinfo is not None:
            value = value.astimezone(UTC).replace(tzinfo=None)
        return value.isoformat(timespec="seconds")
    if isinstance(value, date):
        return value.isoformat()
    if isinstance(value, list | tuple):
        return [plain(item) for item in value]
    if isinstance(value, dict):
        return {str(key): plain(item) for key, item in value.items()}
    if isinstance(value, bytes | bytearray | memoryview):
        return f"<{len(bytes(value))} bytes>"
    return value


def fetch_rows(
    con: duckdb.DuckDBPyConnection, sql: str, params: dict[str, Any] | list[Any] | None = None
) -> list[dict[str, Any]]:
    """Every row of ``sql`` as a dict of plain values, keyed by column name."""
    cursor = con.execute(sql, params or {})
    names = [column[0] for column in cursor.description]
    return [
        {name: plain(value) for name, value in zip(names, row, strict=True)}
        for row in cursor.fetchall()
    ]


def fetch_one(
    con: duckdb.DuckDBPyConnection, sql: str, params: dict[str, Any] | list[Any] | None = None
) -> dict[str, Any]:
    """The first row of ``sql`` (``{}`` when there is none)."""
    rows = fetch_rows(con, sql, params)
    return rows[0] if rows else {}


def table_exists(con: duckdb.DuckDBPyConnection, schema: str, table: str) -> bool:
    """Whether ``schema.table`` (a table or a view) exists in the connection's current database."""
    found = con.execute(
        "SELECT count(*) FROM information_schema.tables"
        " WHERE table_catalog = current_database() AND table_schema = ? AND table_name = ?",
        [schema, table],
    ).fetchone()
    return bool(found and found[0])


def columns(con: duckdb.DuckDBPyConnection, schema: str, table: str) -> dict[str, str]:
    """``{column name: upper-case data type}`` of ``schema.table``, in table order."""
    found = con.execute(
        "SELECT column_name, data_type FROM information_schema.columns"
        " WHERE table_catalog = current_database() AND table_schema = ? AND table_name = ?"
        " ORDER BY ordinal_position",
        [schema, table],
    ).fetchall()
    return {str(name): str(kind).upper() for name, kind in found}


def quote_ident(name: str) -> str:
    """``name`` as a quoted SQL identifier (for names read from the catalogue, not typed in)."""
    return '"' + name.replace('"', '""') + '"'


def timestamp_expr(con: duckdb.DuckDBPyConnection, schema: str, table: str, column: str) -> str:
    """SQL for ``column`` as a naive UTC timestamp, whether it is TIMESTAMP or TIMESTAMPTZ."""
    kind = columns(con, schema, table).get(column, "")
    ident = quote_ident(column)
    if "TIME ZONE" in kind:
        return f"timezone('UTC', {ident})"
    return f"CAST({ident} AS TIMESTAMP)"


def is_numeric_type(kind: str) -> bool:
    """Whether a DuckDB type name (upper case) is a number."""
    base = kind.split("(")[0].strip()
    return base in {
        "TINYINT", "SMALLINT", "INTEGER", "BIGINT", "HUGEINT", "UTINYINT", "USMALLINT",
        "UINTEGER", "UBIGINT", "UHUGEINT", "FLOAT", "DOUBLE", "REAL", "DECIMAL", "NUMERIC",
    }  # fmt: skip


def is_sensitive_column(name: str) -> bool:
    """Whether a column name looks like it holds a secret (never shown by generic tables)."""
    lowered = name.lower()
    return any(part in lowered for part in SENSITIVE_COLUMN_PARTS)


def newest_timestamp(values: list[str | None]) -> str | None:
    """The newest of some ISO timestamps (``None`` entries ignored; ``None`` when all are)."""
    present = [value for value in values if value]
    return max(present) if present else None
