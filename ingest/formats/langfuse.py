"""Langfuse observation exports (UI batch export / blob export of observations): CSV, JSON array
or JSON Lines, camelCase keys (``id``, ``traceId``, ``startTime``, ``usageDetails`` ...).

One row per observation. Every observation row is kept (spans and events load with zero or NULL
usage) so row numbers match the file and a re-export replaces each observation by ``id``; staging
keeps the rows with a model or non-zero usage. Input/output bodies, metadata, prompts and tool
definitions are never read.

Usage comes from ``usageDetails`` (a map of free-form keys to counts): parsed in SQL, only these
counts are stored, never the map. As in Langfuse itself, keys containing ``input`` are input and
keys containing ``output`` are output; cache keys are split off: reads (``cache_read``,
``cached``, camelCase ``cacheRead`` too) and writes (``cache_creation``, ``cache_write``,
``cacheWrite``). So ``input_tokens`` is *uncached*
input and ``output_tokens`` includes reasoning. Older rows without ``usageDetails`` fall back to the
exported ``inputUsage``/``outputUsage`` or the deprecated ``usage`` object.

Traps handled: in the CSV every cell is quoted and Date cells carry literal quotes inside the cell
(``"2025-01-01T00:00:00.000Z"`` with the quote characters); objects are compact JSON strings.
"""

from __future__ import annotations

from ingest.formats.base import EXPORTED_TIME_SPREAD, ExportFormat, Sample
from ingest.formats.reading import (
    Field,
    UsageReader,
    field_exprs,
    field_sources,
    first_count,
    first_of,
    int_text,
    json_doc,
    json_int_text,
    json_key_sum_text,
    json_text,
    numeric_sources,
    raw_columns,
    sample_fields,
    time_sources,
)

FIELDS: dict[str, Field] = {
    "id": Field("VARCHAR", ("id",)),
    "trace_id": Field("VARCHAR", ("traceId",)),
    "project_id": Field("VARCHAR", ("projectId",)),
    "type": Field("VARCHAR", ("type",)),
    "environment": Field("VARCHAR", ("environment",)),
    "model": Field("VARCHAR", ("model", "providedModelName")),
    "start_time": Field("TIMESTAMP", ("startTime",), "ts"),
    "user_id": Field("VARCHAR", ("userId",)),
    # From usageDetails (see the module docstring); filled below.
    "input_tokens": Field("BIGINT"),
    "cache_read_tokens": Field("BIGINT"),
    "cache_write_tokens": Field("BIGINT"),
    "output_tokens": Field("BIGINT"),
    "total_tokens": Field("BIGINT"),
    # Langfuse's own derived totals as exported (input includes cache), for reconciliation.
    "input_usage": Field("BIGINT", ("inputUsage",), "int"),
    "output_usage": Field("BIGINT", ("outputUsage",), "int"),
    "total_cost": Field("DECIMAL(38,12)"),
}
_READ = ("usageDetails", "usage", "totalUsage", "costDetails", "totalCost", "calculatedTotalCost")

# Keys are lower-cased before matching; the underscore is optional because SDKs pass the
# provider's usage object through as it is: snake_case (``cache_read_input_tokens``) or camelCase
# (Bedrock Converse's ``cacheReadInputTokens`` / ``cacheWriteInputTokens``).
CACHE_READ = "cache_?read|cached|cache_?hit"
CACHE_WRITE = "cache_?creation|cache_?write|cache_?creat"
SIGNATURE = {"id", "traceId", "startTime"}


def detect(sample: Sample) -> bool:
    """Observation rows: ``id``, ``traceId``, ``startTime`` plus ``usageDetails`` or ``type``."""
    fields = sample_fields(sample)
    return (
        fields is not None
        and SIGNATURE <= fields
        and bool({"usageDetails", "type"} & fields)
    )


def _exprs(present: set[str]) -> dict[str, tuple[str, str]]:
    exprs = field_exprs(FIELDS, present)
    details = json_doc(first_of(["usageDetails"], present))
    legacy = json_doc(first_of(["usage"], present))

    def count(derived: str, exported: str | None, legacy_path: str | None) -> str:
        parts = [derived]
        if exported:
            parts.append(int_text(first_of([exported], present)))
        if legacy_path:
            parts.append(json_int_text(legacy, [legacy_path], "usage"))
        return first_count(*parts)

    cache = f"{CACHE_READ}|{CACHE_WRITE}"
    exprs["input_tokens"] = (
        count(json_key_sum_text(details, "input", cache, "usageDetails"), "inputUsage", "$.input"),
        "BIGINT",
    )
    exprs["cache_read_tokens"] = (json_key_sum_text(details, CACHE_READ, None, "usageDetails"),
                                  "BIGINT")
    exprs["cache_write_tokens"] = (json_key_sum_text(details, CACHE_WRITE, None, "usageDetails"),
                                   "BIGINT")
    exprs["output_tokens"] = (
        count(json_key_sum_text(details, "output", None, "usageDetails"), "outputUsage",
              "$.output"),
        "BIGINT",
    )
    exprs["total_tokens"] = (
        count(json_int_text(details, ["$.total"], "usageDetails"), "totalUsage", "$.total"),
        "BIGINT",
    )
    # totalCost is Langfuse's costDetails.total; USD.
    costs = json_doc(first_of(["costDetails"], present))
    exprs["total_cost"] = (
        f"COALESCE({first_of(['totalCost'], present)}, {json_text(costs, ['$.total'])}, "
        f"{first_of(['calculatedTotalCost'], present)})",
        "DECIMAL(38,12)",
    )
    return exprs


READER = UsageReader(
    wanted=(*field_sources(FIELDS), *_READ),
    build_exprs=_exprs,
    numeric=(*numeric_sources(FIELDS), "totalUsage"),
    times=tuple(time_sources(FIELDS)),
)


FORMAT = ExportFormat(
    format_name="langfuse",
    source="langfuse",
    raw_table="langfuse_observations",
    columns=raw_columns(FIELDS),
    detect=detect,
    load=READER.load,
    load_in_place=READER.load_in_place,
    key=("id",),
    timestamp_column="start_time",
    copies_within=EXPORTED_TIME_SPREAD,
    non_negative=(
        "input_tokens",
        "cache_read_tokens",
        "cache_write_tokens",
        "output_tokens",
        "total_tokens",
        "input_usage",
        "output_usage",
        "total_cost",
    ),
    required=("id", "start_time"),
)
