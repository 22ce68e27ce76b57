"""meterr's own ``custom`` format: one row per usage record, as CSV or JSON Lines (or a JSON array).

The columns and their meaning are documented in the README and in
``ingest/schemas/custom_usage.schema.json``; :data:`FIELDS` is the single list both are checked
against (``tests/test_custom_format.py``).
"""

from __future__ import annotations

from pathlib import Path

import duckdb

from ingest.formats.base import ExportFormat, FormatError, Sample
from ingest.formats.reading import (
    csv_columns,
    csv_relation_auto,
    insert_typed,
    int_text,
    json_relation,
)

# name -> (DuckDB type in raw.custom_usage, required?)
FIELDS: dict[str, tuple[str, bool]] = {
    "timestamp": ("TIMESTAMP", True),
    "provider": ("VARCHAR", True),
    "model": ("VARCHAR", True),
    "input_tokens": ("BIGINT", False),
    "cached_input_tokens": ("BIGINT", False),
    "cache_write_tokens": ("BIGINT", False),
    "output_tokens": ("BIGINT", False),
    "request_count": ("BIGINT", False),
    "cost_usd": ("DECIMAL(38,12)", False),
    "request_id": ("VARCHAR", False),
    "project_id": ("VARCHAR", False),
    "api_key_id": ("VARCHAR", False),
    "user_id": ("VARCHAR", False),
}
REQUIRED = tuple(name for name, (_, req) in FIELDS.items() if req)
# A file is custom when its header / first record has these (and is not another tool's export).
SIGNATURE = {"timestamp", "provider", "model"}


def detect(sample: Sample) -> bool:
    header = sample.csv_header()
    if header is not None:
        # Column names in any case: warehouses unload unquoted names in capitals.
        return SIGNATURE <= {name.lower() for name in header}
    obj = sample.first_json_object()
    return obj is not None and SIGNATURE <= set(obj)


def _text_expr(column: str, present: set[str]) -> str:
    return f'"{column}"' if column in present else "NULL"


def _exprs(present: set[str]) -> dict[str, tuple[str, str]]:
    exprs: dict[str, tuple[str, str]] = {}
    for name, (dtype, _required) in FIELDS.items():
        text = _text_expr(name, present)
        if name == "timestamp":
            # Offsets are honoured; a timestamp without one is UTC (the session time zone).
            exprs[name] = (text, "TIMESTAMPTZ")
        elif name == "provider":
            exprs[name] = (f"lower(trim({text}))", dtype)
        elif dtype == "BIGINT":
            # Counts are whole numbers: '12.0' passes, '12.5' or '1e3' is refused with its row
            # (a plain cast would round 12.5 to 13 and load it).
            exprs[name] = (int_text(f"NULLIF(trim(CAST({text} AS VARCHAR)), '')"), dtype)
        else:
            exprs[name] = (f"NULLIF(trim(CAST({text} AS VARCHAR)), '')", dtype)
    return exprs


def load(con: duckdb.DuckDBPyConnection, path: Path, pending: str, file_sha256: str) -> int:
    """Stream ``path`` (CSV, JSON Lines or a JSON array) into ``pending``; returns the row count."""
    with open(path, "rb") as handle:
        head = handle.read(4096).lstrip(b"\xef\xbb\xbf \t\r\n")
    if head.startswith((b"{", b"[")):
        relation = json_relation(path, {n: "VARCHAR" for n in FIELDS}, array=head.startswith(b"["))
        present = set(FIELDS)
    else:
        # DuckDB binds "timestamp" to a column named TIMESTAMP too.
        present = {name.lower() for name in csv_columns(con, path)}
        missing = [c for c in REQUIRED if c not in present]
        if missing:
            raise FormatError(f"custom CSV is missing required column(s): {', '.join(missing)}")
        relation = csv_relation_auto(path)
    return insert_typed(con, pending, file_sha256, relation, _exprs(present))


FORMAT = ExportFormat(
    format_name="custom",
    source="custom",
    raw_table="custom_usage",
    columns={name: dtype for name, (dtype, _) in FIELDS.items()},
    detect=detect,
    load=load,
    key=("request_id",),
    timestamp_column="timestamp",
    non_negative=(
        "input_tokens",
        "cached_input_tokens",
        "cache_write_tokens",
        "output_tokens",
        "request_count",
        "cost_usd",
    ),
    required=REQUIRED,
    provider_column="provider",
)
