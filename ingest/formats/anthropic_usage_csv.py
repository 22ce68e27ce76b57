"""Anthropic Console usage (tokens) export (platform.claude.com/usage -> Export).

One row per day, model, API key (by *name*), workspace (by name), usage type and context window,
with the token counts split the way the Admin API splits them: uncached input, cache writes (5m and
1h TTL; older files have a single ``usage_input_tokens_cache_write``), cache reads, output.
``context_window`` is display text (``≤ 200k``) kept verbatim; ``--`` means not applicable.

The export is day-level, so a newer file replaces the (day, model, workspace, API key) sets it
covers; those are the Console's filters, so a filtered export replaces only what it shows.
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

# The Console writes `--` in cells that do not apply.
NULL_MARKERS = ("", "--")

_COUNTS = (
    "usage_input_tokens_no_cache",
    "usage_input_tokens_cache_write_5m",
    "usage_input_tokens_cache_write_1h",
    "usage_input_tokens_cache_write",
    "usage_input_tokens_cache_read",
    "usage_output_tokens",
    "web_search_count",
)

FIELDS: dict[str, Field] = {
    # A date (some versions may add a time part); stored as midnight UTC.
    "usage_date_utc": Field("TIMESTAMP", ("usage_date_utc",), "ts"),
    "model_version": Field("VARCHAR", ("model_version",)),
    "api_key": Field("VARCHAR", ("api_key",)),
    "workspace": Field("VARCHAR", ("workspace",)),
    "usage_type": Field("VARCHAR", ("usage_type",)),
    "context_window": Field("VARCHAR", ("context_window",)),
    **{name: Field("BIGINT", (name,), "int") for name in _COUNTS},
    "inference_geo": Field("VARCHAR", ("inference_geo",)),
    "speed": Field("VARCHAR", ("speed",)),
}
SIGNATURE = {"usage_date_utc", "model_version", "usage_output_tokens"}


def detect(sample: Sample) -> bool:
    """A CSV with ``usage_date_utc``, ``model_version`` and ``usage_output_tokens``."""
    header = sample.csv_header()
    return header is not None and SIGNATURE <= set(header)


def load(con: duckdb.DuckDBPyConnection, path: Path, pending: str, file_sha256: str) -> int:
    """Stream the CSV into ``pending`` (one row per day and usage grouping)."""
    if input_kind(path) != "csv":
        raise FormatError("an Anthropic Console usage export must be CSV")
    ensure_utc(con)
    with usage_relation(path, field_sources(FIELDS)) as (relation, present):
        exprs = field_exprs(FIELDS, present, NULL_MARKERS)
        return insert_typed(con, pending, file_sha256, relation, exprs)


FORMAT = ExportFormat(
    format_name="anthropic_usage_csv",
    source="anthropic_export",
    raw_table="anthropic_usage_export",
    columns=raw_columns(FIELDS),
    detect=detect,
    load=load,
    replace_by=("usage_date_utc", "model_version", "workspace", "api_key"),
    timestamp_column="usage_date_utc",
    non_negative=_COUNTS,
    required=("usage_date_utc",),
)
