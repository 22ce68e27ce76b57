"""The file ledger ``meta.ingested_files``: every file seen is loaded, duplicate or quarantined.

One row per sighting of a file (or of an archive member). A file's identity is the SHA-256 of its
content (after decompression and re-encoding to UTF-8), so the same bytes dropped again, renamed,
gzipped or zipped are recognised as a ``duplicate`` and change nothing in ``raw``.
"""

from __future__ import annotations

import hashlib
from datetime import UTC, datetime
from pathlib import Path

import duckdb

STATUSES = ("loaded", "duplicate", "quarantined")

DDL = """
CREATE TABLE IF NOT EXISTS meta.ingested_files (
    file_sha256 VARCHAR NOT NULL,
    file_name VARCHAR NOT NULL,
    format VARCHAR,
    status VARCHAR NOT NULL CHECK (status IN ('loaded', 'duplicate', 'quarantined')),
    row_count BIGINT,
    reason VARCHAR,
    ingested_at TIMESTAMP NOT NULL,
    raw_table VARCHAR,
    origin VARCHAR,
    stored_path VARCHAR
)
"""

INSERT = (
    "INSERT INTO meta.ingested_files (file_sha256, file_name, format, status, row_count, reason, "
    "ingested_at, raw_table, origin, stored_path) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)"
)


def ensure(con: duckdb.DuckDBPyConnection) -> None:
    """Create ``meta.ingested_files`` if missing."""
    con.execute("CREATE SCHEMA IF NOT EXISTS meta")
    con.execute(DDL)


def sha256_of(path: Path) -> str:
    """SHA-256 of a file's bytes, streamed."""
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        while chunk := handle.read(8 * 1024 * 1024):
            digest.update(chunk)
    return digest.hexdigest()


def already_loaded(con: duckdb.DuckDBPyConnection, file_sha256: str) -> bool:
    """True if content with this digest was loaded before (a quarantined file may be retried)."""
    row = con.execute(
        "SELECT 1 FROM meta.ingested_files WHERE file_sha256 = ? AND status = 'loaded' LIMIT 1",
        [file_sha256],
    ).fetchone()
    return row is not None


def row_params(
    file_sha256: str,
    file_name: str,
    fmt: str | None,
    status: str,
    row_count: int | None,
    reason: str | None,
    *,
    raw_table: str | None = None,
    origin: str | None = None,
    stored_path: str | None = None,
    at: datetime | None = None,
) -> list:
    """Parameters for :data:`INSERT` (so a ledger row can join the data's own transaction)."""
    if status not in STATUSES:
        raise ValueError(status)
    when = (at or datetime.now(UTC)).replace(tzinfo=None)
    return [
        file_sha256,
        file_name,
        fmt,
        status,
        row_count,
        reason,
        when,
        raw_table,
        origin,
        stored_path,
    ]


def record(con: duckdb.DuckDBPyConnection, *args, **kwargs) -> None:
    """Insert one ledger row (see :func:`row_params` for the arguments)."""
    con.execute(INSERT, row_params(*args, **kwargs))
