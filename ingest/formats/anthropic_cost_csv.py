"""Anthropic Console cost export (platform.claude.com/cost -> Export).

One row per day, model, workspace, API key (by name), usage type, context window and token type,
with ``cost_usd`` in DOLLARS (the Admin API's cost report is in cents; this file is not).
``model`` is a display name (``Claude Sonnet 4.5``) kept verbatim: staging maps it to an API id.
``--`` marks cells that do not apply; some 2026 files append ``api_key_id,api_key_status``, older
ones lack ``list_price_usd``, ``inference_geo`` and ``speed``.

The export is day-level, so a newer file replaces the (day, model, workspace, API key) sets it
covers.
"""

from __future__ import annotations

from pathlib import Path

import duckdb

from ingest.formats.base import ExportFormat, FormatError, Sample
from ingest.formats.reading import (
    Field,
    ensure_utc,
    field_exprs,
    field_sources,
    input_kind,
    insert_typed,
    raw_columns,
    usage_relation,
)

NULL_MARKERS = ("", "--")

FIELDS: dict[str, Field] = {
    "usage_date_utc": Field("TIMESTAMP", ("usage_date_utc",), "ts"),
    "model": Field("VARCHAR", ("model",)),
    "workspace": Field("VARCHAR", ("workspace",)),
    "api_key": Field("VARCHAR", ("api_key",)),
    "usage_type": Field("VARCHAR", ("usage_type",)),
    "context_window": Field("VARCHAR", ("context_window",)),
    "token_type": Field("VARCHAR", ("token_type",)),
    "cost_usd": Field("DECIMAL(38,12)", ("cost_usd",), "money"),
    "list_price_usd": Field("DECIMAL(38,12)", ("list_price_usd",), "money"),
    "cost_type": Field("VARCHAR", ("cost_type",)),
    "inference_geo": Field("VARCHAR", ("inference_geo",)),
    "speed": Field("VARCHAR", ("speed",)),
    "api_key_id": Field("VARCHAR", ("api_key_id",)),
    "api_key_status": Field("VARCHAR", ("api_key_status",)),
}
SIGNATURE = {"usage_date_utc", "model", "cost_usd"}


def detect(sample: Sample) -> bool:
    """A CSV with ``usage_date_utc``, ``model`` and ``cost_usd``."""
    header = sample.csv_header()
    return header is not None and SIGNATURE <= set(header)


def load(con: duckdb.DuckDBPyConnection, path: Path, pending: str, file_sha256: str) -> int:
    """Stream the CSV into ``pending`` (one row per day, model and token type)."""
    if input_kind(path) != "csv":
        raise FormatError("an Anthropic Console cost export must be CSV")
    ensure_utc(con)
    with usage_relation(path, field_sources(FIELDS)) as (relation, present):
        exprs = field_exprs(FIELDS, present, NULL_MARKERS)
        return insert_typed(con, pending, file_sha256, relation, exprs)


FORMAT = ExportFormat(
    format_name="anthropic_cost_csv",
    source="anthropic_export",
    raw_table="anthropic_cost_export",
    columns=raw_columns(FIELDS),
    detect=detect,
    load=load,
    replace_by=("usage_date_utc", "model", "workspace", "api_key"),
    timestamp_column="usage_date_utc",
    non_negative=("cost_usd", "list_price_usd"),
    required=("usage_date_utc",),
)
