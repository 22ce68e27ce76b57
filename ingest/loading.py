"""Committing a validated batch into ``raw.*``: one transaction, replace-then-insert, never half.

A batch is the pending table of one file or one API partition. What it replaces is decided by the
table's rules: rows with the same record key (request ids across differently packed exports), the
same ``replace_by`` values (a day-level export's days for one account), or an explicit window (an
API partition's day). Replacing is what makes every load idempotent.

A well-formed request-level export skips the pending copy (on a multi-GB file the copy costs about
as much as reading the file): it is inserted straight into its raw table inside a transaction that
stays open through the gate (:func:`in_place_rows`, :func:`settle_in_place`). Until the commit no
other connection sees those rows, and a rollback leaves the table as it was.
"""

from __future__ import annotations

import duckdb

from ingest.formats.base import RawTable
from ingest.formats.reading import sql_str


def ensure_table(con: duckdb.DuckDBPyConnection, table: RawTable) -> None:
    """Create ``raw.<table>`` if it is missing (columns from the spec, lineage columns first), and
    drop the spec's retired columns from a table an earlier meterr created.

    The gate expects a batch to have exactly the spec's columns, and a load into the raw table
    itself is checked there, so a retired column left in place would quarantine every file.
    """
    con.execute(table.create_sql(table.qualified_table))
    if not table.retired:
        return
    schema, name = table.qualified_table.split(".")
    present = con.execute(
        "SELECT column_name FROM duckdb_columns() WHERE schema_name = ? AND table_name = ? "
        "AND column_name IN (SELECT unnest(?))",
        [schema, name, list(table.retired)],
    ).fetchall()
    for (column,) in present:
        con.execute(f'ALTER TABLE {table.qualified_table} DROP COLUMN "{column}"')


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


def replaced_rows(table: RawTable) -> str:
    """The condition under which a new day-level row ``p`` replaces a committed row ``t``: equal
    ``replace_by`` values, where a dimension in ``replace_grouped_by`` left empty by a data row
    (or by the committed row) counts as equal to any value (see :class:`RawTable`)."""
    conditions = []
    for column in table.replace_by:
        # NULL-safe: a day-level export for the default (NULL) workspace replaces that too.
        same = f't."{column}" IS NOT DISTINCT FROM p."{column}"'
        if column in table.replace_grouped_by:
            same = (
                f'({same} OR (({table.replace_data_rows.format(row="p")}) '
                f'AND (t."{column}" IS NULL OR p."{column}" IS NULL)))'
            )
        conditions.append(same)
    return " AND ".join(conditions)


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
        if table.also_keyed_by:
            # A statement of its own: one join with "key or second id" cannot be hashed.
            alias = table.also_keyed_by
            con.execute(
                f'DELETE FROM {target} AS t USING {pending} AS p WHERE t."{alias}" = p."{alias}"'
            )
        if table.replace_by:
            con.execute(
                f"DELETE FROM {target} AS t USING {pending} AS p WHERE {replaced_rows(table)}"
            )
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


def _table_exists(con: duckdb.DuckDBPyConnection, table: RawTable) -> bool:
    return bool(
        con.execute(
            "SELECT count(*) FROM duckdb_tables() WHERE schema_name = 'raw' AND table_name = ?",
            [table.raw_table],
        ).fetchone()[0]
    )


def merge_known_values(
    con: duckdb.DuckDBPyConnection,
    table: RawTable,
    rows: str,
    *,
    file_sha256: str | None = None,
) -> None:
    """Fill the ``keep_known`` columns the new rows leave empty from the committed copy of the
    same record (same key, or same ``also_keyed_by`` id). ``rows`` is the pending table, or the raw
    table itself for an in-place batch, whose new rows are told apart by ``file_sha256`` and whose
    older copies are those :func:`find_older_copies` has just found."""
    if not table.keep_known or not table.key or not _table_exists(con, table):
        return
    sets = [f'"{c}" = COALESCE(n."{c}", r."{c}")' for c in table.keep_known]
    keys = ", ".join(f'"{k}"' for k in table.key)
    match = " AND ".join(f'r."{k}" = n."{k}"' for k in table.key)
    alias = table.also_keyed_by
    if alias:
        [key] = table.key
        # A row keyed by its second id only (no key of its own) takes the older copy's key.
        sets.append(
            f'"{key}" = CASE WHEN n."{key}" = n."{alias}" THEN r."{key}" ELSE n."{key}" END'
        )
        match = f'({match} OR r."{alias}" = n."{alias}")'
    if file_sha256 is not None:
        new_rows = f"_file_sha256 = {sql_str(file_sha256)}"
        # The older copies find_older_copies found (and the commit deletes), no others: a row
        # of the same id outside their time window stays a record of its own.
        committed = (
            f"(SELECT * FROM {table.qualified_table} "
            f"WHERE rowid IN (SELECT older_rowid FROM {OLDER_COPIES}))"
        )
        match += f" AND n.{new_rows}"
    else:
        # A first load into an empty table has no older copies, and listing the distinct keys
        # of its millions of new rows to find that out costs 0.8 s per 5 million.
        if con.execute(f"SELECT 1 FROM {table.qualified_table} LIMIT 1").fetchone() is None:
            return
        # The committed copies are narrowed to the new rows' keys first (a semi join that
        # hashes the few new keys): joined directly, DuckDB hashes every committed row of the
        # table, which costs a new 10,000-row file about 0.3 s more per 5 million rows.
        committed = (
            f"(SELECT * FROM {table.qualified_table} "
            f"SEMI JOIN (SELECT DISTINCT {keys} FROM {rows}) USING ({keys}))"
        )
        if alias:
            committed = (
                f"({committed} UNION BY NAME (SELECT * FROM {table.qualified_table} "
                f'SEMI JOIN (SELECT DISTINCT "{alias}" FROM {rows}) USING ("{alias}")))'
            )
    con.execute(f"UPDATE {rows} AS n SET {', '.join(sets)} FROM {committed} AS r WHERE {match}")


def numbered_rows(table: str, where: str = "true") -> str:
    """The rows of ``table`` that ``where`` keeps (one batch), as a relation whose ``_row_number``
    is filled, so the gate can say which rows it refuses: a loader's fast pass leaves it NULL
    (:func:`commit_batch` and :func:`number_rows` number the rows when they commit them), and
    then it is counted from the batch's first row id, as those do (a batch is inserted in file
    order). Queries that do not read ``_row_number`` do not pay for it (DuckDB drops unused
    columns)."""
    return (
        f'(SELECT * REPLACE (COALESCE("_row_number", rowid - min(rowid) OVER () + 1) '
        f'AS "_row_number") FROM {table} WHERE {where})'
    )


def drop_repeated_records(
    con: duckdb.DuckDBPyConnection, table: RawTable, target: str, where: str = "true"
) -> int:
    """Keep the first of each set of rows of ``target`` (those ``where`` keeps: one batch) that
    are equal in every column of ``table``'s format, and delete the others; returns how many.

    The gate lets such copies through (:attr:`ingest.quality.GateResult.repeated_records`): an
    export paged by offset repeats a record when requests arrive while it runs, and the copies
    say nothing the first does not. Rows that share a key but differ are refused by the gate."""
    data = ", ".join(f'"{c}"' for c in table.columns)
    return con.execute(
        f"DELETE FROM {target} WHERE rowid IN (SELECT rowid FROM (SELECT rowid, row_number() "
        f"OVER (PARTITION BY {data} ORDER BY rowid) AS copy FROM {target} WHERE {where}) "
        f"WHERE copy > 1)"
    ).fetchone()[0]


def in_place_batch(file_sha256: str) -> str:
    """The predicate that keeps one in-place batch's rows of its raw table."""
    return f"_file_sha256 = {sql_str(file_sha256)}"


def in_place_rows(table: RawTable, file_sha256: str) -> str:
    """The rows of one in-place batch, as a relation the gate can read."""
    return numbered_rows(table.qualified_table, in_place_batch(file_sha256))


# The row ids of the committed rows an in-place batch replaces, for the rest of its transaction.
OLDER_COPIES = "__older_copies"


def find_older_copies(con: duckdb.DuckDBPyConnection, table: RawTable, file_sha256: str) -> int:
    """How many committed rows the in-place batch ``file_sha256`` replaces (same key or same
    ``also_keyed_by`` id, another file), their row ids kept in the temp table ``OLDER_COPIES``
    for :func:`settle_in_place`.

    Most new files replace none, and then this one scan of the table's keys is all: neither
    filling known values nor the replacement reads the table. When there are older copies, the
    replacement deletes by these row ids and filling known values looks them up by key again.
    """
    target = table.qualified_table
    digest = sql_str(file_sha256)
    if not table.key:
        return 0
    # A first load into an empty table has nothing to replace (and hashing millions of keys
    # to find that out costs a second).
    older = con.execute(
        f"SELECT 1 FROM {target} WHERE _file_sha256 IS DISTINCT FROM {digest} LIMIT 1"
    ).fetchone()
    if not older:
        return 0
    ids = [", ".join(f'"{k}"' for k in table.key)]
    if table.also_keyed_by:
        ids.append(f'"{table.also_keyed_by}"')
    # One scan, an IN list per id: half the time of a semi join with the distinct new keys
    # (0.22 against 0.47 s after 5 million rows), and a NULL id matches nothing.
    same_record = " OR ".join(
        f"({columns}) IN (SELECT {columns} FROM {target} WHERE _file_sha256 = {digest})"
        for columns in ids
    )
    con.execute(
        f"CREATE OR REPLACE TEMP TABLE {OLDER_COPIES} AS SELECT rowid AS older_rowid "
        f"FROM {target} WHERE _file_sha256 IS DISTINCT FROM {digest} "
        f"{_near_in_time(con, table, digest)}AND ({same_record})"
    )
    return con.execute(f"SELECT count(*) FROM {OLDER_COPIES}").fetchone()[0]


def _near_in_time(con: duckdb.DuckDBPyConnection, table: RawTable, digest: str) -> str:
    """The condition (``AND ...``, or '') that keeps the stored rows close enough in time to the
    batch ``digest`` to be copies of its records (:attr:`RawTable.copies_within`).

    Literal bounds, not a subquery: DuckDB then skips the row groups whose times lie outside
    (after 5 million rows, 0.27 s becomes a few hundredths when the file holds one day)."""
    if table.copies_within is None:
        return ""
    ts = f'"{table.timestamp_column}"'
    first, last = con.execute(
        f"SELECT min({ts}), max({ts}) FROM {table.qualified_table} WHERE _file_sha256 = {digest}"
    ).fetchone()
    if first is None:  # the time is required: only an empty batch has none
        return "AND FALSE "
    spread = table.copies_within
    low, high = (f"TIMESTAMP {sql_str(str(bound))}" for bound in (first - spread, last + spread))
    return f"AND {ts} BETWEEN {low} AND {high} "


def settle_in_place(
    con: duckdb.DuckDBPyConnection,
    table: RawTable,
    *,
    older_copies: int,
    extra_statements: tuple[tuple[str, list], ...] = (),
) -> None:
    """Finish an in-place batch: drop the ``older_copies`` rows :func:`find_older_copies` found,
    run ``extra_statements`` (the ledger row) and COMMIT. Its rows are numbered afterwards
    (:func:`number_rows`).

    The caller began the transaction, inserted the batch with one statement, found its older
    copies and gated it; on an exception it rolls back.
    """
    if older_copies:
        # Row ids stay put within the transaction: no other writer, and nothing deleted since.
        con.execute(
            f"DELETE FROM {table.qualified_table} "
            f"WHERE rowid IN (SELECT older_rowid FROM {OLDER_COPIES})"
        )
    con.execute(f"DROP TABLE IF EXISTS {OLDER_COPIES}")
    for sql, params in extra_statements:
        con.execute(sql, params)
    con.execute("COMMIT")


def number_rows(con: duckdb.DuckDBPyConnection, table: RawTable) -> None:
    """Fill ``_row_number`` (file order, from 1) for rows committed without it: in-place batches.

    Each such file's rows were appended in file order by one INSERT and sit together in the
    table, so a row's number is its row id minus its file's first. This runs after the batch's
    commit, on purpose: updating rows still in the transaction makes DuckDB copy the whole batch
    into its write-ahead log at commit (seconds per million rows) instead of pointing at the
    blocks already written. A run stopped between the two leaves the rows unnumbered, not wrong,
    and the next in-place load of the table numbers them.
    """
    target = table.qualified_table
    con.execute(
        f"UPDATE {target} AS t SET _row_number = t.rowid - f.first_rowid + 1 "
        f"FROM (SELECT _file_sha256, min(rowid) AS first_rowid FROM {target} "
        f"WHERE _row_number IS NULL GROUP BY _file_sha256) AS f "
        f"WHERE t._file_sha256 = f._file_sha256 AND t._row_number IS NULL"
    )
