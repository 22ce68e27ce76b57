"""LiteLLM proxy spend logs (the ``LiteLLM_SpendLogs`` table): a CSV dump of the table or the
``/spend/logs`` JSON (an array or JSON Lines).

One row per request. ``messages``, ``response``, ``proxy_server_request`` and the ``metadata`` blob
are never stored: ``metadata`` is parsed in SQL for the cache counts in
``metadata.additional_usage_values`` (Anthropic ``cache_read_input_tokens`` /
``cache_creation_input_tokens``, OpenAI ``prompt_tokens_details.cached_tokens``) and the key's user
id; nothing else of it is kept.

Trap: LiteLLM's ``prompt_tokens`` INCLUDES cache reads and writes, so uncached input is
``prompt_tokens - cache_read_input_tokens - cache_creation_input_tokens``. ``spend`` is USD.
``api_key`` is LiteLLM's hash of the virtual key, not the key. ``custom_llm_provider`` is kept
verbatim (lower case) and mapped onto meterr's provider names in ``provider``.
"""

from __future__ import annotations

from ingest.formats.base import EXPORTED_TIME_SPREAD, KNOWN_PROVIDERS, ExportFormat, Sample
from ingest.formats.reading import (
    Field,
    UsageReader,
    field_exprs,
    field_sources,
    first_of,
    json_doc,
    json_int_text,
    json_text,
    numeric_sources,
    provider_sql,
    raw_columns,
    sample_fields,
    time_sources,
)

FIELDS: dict[str, Field] = {
    "request_id": Field("VARCHAR", ("request_id",)),
    "call_type": Field("VARCHAR", ("call_type",)),
    "api_key": Field("VARCHAR", ("api_key",)),
    "spend": Field("DECIMAL(38,12)", ("spend",), "money"),
    "total_tokens": Field("BIGINT", ("total_tokens",), "int"),
    "prompt_tokens": Field("BIGINT", ("prompt_tokens",), "int"),
    "completion_tokens": Field("BIGINT", ("completion_tokens",), "int"),
    # From metadata.additional_usage_values; filled below.
    "cache_read_input_tokens": Field("BIGINT"),
    "cache_creation_input_tokens": Field("BIGINT"),
    "start_time": Field("TIMESTAMP", ("startTime", "start_time"), "ts"),
    "end_time": Field("TIMESTAMP", ("endTime", "end_time"), "ts"),
    "model": Field("VARCHAR", ("model",)),
    "model_group": Field("VARCHAR", ("model_group",)),
    "custom_llm_provider": Field("VARCHAR", ("custom_llm_provider",), "lower"),
    "provider": Field("VARCHAR"),
    "user": Field("VARCHAR", ("user",)),
    "end_user": Field("VARCHAR", ("end_user",)),
    "team_id": Field("VARCHAR", ("team_id",)),
    "organization_id": Field("VARCHAR", ("organization_id",)),
    "user_api_key_user_id": Field("VARCHAR"),
    "cache_hit": Field("BOOLEAN", ("cache_hit",), "bool"),
    "status": Field("VARCHAR", ("status",)),
}
SIGNATURE = {"request_id", "spend"}

_USAGE = "$.additional_usage_values"
# A CSV dump of the table written from Python spells a NULL cell `None` (metadata and user too).
_NULLS = ("None",)


def detect(sample: Sample) -> bool:
    """Spend-log rows: ``request_id``, ``spend`` and ``startTime``."""
    fields = sample_fields(sample)
    return (
        fields is not None
        and SIGNATURE <= fields
        and bool({"startTime", "start_time"} & fields)
    )


def _exprs(present: set[str]) -> dict[str, tuple[str, str]]:
    exprs = field_exprs(FIELDS, present, _NULLS)
    meta = json_doc(first_of(["metadata"], present, _NULLS))
    exprs["cache_read_input_tokens"] = (
        json_int_text(
            meta,
            [f"{_USAGE}.cache_read_input_tokens", f"{_USAGE}.prompt_tokens_details.cached_tokens"],
            "metadata",
        ),
        "BIGINT",
    )
    exprs["cache_creation_input_tokens"] = (
        json_int_text(meta, [f"{_USAGE}.cache_creation_input_tokens"], "metadata"),
        "BIGINT",
    )
    exprs["user_api_key_user_id"] = (json_text(meta, ["$.user_api_key_user_id"]), "VARCHAR")
    provider = first_of(["custom_llm_provider"], present, _NULLS)
    exprs["provider"] = (provider_sql(provider, KNOWN_PROVIDERS), "VARCHAR")
    return exprs


READER = UsageReader(
    wanted=(*field_sources(FIELDS), "metadata"),
    build_exprs=_exprs,
    numeric=tuple(numeric_sources(FIELDS)),
    times=tuple(time_sources(FIELDS)),
)


FORMAT = ExportFormat(
    format_name="litellm",
    source="litellm",
    raw_table="litellm_spend_logs",
    columns=raw_columns(FIELDS),
    detect=detect,
    load=READER.load,
    load_in_place=READER.load_in_place,
    key=("request_id",),
    timestamp_column="start_time",
    copies_within=EXPORTED_TIME_SPREAD,
    non_negative=(
        "spend",
        "total_tokens",
        "prompt_tokens",
        "completion_tokens",
        "cache_read_input_tokens",
        "cache_creation_input_tokens",
    ),
    required=("request_id", "start_time"),
    provider_column="provider",
)
