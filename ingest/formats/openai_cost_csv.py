"""OpenAI dashboard cost export (platform.openai.com/usage -> Cost -> Export, ``cost_*.csv``).

One row per day bucket and grouping (line item, project, ...): dollars as long decimals in
``amount_value``. Days without cost appear as rows with only the time columns filled; they load
with NULL amounts. The export is day-level, so a newer file replaces the (day, organization,
project) sets it covers instead of adding to them; an export not grouped by project (e.g. by line
item) covers every project of its days.
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

FIELDS: dict[str, Field] = {
    # Unix seconds, else the ISO column (seen with and without an offset).
    "start_time": Field("TIMESTAMP", ("start_time", "start_time_iso"), "ts"),
    "end_time": Field("TIMESTAMP", ("end_time", "end_time_iso"), "ts"),
    # The UTC day of start_time, filled after the insert; the replace rule works on it.
    "usage_date": Field("DATE"),
    "amount_value": Field("DECIMAL(38,12)", ("amount_value",), "money"),
    "amount_currency": Field("VARCHAR", ("amount_currency",), "lower"),
    "quantity": Field("DECIMAL(38,12)", ("quantity",), "money"),
    "quantity_unit": Field("VARCHAR", ("quantity_unit",)),
    "line_item": Field("VARCHAR", ("line_item",)),
    "user_id": Field("VARCHAR", ("user_id",)),
    "api_key_id": Field("VARCHAR", ("api_key_id",)),
    "project_id": Field("VARCHAR", ("project_id",)),
    "organization_id": Field("VARCHAR", ("organization_id",)),
    "project_name": Field("VARCHAR", ("project_name",)),
    "organization_name": Field("VARCHAR", ("organization_name",)),
    "api_source": Field("VARCHAR", ("api_source",)),
}
# user_email is in the export but is personal data meterr does not need (user_id attributes).
SIGNATURE = {"start_time", "end_time", "amount_value"}


def detect(sample: Sample) -> bool:
    """A CSV whose header has the Unix time columns and ``amount_value``."""
    header = sample.csv_header()
    return header is not None and SIGNATURE <= set(header)


def load(con: duckdb.DuckDBPyConnection, path: Path, pending: str, file_sha256: str) -> int:
    """Stream the CSV into ``pending`` (one row per day bucket and grouping)."""
    if input_kind(path) != "csv":
        raise FormatError("an OpenAI cost export must be CSV")
    ensure_utc(con)
    with usage_relation(path, field_sources(FIELDS)) as (relation, present):
        rows = insert_typed(con, pending, file_sha256, relation, field_exprs(FIELDS, present))
    con.execute(f'UPDATE {pending} SET usage_date = CAST(start_time AS DATE)')
    return rows


FORMAT = ExportFormat(
    format_name="openai_cost_csv",
    source="openai_export",
    raw_table="openai_cost_export",
    columns=raw_columns(FIELDS),
    detect=detect,
    load=load,
    replace_by=("usage_date", "organization_id", "project_id"),
    # Grouped by line item, the export has no project: it covers every project of its days.
    replace_grouped_by=("project_id",),
    replace_data_rows='{row}."amount_value" IS NOT NULL',
    timestamp_column="start_time",
    non_negative=("amount_value", "quantity"),
    required=("start_time",),
)
