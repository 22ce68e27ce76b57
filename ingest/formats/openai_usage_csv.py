"""OpenAI dashboard Activity (usage) exports (``completions_usage_*.csv``, ``embeddings_usage_*``).

One row per time bucket (1 minute to 1 day) and grouping (project, API key, model ...). The
columns mirror the Usage API result of the endpoint exported, so the header varies and is read by
name. An export without usage has only the four time columns and loads as 0 rows.

Which endpoint a file holds is not in it (the file name says, but names are not trusted): it is
inferred from the metric columns (``usage_kind``), or taken from an ``object`` column if present.
The export is bucket-level, so a newer file replaces the (day, kind, project, key, model) sets it
covers; a dimension the file is not grouped by (empty) covers all its values, so the same day
exported grouped by model and then by API key is counted once.
"""

from __future__ import annotations

from pathlib import Path

import duckdb

from ingest.formats.base import ExportFormat, FormatError, Sample
from ingest.formats.reading import (
    Field,
    clean,
    ensure_utc,
    field_exprs,
    field_sources,
    ident,
    input_kind,
    insert_typed,
    raw_columns,
    read_csv_header,
    sql_str,
    usage_relation,
)

TIME_COLUMNS = ["start_time", "end_time", "start_time_iso", "end_time_iso"]

_COUNTS = (
    "num_model_requests",
    "input_tokens",
    "output_tokens",
    "input_cached_tokens",
    "input_uncached_tokens",
    "input_cache_write_tokens",
    "input_text_tokens",
    "output_text_tokens",
    "input_cached_text_tokens",
    "input_audio_tokens",
    "input_cached_audio_tokens",
    "output_audio_tokens",
    "input_image_tokens",
    "input_cached_image_tokens",
    "output_image_tokens",
    "images",
    "characters",
    "seconds",
    "usage_bytes",
    "num_sessions",
    "num_requests",
)
_DIMENSIONS = (
    "project_id",
    "project_name",
    "user_id",
    "api_key_id",
    "api_key_name",
    "model",
    "service_tier",
    "size",
    "vector_store_id",
    "context_level",
)

FIELDS: dict[str, Field] = {
    "start_time": Field("TIMESTAMP", ("start_time", "start_time_iso"), "ts"),
    "end_time": Field("TIMESTAMP", ("end_time", "end_time_iso"), "ts"),
    "usage_date": Field("DATE"),
    "usage_kind": Field("VARCHAR"),
    **{name: Field("VARCHAR", (name,)) for name in _DIMENSIONS},
    # Images: 'image.generation' / 'image.edit' / 'image.variation' (the API's `source`).
    "image_source": Field("VARCHAR", ("source",)),
    "batch": Field("BOOLEAN", ("batch",), "bool"),
    **{name: Field("BIGINT", (name,), "int") for name in _COUNTS},
}

# A row with any count carries usage (a bucket with only its time columns filled says nothing).
_HAS_USAGE = "COALESCE(" + ", ".join(f'{{row}}."{c}"' for c in _COUNTS) + ") IS NOT NULL"
# Metric columns that identify the endpoint when no `object` column says it (first match wins).
_KIND_BY_COLUMN = (
    ("output_tokens", "completions"),
    ("input_cached_tokens", "completions"),
    ("images", "images"),
    ("characters", "audio_speeches"),
    ("seconds", "audio_transcriptions"),
    ("usage_bytes", "vector_stores"),
    ("num_sessions", "code_interpreter_sessions"),
    ("context_level", "web_search_calls"),
    ("vector_store_id", "file_search_calls"),
    ("num_requests", "web_search_calls"),
    # Embeddings and moderations exports have the same columns; the model tells them apart.
    ("input_tokens", "embeddings"),
)


def detect(sample: Sample) -> bool:
    """A CSV with the four time columns, without the cost export's ``amount_value``. The
    dashboard puts them first, but the header is matched by name: a re-saved file may move them."""
    header = sample.csv_header()
    return (
        header is not None and set(TIME_COLUMNS) <= set(header) and "amount_value" not in header
    )


def _kind_expr(present: set[str]) -> str:
    kind = next((k for col, k in _KIND_BY_COLUMN if col in present), "unknown")
    guess = sql_str(kind)
    if kind == "embeddings" and "model" in present:
        guess = (
            f"CASE WHEN lower({clean(ident('model'))}) LIKE '%moderation%' "
            f"THEN 'moderations' ELSE 'embeddings' END"
        )
    if "object" in present:
        from_object = (
            f"NULLIF(regexp_extract({clean(ident('object'))}, 'usage\\.([a-z_]+)\\.result', 1), '')"
        )
        return f"COALESCE({from_object}, {guess})"
    return guess


def load(con: duckdb.DuckDBPyConnection, path: Path, pending: str, file_sha256: str) -> int:
    """Stream the CSV into ``pending`` (one row per bucket and grouping)."""
    if input_kind(path) != "csv":
        raise FormatError("an OpenAI usage export must be CSV")
    if set(read_csv_header(path)) == set(TIME_COLUMNS):
        # The documented empty export: buckets without any metric column carry no usage.
        return 0
    ensure_utc(con)
    with usage_relation(path, [*field_sources(FIELDS), "object"]) as (relation, present):
        exprs = field_exprs(FIELDS, present)
        exprs["usage_kind"] = (_kind_expr(present), "VARCHAR")
        rows = insert_typed(con, pending, file_sha256, relation, exprs)
    con.execute(f"UPDATE {pending} SET usage_date = CAST(start_time AS DATE)")
    return rows


FORMAT = ExportFormat(
    format_name="openai_usage_csv",
    source="openai_export",
    raw_table="openai_usage_export",
    columns=raw_columns(FIELDS),
    detect=detect,
    load=load,
    replace_by=("usage_date", "usage_kind", "project_id", "api_key_id", "model"),
    # The dashboard groups by any of these (or none): the header changes with the choice.
    replace_grouped_by=("project_id", "api_key_id", "model"),
    replace_data_rows=_HAS_USAGE,
    timestamp_column="start_time",
    non_negative=_COUNTS,
    required=("start_time",),
)
