"""Anthropic Admin API usage and cost reports (read-only, Admin key) flattened into raw rows.

Endpoints (under ``https://api.anthropic.com``, headers ``x-api-key`` + ``anthropic-version``):

* ``GET /v1/organizations/usage_report/messages`` -> ``raw.anthropic_usage_messages``
* ``GET /v1/organizations/cost_report``           -> ``raw.anthropic_cost_report``

Both with 1-day buckets; pagination is by bucket count (``limit`` at most 31 for 1d). Cache writes
arrive nested (``cache_creation.ephemeral_5m_input_tokens`` / ``ephemeral_1h_input_tokens``; there
is no flat ``cache_creation_input_tokens`` in this report). Cost ``amount`` is a decimal *string in
cents*: it is kept exactly as ``amount_cents`` and divided by 100 exactly into ``amount_usd``.
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
    as_decimal,
    as_int,
    as_str,
    buckets_of,
    day_start,
    from_rfc3339,
)
from ingest.providers.http import ApiKey, ProviderClient

DEFAULT_BASE_URL = "https://api.anthropic.com"
ANTHROPIC_VERSION = "2023-06-01"

PROFILE = ProviderProfile(
    provider="anthropic",
    display="Anthropic",
    default_base_url=DEFAULT_BASE_URL,
    key_env_var="ANTHROPIC_ADMIN_KEY",
    base_url_env_var="ANTHROPIC_BASE_URL",
    key_help=(
        "meterr needs an Anthropic Admin API key (sk-ant-admin...), which an organization admin "
        "creates in the Claude Console under Settings > Admin keys. Standard API keys "
        "(sk-ant-api...) cannot read usage and cost reports, and individual accounts have no "
        "Admin API."
    ),
)

USAGE_PATH = "/v1/organizations/usage_report/messages"
COST_PATH = "/v1/organizations/cost_report"

# Finest documented grain that needs no beta header (speed needs anthropic-beta: fast-mode-...).
USAGE_GROUP_BY = (
    "model",
    "workspace_id",
    "api_key_id",
    "service_tier",
    "context_window",
    "inference_geo",
)
# The cost report groups only by workspace and description; grouping by description is what fills
# model, token_type, cost_type, service_tier and context_window. There is no api_key_id grouping.
COST_GROUP_BY = ("workspace_id", "description")

# Buckets per page with bucket_width=1d (both reports: default 7, max 31).
MAX_DAY_BUCKETS = 31

USAGE_METRICS = (
    "uncached_input_tokens",
    "cache_creation_5m_input_tokens",
    "cache_creation_1h_input_tokens",
    "cache_read_input_tokens",
    "output_tokens",
    "web_search_requests",
)
USAGE_DIMENSIONS = USAGE_GROUP_BY
COST_DIMENSIONS = (
    "workspace_id",
    "description",
    "cost_type",
    "model",
    "token_type",
    "service_tier",
    "context_window",
    "inference_geo",
)

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

USAGE_TABLE = RawTable(
    raw_table="anthropic_usage_messages",
    columns={
        **_BUCKET_COLUMNS,
        **{name: "BIGINT" for name in USAGE_METRICS},
        **{name: "VARCHAR" for name in USAGE_DIMENSIONS},
        **_TAIL_COLUMNS,
    },
    timestamp_column="bucket_start",
    non_negative=USAGE_METRICS,
    required=(*_ALWAYS_REQUIRED, "uncached_input_tokens", "output_tokens"),
)

COST_TABLE = RawTable(
    raw_table="anthropic_cost_report",
    columns={
        **_BUCKET_COLUMNS,
        "amount_cents": "DECIMAL(38,12)",
        "amount_usd": "DECIMAL(38,12)",
        "currency": "VARCHAR",
        **{name: "VARCHAR" for name in COST_DIMENSIONS},
        **_TAIL_COLUMNS,
    },
    timestamp_column="bucket_start",
    non_negative=("amount_cents", "amount_usd"),
    required=(*_ALWAYS_REQUIRED, "amount_cents", "amount_usd", "currency"),
)


def make_client(
    api_key: str | ApiKey, base_url: str = DEFAULT_BASE_URL, **kwargs: Any
) -> ProviderClient:
    """A client for the Anthropic Admin API (``x-api-key``); kwargs go to ProviderClient."""
    headers = {"anthropic-version": ANTHROPIC_VERSION, **kwargs.pop("headers", {})}
    return ProviderClient(PROFILE, api_key, base_url, auth="x-api-key", headers=headers, **kwargs)


def _rfc3339(moment: datetime) -> str:
    return moment.strftime("%Y-%m-%dT%H:%M:%SZ")


def window_params(first_day: date, last_day: date, *, limit: int | None = None) -> dict[str, Any]:
    """Query parameters for 1-day buckets over UTC days ``first_day``..``last_day`` inclusive."""
    if last_day < first_day:
        raise ValueError(f"empty window {first_day}..{last_day}")
    days = (last_day - first_day).days + 1
    return {
        "starting_at": _rfc3339(day_start(first_day)),
        "ending_at": _rfc3339(day_start(last_day + timedelta(days=1))),
        "bucket_width": "1d",
        "limit": min(limit or days, MAX_DAY_BUCKETS),
    }


def _pages(path: str, group_by: tuple[str, ...]):
    def pages(
        client: ProviderClient, first_day: date, last_day: date, *, limit: int | None = None
    ) -> Iterator[dict[str, Any]]:
        # Bracket keys (group_by[]=model&group_by[]=workspace_id), as in every official example.
        params = {**window_params(first_day, last_day, limit=limit), "group_by[]": list(group_by)}
        return client.paginate(path, params)

    pages.__doc__ = (
        f"Every page of ``GET {path}`` for the window, grouped by {', '.join(group_by)}."
    )
    return pages


usage_pages = _pages(USAGE_PATH, USAGE_GROUP_BY)
cost_pages = _pages(COST_PATH, COST_GROUP_BY)


def _bucket_fields(bucket: dict[str, Any]) -> dict[str, Any]:
    start = from_rfc3339(bucket.get("starting_at"), "bucket.starting_at")
    end = from_rfc3339(bucket.get("ending_at"), "bucket.ending_at")
    return {"bucket_start": start, "bucket_end": end, "usage_date": start.date()}


def bucket_day(bucket: dict[str, Any]) -> date:
    """The UTC day of one bucket."""
    return _bucket_fields(bucket)["usage_date"]


def _results(pages: Iterable[dict[str, Any]]) -> Iterator[tuple[dict[str, Any], dict[str, Any]]]:
    for page in pages:
        for bucket in buckets_of(page):
            fields = _bucket_fields(bucket)
            for result in bucket.get("results") or []:
                if not isinstance(result, dict):
                    raise ResponseShapeError("a bucket result is not an object")
                yield fields, result


def _tail(extracted_at: datetime, integration_id: str, integration_user_id: str | None) -> dict:
    return {
        "extracted_at": extracted_at,
        "integration_id": integration_id,
        "integration_user_id": integration_user_id,
    }


def _nested(result: dict[str, Any], parent: str) -> dict[str, Any]:
    value = result.get(parent)
    if value is None:
        return {}
    if not isinstance(value, dict):
        raise ResponseShapeError(f"{parent} is {value!r}, expected an object")
    return value


def flatten_usage(
    pages: Iterable[dict[str, Any]],
    *,
    extracted_at: datetime,
    integration_id: str,
    integration_user_id: str | None = None,
) -> list[dict[str, Any]]:
    """Rows of ``raw.anthropic_usage_messages``.

    One row per day bucket x model x workspace x API key x service tier x context window x
    inference geo. The four input counts are disjoint: uncached + 5m cache writes + 1h cache writes
    + cache reads = total input. NULL workspace_id is the default workspace; NULL api_key_id is
    Workbench/Console usage.
    """
    rows = []
    for fields, result in _results(pages):
        cache_creation = _nested(result, "cache_creation")
        server_tools = _nested(result, "server_tool_use")
        row = dict(fields)
        row["uncached_input_tokens"] = as_int(
            result.get("uncached_input_tokens"), "uncached_input_tokens"
        )
        row["cache_creation_5m_input_tokens"] = as_int(
            cache_creation.get("ephemeral_5m_input_tokens"),
            "cache_creation.ephemeral_5m_input_tokens",
        )
        row["cache_creation_1h_input_tokens"] = as_int(
            cache_creation.get("ephemeral_1h_input_tokens"),
            "cache_creation.ephemeral_1h_input_tokens",
        )
        row["cache_read_input_tokens"] = as_int(
            result.get("cache_read_input_tokens"), "cache_read_input_tokens"
        )
        row["output_tokens"] = as_int(result.get("output_tokens"), "output_tokens")
        row["web_search_requests"] = as_int(
            server_tools.get("web_search_requests"), "server_tool_use.web_search_requests"
        )
        for name in USAGE_DIMENSIONS:
            row[name] = as_str(result.get(name), name)
        row.update(_tail(extracted_at, integration_id, integration_user_id))
        rows.append(row)
    return rows


def flatten_cost(
    pages: Iterable[dict[str, Any]],
    *,
    extracted_at: datetime,
    integration_id: str,
    integration_user_id: str | None = None,
) -> list[dict[str, Any]]:
    """Rows of ``raw.anthropic_cost_report``: one per day bucket x workspace x description.

    ``amount_cents`` is the report's ``amount`` string exactly (lowest currency unit, cents for
    USD, fractions allowed); ``amount_usd`` is the same value divided by 100 exactly. Priority Tier
    costs are not in this report.
    """
    rows = []
    for fields, result in _results(pages):
        cents = as_decimal(result.get("amount"), "amount")
        row = dict(fields)
        row["amount_cents"] = cents
        # scaleb(-2) moves the decimal point: exact, no rounding context involved.
        row["amount_usd"] = cents.scaleb(-2) if cents is not None else None
        row["currency"] = as_str(result.get("currency"), "currency")
        for name in COST_DIMENSIONS:
            row[name] = as_str(result.get(name), name)
        row.update(_tail(extracted_at, integration_id, integration_user_id))
        rows.append(row)
    return rows


USAGE = Endpoint(
    name=USAGE_TABLE.raw_table,
    profile=PROFILE,
    path=USAGE_PATH,
    table=USAGE_TABLE,
    grain=("bucket_start", *USAGE_DIMENSIONS),
    make_client=make_client,
    pages=usage_pages,
    flatten=flatten_usage,
    bucket_day=bucket_day,
    verify_call=True,
)
COST = Endpoint(
    name=COST_TABLE.raw_table,
    profile=PROFILE,
    path=COST_PATH,
    table=COST_TABLE,
    grain=("bucket_start", *COST_DIMENSIONS),
    make_client=make_client,
    pages=cost_pages,
    flatten=flatten_cost,
    bucket_day=bucket_day,
)

ENDPOINTS: tuple[Endpoint, ...] = (USAGE, COST)
