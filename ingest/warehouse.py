"""The DuckDB warehouse: one writer at a time, short-lived connections, schemas created on demand.

DuckDB allows a single writing process per file. Every writer (ingest, API pulls, dbt, the report)
takes an exclusive ``fcntl`` lock on ``warehouse.duckdb.lock`` first, so a second run started by the
sensor, a schedule or the CLI waits for the first instead of failing on DuckDB's file lock.
"""

from __future__ import annotations

import fcntl
import time
from collections.abc import Iterator
from contextlib import contextmanager, nullcontext
from pathlib import Path

import duckdb

from ingest.paths import MeterrHome

# How long a writer waits for another run to finish before giving up with a clear error.
LOCK_TIMEOUT_S = 3600.0

SCHEMAS = ("raw", "meta")
# DuckDB's memory budget, for meterr's own connections and for dbt's (see dbt_environment).
# Beyond it DuckDB spills to disk. Half a gigabyte keeps a multi-GB load, with Python, Dagster and
# the gate's frames beside it, under the 1.5 GB that `make bench` holds meterr's whole process tree
# to (the Dagster process is still alive beside dbt's).
MEMORY_LIMIT = "512MB"
# The limit for the statements that stream an export into a table. DuckDB writes such an insert in
# file order, holding finished batches in a budget that is a share of the limit; at 512MB the
# threads wait on that budget. Measured on the bench's 5-million-row file (2026-12-04, alternating,
# four of each): 8.2 to 8.7 s at 1GB against 8.4 to 11.3 s at 512MB, for about 0.07 GB more
# resident. DuckDB still spills beyond the limit.
BULK_INSERT_MEMORY_LIMIT = "1GB"
# DuckDB turns `x IN (five or more constants)` into a join against the list, and that join hands
# rows on out of file order: a large file's rows would land shuffled and their row numbers would
# no longer be their lines. Streaming inserts run without that rewrite.
BULK_INSERT_DISABLED_OPTIMIZERS = "in_clause"


def dbt_environment(warehouse: Path) -> dict[str, str]:
    """The variables dbt_project/profiles.yml reads: the warehouse file (absolute) and DuckDB's
    memory limit."""
    return {
        "METERR_WAREHOUSE": str(warehouse.resolve()),
        "METERR_DUCKDB_MEMORY_LIMIT": MEMORY_LIMIT,
    }


@contextmanager
def streaming_insert(con: duckdb.DuckDBPyConnection) -> Iterator[None]:
    """Settings for statements that stream a file into a table: rows land in file order
    (:data:`BULK_INSERT_DISABLED_OPTIMIZERS`) and the writing threads have room
    (:data:`BULK_INSERT_MEMORY_LIMIT`). Afterwards, also when a statement fails, the connection is
    back at :data:`MEMORY_LIMIT` with every optimizer on, as every meterr connection runs."""
    # Set back by name, not by reading the old value: DuckDB reports a limit rounded to a tenth of
    # a MiB, and setting that text again loses a little more each time.
    con.execute(f"SET memory_limit = '{BULK_INSERT_MEMORY_LIMIT}'")
    con.execute(f"SET disabled_optimizers = '{BULK_INSERT_DISABLED_OPTIMIZERS}'")
    try:
        yield
    finally:
        con.execute("RESET disabled_optimizers")
        con.execute(f"SET memory_limit = '{MEMORY_LIMIT}'")


class WarehouseBusyError(RuntimeError):
    """Another meterr run held the warehouse for longer than the lock timeout."""


@contextmanager
def writer_lock(warehouse: Path, timeout_s: float = LOCK_TIMEOUT_S) -> Iterator[None]:
    """Hold the exclusive cross-process writer lock for ``warehouse`` (waits, never fails fast)."""
    warehouse.parent.mkdir(parents=True, exist_ok=True)
    lock_path = warehouse.with_name(warehouse.name + ".lock")
    with open(lock_path, "a+") as handle:
        deadline = time.monotonic() + timeout_s
        while True:
            try:
                fcntl.flock(handle.fileno(), fcntl.LOCK_EX | fcntl.LOCK_NB)
                break
            except BlockingIOError:
                if time.monotonic() > deadline:
                    raise WarehouseBusyError(
                        f"{warehouse} is locked by another meterr run for over {timeout_s:.0f}s"
                    ) from None
                time.sleep(0.2)
        try:
            yield
        finally:
            fcntl.flock(handle.fileno(), fcntl.LOCK_UN)


def _configure(con: duckdb.DuckDBPyConnection) -> None:
    # No extension may be fetched at run time (the machine has no internet).
    con.execute("SET autoinstall_known_extensions = false")
    con.execute("SET TimeZone = 'UTC'")
    # Bounded memory: large loads spill to disk rather than take 80% of RAM (DuckDB's default).
    con.execute(f"SET memory_limit = '{MEMORY_LIMIT}'")


@contextmanager
def connect(
    home: MeterrHome, *, write: bool = True, lock: bool = True
) -> Iterator[duckdb.DuckDBPyConnection]:
    """A connection to the warehouse; writers hold the writer lock for the connection's life.

    ``lock=False`` is for a caller that already holds :func:`writer_lock` (flock is per open file,
    so taking it twice in one process would wait on itself).
    """
    if not write:
        con = duckdb.connect(str(home.warehouse), read_only=True)
        try:
            _configure(con)
            yield con
        finally:
            con.close()
        return
    with writer_lock(home.warehouse) if lock else nullcontext():
        con = duckdb.connect(str(home.warehouse))
        try:
            _configure(con)
            for schema in SCHEMAS:
                con.execute(f"CREATE SCHEMA IF NOT EXISTS {schema}")
            yield con
        finally:
            con.close()
