"""Committing a validated batch into ``raw.*``: one transaction, replace-then-insert, never half.

A batch is the pending table of one file or one API partition. What it replaces is decided by the
table's rules: rows with the same record key (request ids across differently packed exports), the
same ``replace_by`` values (a day-level export's days for one account), or an explicit window (an
API partition's day). Replacing is what makes every load idempotent.
"""

from __future__ import annotations

import duckdb

from ingest.formats.base import RawTable


def ensure_table(con: duckdb.DuckDBPyConnection, table: RawTable) -> None:
    """Create ``raw.<table>`` if it is missing (columns from the spec, lineage columns first)."""
    con.execute(table.create_sql(table.qualified_table))


def create_pending(con: duckdb.DuckDBPyConnection, table: RawTable, *, origin: str = "drop") -> str:
    """A fresh, empty temp table shaped like ``table`` for one batch; returns its name.

    ``origin`` ('drop', 'webhook', 'api') becomes every row's ``_origin``.
    """
    pending = f"pending_{table.raw_table}"
    con.execute(f"DROP TABLE IF EXISTS {pending}")
    con.execute(table.create_sql(pending, temp=True, origin=origin))
    return pending


def _cols(names: tuple[str, ...]) -> str:
    return ", ".join(f'"{c}"' for c in names)


def commit_batch(
    con: duckdb.DuckDBPyConnection,
    table: RawTable,
    pending: str,
    *,
    replace_where: str | None = None,
    extra_statements: tuple[tuple[str, list], ...] = (),
) -> int:
    """Move ``pending`` into ``raw.<table>`` atomically; returns the number of rows inserted.

    ``replace_where`` is a SQL predicate over the raw table (an API partition's window) whose rows
    the batch replaces. ``extra_statements`` run inside the same transaction (e.g. the ledger row),
    so a crash leaves either the old state or the new one.
    """
    ensure_table(con, table)
    target = table.qualified_table
    con.execute("BEGIN TRANSACTION")
    try:
        if replace_where:
            con.execute(f"DELETE FROM {target} WHERE {replace_where}")
        if table.key:
            match = " AND ".join(f't."{k}" = p."{k}"' for k in table.key)
            con.execute(f"DELETE FROM {target} AS t USING {pending} AS p WHERE {match}")
        if table.replace_by:
            # NULL-safe: a day-level export for the default (NULL) workspace replaces that too.
            match = " AND ".join(f't."{c}" IS NOT DISTINCT FROM p."{c}"' for c in table.replace_by)
            con.execute(f"DELETE FROM {target} AS t USING {pending} AS p WHERE {match}")
        names = _cols(tuple(table.all_columns))
        # Loaders that stream a file in one pass leave _row_number empty: a fresh pending table's
        # rowid is the file order, so it is numbered here instead of by a window over the file.
        values = ", ".join(
            'COALESCE("_row_number", rowid + 1)' if c == "_row_number" else f'"{c}"'
            for c in table.all_columns
        )
        con.execute(f"INSERT INTO {target} ({names}) SELECT {values} FROM {pending}")
        inserted = con.execute(f"SELECT count(*) FROM {pending}").fetchone()[0]
        for sql, params in extra_statements:
            con.execute(sql, params)
        con.execute("COMMIT")
    except BaseException:
        con.execute("ROLLBACK")
        raise
    return inserted
