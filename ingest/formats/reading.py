"""Shared DuckDB readers for loaders: pinned-dialect CSV, JSON Lines / arrays, and typed inserts.

Everything is read as text first and cast in one INSERT, so that a bad cell is reported with its row
number instead of DuckDB's sniffer silently guessing a type (see ../shared pitfalls: a damaged CSV can
sniff as one column).
"""

from __future__ import annotations

from pathlib import Path

import duckdb

from ingest.formats.base import FormatError

# A single JSON record or CSV line longer than this is refused (an absurd line is not usage data).
MAX_RECORD_BYTES = 16 * 1024 * 1024


def sql_str(value: str) -> str:
    """A SQL string literal."""
    return "'" + value.replace("'", "''") + "'"


def csv_relation(path: Path) -> str:
    """A ``read_csv`` over ``path`` with the dialect pinned and every column as text."""
    return (
        f"read_csv({sql_str(str(path))}, header=true, delim=',', quote='\"', escape='\"', "
        f"all_varchar=true, strict_mode=true, null_padding=false, "
        f"max_line_size={MAX_RECORD_BYTES}, encoding='utf-8', auto_detect=false)"
    )


def csv_columns(con: duckdb.DuckDBPyConnection, path: Path) -> list[str]:
    """The header of a CSV as DuckDB reads it (pinned dialect)."""
    try:
        rel = con.sql(
            f"SELECT * FROM read_csv({sql_str(str(path))}, header=true, delim=',', quote='\"', "
            f"escape='\"', all_varchar=true, max_line_size={MAX_RECORD_BYTES}) LIMIT 0"
        )
    except duckdb.Error as exc:
        raise FormatError(f"not a readable CSV: {first_line(exc)}") from exc
    return list(rel.columns)


def csv_relation_auto(path: Path) -> str:
    """``read_csv`` with the dialect pinned but the header taken from the file (all text)."""
    return (
        f"read_csv({sql_str(str(path))}, header=true, delim=',', quote='\"', escape='\"', "
        f"all_varchar=true, strict_mode=true, max_line_size={MAX_RECORD_BYTES})"
    )


def json_relation(path: Path, columns: dict[str, str], *, array: bool) -> str:
    """A ``read_json`` over JSON Lines (or one JSON array) that extracts only ``columns``.

    Keys not listed (prompt bodies, metadata blobs) are never materialised.
    """
    spec = "{" + ", ".join(f"{sql_str(k)}: {sql_str(v)}" for k, v in columns.items()) + "}"
    fmt = "array" if array else "newline_delimited"
    return (
        f"read_json({sql_str(str(path))}, format='{fmt}', records=true, columns={spec}, "
        f"maximum_object_size={MAX_RECORD_BYTES}, ignore_errors=false)"
    )


def first_line(exc: BaseException) -> str:
    """The first line of an exception's message, for a short quarantine reason."""
    text = str(exc).strip()
    return text.splitlines()[0] if text else type(exc).__name__


def insert_typed(
    con: duckdb.DuckDBPyConnection,
    pending: str,
    file_sha256: str,
    relation: str,
    exprs: dict[str, tuple[str, str]],
) -> int:
    """Insert ``relation`` into ``pending`` with each target column cast from a text expression.

    ``exprs`` maps target column -> (text expression over the relation, SQL type). A cell whose text
    is present but does not cast makes the whole file fail with the first row numbers and columns.
    Returns the number of rows inserted.
    """
    numbered = f"(SELECT row_number() OVER () AS __row, * FROM {relation})"
    casts = {col: f"TRY_CAST(({expr}) AS {dtype})" for col, (expr, dtype) in exprs.items()}
    problems = " UNION ALL ".join(
        f"SELECT __row, {sql_str(col)} AS col, CAST(({expr}) AS VARCHAR) AS val FROM src "
        f"WHERE ({expr}) IS NOT NULL AND trim(CAST(({expr}) AS VARCHAR)) <> '' "
        f"AND {casts[col]} IS NULL"
        for col, (expr, _dtype) in exprs.items()
    )
    try:
        con.execute(f"CREATE OR REPLACE TEMP TABLE __src AS SELECT * FROM {numbered}")
        bad = con.execute(
            f"WITH src AS (SELECT * FROM __src) SELECT __row, col, val FROM ({problems}) "
            f"ORDER BY __row LIMIT 20"
        ).fetchall()
        if bad:
            detail = "; ".join(f"row {r}: {c}={v[:40]!r}" for r, c, v in bad[:5])
            total = con.execute(
                f"WITH src AS (SELECT * FROM __src) SELECT count(DISTINCT __row) FROM ({problems})"
            ).fetchone()[0]
            raise FormatError(f"{total} row(s) with values of the wrong type: {detail}")
        cols = ", ".join(f'"{c}"' for c in ["_file_sha256", "_row_number", "_loaded_at", *exprs])
        selects = ", ".join(
            [sql_str(file_sha256), "__row", "now()::TIMESTAMP"]
            + [casts[c] for c in exprs]
        )
        con.execute(f"INSERT INTO {pending} ({cols}) SELECT {selects} FROM __src")
        return con.execute("SELECT count(*) FROM __src").fetchone()[0]
    except duckdb.Error as exc:
        raise FormatError(f"could not read the file: {first_line(exc)}") from exc
    finally:
        con.execute("DROP TABLE IF EXISTS __src")
