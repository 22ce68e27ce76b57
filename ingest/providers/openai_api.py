"""OpenAI organization Usage and Costs APIs (read-only, admin key) flattened into raw rows.

Endpoints (under ``https://api.openai.com/v1``, ``Authorization: Bearer <admin key>``):

* ``GET /organization/usage/completions`` -> ``raw.openai_usage_completions``
* ``GET /organization/usage/embeddings``  -> ``raw.openai_usage_embeddings``
* ``GET /organization/costs``             -> ``raw.openai_costs``

All are requested with 1-day buckets. Pagination is by bucket count (``limit``), so a day is one
page; a window of days is ``ceil(days / limit)`` pages. Metric fields are stored exactly as received
(their meaning changed over the API's history: since 2026-07 ``input_tokens`` includes cached *and*
cache-write tokens), and missing fields stay NULL so staging can tell "absent" from "zero".
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from datetime import date, datetime, timedelta
from typing import Any

from ingest.formats.base import RawTable
from ingest.providers.base import (
    Endpoint,
    ProviderProfile,
    ResponseShapeError,
    as_bool,
    as_decimal,
    as_int,
    as_str,
    buckets_of,
    day_start,
    from_unix,
)
from ingest.providers.http import ApiKey, ProviderClient

DEFAULT_BASE_URL = "https://api.openai.com/v1"

PROFILE = ProviderProfile(
    provider="openai",
    display="OpenAI",
    default_base_url=DEFAULT_BASE_URL,
    key_env_var="OPENAI_ADMIN_KEY",
    base_url_env_var="OPENAI_BASE_URL",
    key_help=(
        "meterr needs an OpenAI organization Admin key (sk-admin-...) with read access to usage "
        "(permission api.usage.read); an organization owner creates one at "
        "https://platform.openai.com/settings/organization/admin-keys. Project keys (sk-proj-...) "
        "cannot read organization usage or costs."
    ),
)

COMPLETIONS_PATH = "/organization/usage/completions"
EMBEDDINGS_PATH = "/organization/usage/embeddings"
COSTS_PATH = "/organization/costs"

# Finest grain the API offers for each endpoint; every value listed is a documented group_by.
COMPLETIONS_GROUP_BY = ("model", "project_id", "api_key_id", "user_id", "batch", "service_tier")
EMBEDDINGS_GROUP_BY = ("model", "project_id", "api_key_id", "user_id")
# Costs cannot be grouped by model (the model only appears inside line_item's text).
COSTS_GROUP_BY = ("project_id", "line_item", "api_key_id")

# Buckets per page for bucket_width=1d: usage allows at most 31, costs 180. 31 keeps both the same.
MAX_DAY_BUCKETS = 31

# Every metric of a completions result, as documented (older responses carry only some of them).
COMPLETIONS_METRICS = (
    "input_tokens",
    "input_cached_tokens",
    "input_cache_write_tokens",
    "input_uncached_tokens",
    "output_tokens",
    "input_text_tokens",
    "input_cached_text_tokens",
    "output_text_tokens",
    "input_audio_tokens",
    "input_cached_audio_tokens",
    "output_audio_tokens",
    "input_image_tokens",
    "input_cached_image_tokens",
    "output_image_tokens",
    "num_model_requests",
)
COMPLETIONS_DIMENSIONS = ("model", "project_id", "api_key_id", "user_id", "service_tier")

_BUCKET_COLUMNS = {
    "bucket_start": "TIMESTAMP",
    "bucket_end": "TIMESTAMP",
    "usage_date": "DATE",
}
_TAIL_COLUMNS = {
    "extracted_at": "TIMESTAMP",
    "integration_id": "VARCHAR",
    "integration_user_id": "VARCHAR",
}
_ALWAYS_REQUIRED = ("bucket_start", "bucket_end", "usage_date", "extracted_at", "integration_id")

COMPLETIONS_TABLE = RawTable(
    raw_table="openai_usage_completions",
    columns={
        **_BUCKET_COLUMNS,
        **{name: "BIGINT" for name in COMPLETIONS_METRICS},
        "model": "VARCHAR",
        "project_id": "VARCHAR",
        "api_key_id": "VARCHAR",
        "user_id": "VARCHAR",
        "batch": "BOOLEAN",
        "service_tier": "VARCHAR",
        **_TAIL_COLUMNS,
    },
    timestamp_column="bucket_start",
    non_negative=COMPLETIONS_METRICS,
    # The spec marks these three required on every completions result.
    required=(*_ALWAYS_REQUIRED, "input_tokens", "output_tokens", "num_model_requests"),
)

EMBEDDINGS_TABLE = RawTable(
    raw_table="openai_usage_embeddings",
    columns={
        **_BUCKET_COLUMNS,
        "input_tokens": "BIGINT",
        "num_model_requests": "BIGINT",
        "model": "VARCHAR",
        "project_id": "VARCHAR",
        "api_key_id": "VARCHAR",
        "user_id": "VARCHAR",
        **_TAIL_COLUMNS,
    },
    timestamp_column="bucket_start",
    non_negative=("input_tokens", "num_model_requests"),
    required=(*_ALWAYS_REQUIRED, "input_tokens", "num_model_requests"),
)

COSTS_TABLE = RawTable(
    raw_table="openai_costs",
    columns={
        **_BUCKET_COLUMNS,
        "amount_value": "DECIMAL(38,12)",
        "amount_currency": "VARCHAR",
        "line_item": "VARCHAR",
        "project_id": "VARCHAR",
        "api_key_id": "VARCHAR",
        "quantity": "DECIMAL(38,12)",
        "quantity_unit": "VARCHAR",
        **_TAIL_COLUMNS,
    },
    timestamp_column="bucket_start",
    non_negative=("amount_value", "quantity"),
    required=(*_ALWAYS_REQUIRED, "amount_value", "amount_currency"),
)


def make_client(
    api_key: str | ApiKey, base_url: str = DEFAULT_BASE_URL, **kwargs: Any
) -> ProviderClient:
    """A client for the OpenAI admin APIs (``Authorization: Bearer``); kwargs go to the client."""
    return ProviderClient(PROFILE, api_key, base_url, auth="bearer", **kwargs)


def window_params(first_day: date, last_day: date, *, limit: int | None = None) -> dict[str, Any]:
    """Query parameters for 1-day buckets over UTC days ``first_day``..``last_day`` inclusive."""
    if last_day < first_day:
        raise ValueError(f"empty window {first_day}..{last_day}")
    days = (last_day - first_day).days + 1
    return {
        # start_time at UTC midnight: a start inside a day makes the first bucket start there.
        "start_time": int(day_start(first_day).timestamp()),
        "end_time": int(day_start(last_day + timedelta(days=1)).timestamp()),
        "bucket_width": "1d",
        "limit": min(limit or days, MAX_DAY_BUCKETS),
    }


def _pages(path: str, group_by: tuple[str, ...]):
    def pages(
        client: ProviderClient, first_day: date, last_day: date, *, limit: int | None = None
    ) -> Iterator[dict[str, Any]]:
        # Repeated keys (group_by=model&group_by=project_id) are the OpenAPI default encoding.
        params = {**window_params(first_day, last_day, limit=limit), "group_by": list(group_by)}
        return client.paginate(path, params)

    pages.__doc__ = (
        f"Every page of ``GET {path}`` for the window, grouped by {', '.join(group_by)}."
    )
    return pages


completions_pages = _pages(COMPLETIONS_PATH, COMPLETIONS_GROUP_BY)
embeddings_pages = _pages(EMBEDDINGS_PATH, EMBEDDINGS_GROUP_BY)
costs_pages = _pages(COSTS_PATH, COSTS_GROUP_BY)


def _bucket_fields(bucket: dict[str, Any]) -> dict[str, Any]:
    start = from_unix(bucket.get("start_time"), "bucket.start_time")
    end = from_unix(bucket.get("end_time"), "bucket.end_time")
    # The first bucket starts at the requested start_time, not necessarily midnight: the UTC day
    # of the start is the bucket's day.
    return {"bucket_start": start, "bucket_end": end, "usage_date": start.date()}


def bucket_day(bucket: dict[str, Any]) -> date:
    """The UTC day of one bucket."""
    return _bucket_fields(bucket)["usage_date"]


def _tail(extracted_at: datetime, integration_id: str, integration_user_id: str | None) -> dict:
    return {
        "extracted_at": extracted_at,
        "integration_id": integration_id,
        "integration_user_id": integration_user_id,
    }


def _results(pages: Iterable[dict[str, Any]]) -> Iterator[tuple[dict[str, Any], dict[str, Any]]]:
    for page in pages:
        for bucket in buckets_of(page):
            fields = _bucket_fields(bucket)
            for result in bucket.get("results") or []:
                if not isinstance(result, dict):
                    raise ResponseShapeError("a bucket result is not an object")
                yield fields, result


def flatten_completions(
    pages: Iterable[dict[str, Any]],
    *,
    extracted_at: datetime,
    integration_id: str,
    integration_user_id: str | None = None,
) -> list[dict[str, Any]]:
    """Rows of ``raw.openai_usage_completions``.

    One row per day bucket x model x project x API key x user x batch x service tier (one row per
    bucket result); token counts as received, NULL where the response omits a field.
    """
    rows = []
    for fields, result in _results(pages):
        row = dict(fields)
        for name in COMPLETIONS_METRICS:
            row[name] = as_int(result.get(name), name)
        for name in COMPLETIONS_DIMENSIONS:
            row[name] = as_str(result.get(name), name)
        row["batch"] = as_bool(result.get("batch"), "batch")
        row.update(_tail(extracted_at, integration_id, integration_user_id))
        rows.append(row)
    return rows


def flatten_embeddings(
    pages: Iterable[dict[str, Any]],
    *,
    extracted_at: datetime,
    integration_id: str,
    integration_user_id: str | None = None,
) -> list[dict[str, Any]]:
    """Rows of ``raw.openai_usage_embeddings``: one per day bucket x model x project x key x user"""
    rows = []
    for fields, result in _results(pages):
        row = dict(fields)
        row["input_tokens"] = as_int(result.get("input_tokens"), "input_tokens")
        row["num_model_requests"] = as_int(result.get("num_model_requests"), "num_model_requests")
        for name in ("model", "project_id", "api_key_id", "user_id"):
            row[name] = as_str(result.get(name), name)
        row.update(_tail(extracted_at, integration_id, integration_user_id))
        rows.append(row)
    return rows


def flatten_costs(
    pages: Iterable[dict[str, Any]],
    *,
    extracted_at: datetime,
    integration_id: str,
    integration_user_id: str | None = None,
) -> list[dict[str, Any]]:
    """Rows of ``raw.openai_costs``: one per day bucket x project x line item x API key.

    ``amount_value`` is in currency units (dollars for ``usd``), kept as an exact Decimal of the
    JSON number's text (pages must be parsed with ``parse_float=Decimal``, as ProviderClient does).
    """
    rows = []
    for fields, result in _results(pages):
        amount = result.get("amount")
        if not isinstance(amount, dict):
            raise ResponseShapeError(f"costs result amount is {amount!r}, expected an object")
        row = dict(fields)
        row["amount_value"] = as_decimal(amount.get("value"), "amount.value")
        row["amount_currency"] = as_str(amount.get("currency"), "amount.currency")
        for name in ("line_item", "project_id", "api_key_id", "quantity_unit"):
            row[name] = as_str(result.get(name), name)
        row["quantity"] = as_decimal(result.get("quantity"), "quantity")
        row.update(_tail(extracted_at, integration_id, integration_user_id))
        rows.append(row)
    return rows


COMPLETIONS = Endpoint(
    name=COMPLETIONS_TABLE.raw_table,
    profile=PROFILE,
    path=COMPLETIONS_PATH,
    table=COMPLETIONS_TABLE,
    grain=("bucket_start", *COMPLETIONS_DIMENSIONS, "batch"),
    make_client=make_client,
    pages=completions_pages,
    flatten=flatten_completions,
    bucket_day=bucket_day,
    verify_call=True,
)
EMBEDDINGS = Endpoint(
    name=EMBEDDINGS_TABLE.raw_table,
    profile=PROFILE,
    path=EMBEDDINGS_PATH,
    table=EMBEDDINGS_TABLE,
    grain=("bucket_start", "model", "project_id", "api_key_id", "user_id"),
    make_client=make_client,
    pages=embeddings_pages,
    flatten=flatten_embeddings,
    bucket_day=bucket_day,
)
COSTS = Endpoint(
    name=COSTS_TABLE.raw_table,
    profile=PROFILE,
    path=COSTS_PATH,
    table=COSTS_TABLE,
    grain=("bucket_start", "project_id", "line_item", "api_key_id"),
    make_client=make_client,
    pages=costs_pages,
    flatten=flatten_costs,
    bucket_day=bucket_day,
)

ENDPOINTS: tuple[Endpoint, ...] = (COMPLETIONS, EMBEDDINGS, COSTS)
