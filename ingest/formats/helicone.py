"""Helicone request exports: the export CLI (``npx @helicone/export``) as JSONL (default), JSON
array or CSV, and the web UI's requests-table export (CSV or JSONL, keys = whatever its rows hold).

One row per request. Bodies (``request_body``, ``response_body``), custom properties and scores are
never read. Traps handled:

* the CLI CSV has a fixed header with ``model``/``cost`` (or ``cost_usd``) columns that may be
  empty; the JSONL carries ``request_model`` and ``cost`` instead;
* the CLI JSON array ends with ``,]`` (a trailing comma after the last record);
* ``prompt_tokens`` is *uncached* input (Helicone prices cache reads/writes on top); output is
  ``completion_tokens`` + ``reasoning_tokens``;
* the UI's mapped rows nest usage under ``heliconeMetadata`` (``requestId``, ``promptTokens``...).

Key: ``helicone_id`` = the response id when present (the CLI CSV has no request id), else the
request id, so the same requests exported as CSV and as JSONL count once. A row with the same
request id as an older one is the same request too (a web UI CSV without response ids after the
JSONL), and keeps the older row's key. The response id is kept only there (a column of its own
would repeat the key, and unique ids are the costliest columns to write: 0.5 s of a
5-million-row load), and the response time not at all: usage is dated by when the request was
made. Helicone's ``total_tokens`` is not read: it is the sum of the counts kept.
"""

from __future__ import annotations

from ingest.formats.base import EXPORTED_TIME_SPREAD, KNOWN_PROVIDERS, ExportFormat, Sample
from ingest.formats.reading import (
    Field,
    UsageReader,
    field_exprs,
    field_sources,
    first_count,
    first_of,
    first_time,
    int_text,
    json_doc,
    json_int_text,
    json_text,
    provider_sql,
    raw_columns,
    sample_fields,
    time_or,
    time_sources,
    ts_field,
)

_COUNTS = {
    # raw column: (export field, heliconeMetadata key)
    "prompt_tokens": ("prompt_tokens", "promptTokens"),
    "completion_tokens": ("completion_tokens", "completionTokens"),
    "reasoning_tokens": ("reasoning_tokens", None),
    "prompt_cache_read_tokens": ("prompt_cache_read_tokens", "promptCacheReadTokens"),
    "prompt_cache_write_tokens": ("prompt_cache_write_tokens", "promptCacheWriteTokens"),
}

FIELDS: dict[str, Field] = {
    "helicone_id": Field("VARCHAR"),
    "request_id": Field("VARCHAR"),
    "request_created_at": Field("TIMESTAMP"),
    "response_status": Field("INTEGER"),
    "provider": Field("VARCHAR"),
    "provider_raw": Field("VARCHAR"),
    "model": Field("VARCHAR"),
    "request_user_id": Field("VARCHAR"),
    **{name: Field("BIGINT") for name in _COUNTS},
    "cost_usd": Field("DECIMAL(38,12)"),
}
# Every export field read (besides those in FIELDS' own sources).
_READ = (
    "request_id",
    "response_id",
    "request_created_at",
    "response_status",
    "provider",
    "request_model",
    "model",
    "response_model",
    "request_user_id",
    "cost",
    "cost_usd",
    "costUSD",
    "heliconeMetadata",
    *(source for source, _ in _COUNTS.values()),
)
_IDS = {"request_id", "response_id"}
_TIMES = {"request_created_at", "response_created_at"}


def detect(sample: Sample) -> bool:
    """A request id and a request/response time (CLI and API rows), or the UI's mapped rows."""
    fields = sample_fields(sample)
    if fields is None or "spend" in fields:
        return False
    return bool(fields & _IDS and fields & _TIMES) or "heliconeMetadata" in fields


def _exprs(present: set[str]) -> dict[str, tuple[str, str]]:
    exprs = field_exprs(FIELDS, present)
    meta = json_doc(first_of(["heliconeMetadata"], present))

    def text(*names: str, meta_paths: tuple[str, ...] = ()) -> str:
        parts = [first_of(names, present)]
        if meta_paths and "heliconeMetadata" in present:
            parts.append(json_text(meta, meta_paths))
        return parts[0] if len(parts) == 1 else f"COALESCE({', '.join(parts)})"

    request_id = text("request_id", meta_paths=("$.requestId",))
    exprs["request_id"] = (request_id, "VARCHAR")
    exprs["helicone_id"] = (f"COALESCE({first_of(['response_id'], present)}, {request_id})",
                            "VARCHAR")
    created = first_time(["request_created_at"], present)
    if "heliconeMetadata" in present:
        created = time_or(created, json_text(meta, ("$.createdAt",)))
    exprs["request_created_at"] = ts_field(created)
    status = int_text(first_of(["response_status"], present))
    if "heliconeMetadata" in present:
        status = first_count(status, json_int_text(meta, ["$.status.code"], "heliconeMetadata"))
    exprs["response_status"] = (status, "INTEGER")
    provider = text("provider", meta_paths=("$.provider",))
    exprs["provider_raw"] = (f"lower({provider})", "VARCHAR")
    exprs["provider"] = (provider_sql(provider, KNOWN_PROVIDERS), "VARCHAR")
    # The CLI CSV's `model` is often empty; the API object's field is `request_model`.
    exprs["model"] = (text("request_model", "model", "response_model"), "VARCHAR")
    exprs["request_user_id"] = (text("request_user_id", meta_paths=("$.user",)), "VARCHAR")
    for column, (source, meta_key) in _COUNTS.items():
        value = int_text(first_of([source], present))
        if meta_key and "heliconeMetadata" in present:
            fallback = json_int_text(meta, [f"$.{meta_key}"], "heliconeMetadata")
            value = first_count(value, fallback)
        exprs[column] = (value, "BIGINT")
    exprs["cost_usd"] = (text("cost", "cost_usd", "costUSD", meta_paths=("$.cost",)),
                         "DECIMAL(38,12)")
    return exprs


READER = UsageReader(
    wanted=(*field_sources(FIELDS), *_READ),
    build_exprs=_exprs,
    numeric=(*(source for source, _ in _COUNTS.values()), "response_status"),
    times=("request_created_at", *time_sources(FIELDS)),
)


FORMAT = ExportFormat(
    format_name="helicone",
    source="helicone",
    raw_table="helicone_requests",
    columns=raw_columns(FIELDS),
    detect=detect,
    load=READER.load,
    load_in_place=READER.load_in_place,
    key=("helicone_id",),
    # The web UI's CSV may hold the request id without the response id: it is the same request.
    also_keyed_by="request_id",
    # The same requests arrive as JSONL (model, cost, cache and reasoning counts) and as the CLI
    # CSV (no request id, often no model or cost, no cache counts): a CSV loaded after the JSONL
    # must not erase what the JSONL told.
    keep_known=tuple(c for c in FIELDS if c != "helicone_id"),
    timestamp_column="request_created_at",
    copies_within=EXPORTED_TIME_SPREAD,
    non_negative=(*_COUNTS, "cost_usd"),
    required=("helicone_id", "request_created_at"),
    provider_column="provider",
    # Written until 2026-12-06: the response id repeats the key, the response time is not usage,
    # Helicone's total_tokens is the sum of the counts kept (no model read it).
    retired=("response_id", "response_created_at", "total_tokens"),
)
