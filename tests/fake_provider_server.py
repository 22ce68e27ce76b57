"""A real HTTP server on 127.0.0.1 that plays the OpenAI and Anthropic admin usage/cost APIs.

It serves the documented response shapes (see ../shared/reference/formats.md sections 1, 2, 5 and
11) from a deterministic in-memory data set, paginated by bucket count, aggregated by whatever
``group_by`` the client asks for (``group_by=x`` and ``group_by[]=x`` both accepted), and can
inject faults: an HTTP status with headers (429 + Retry-After, 500, 529), a slow response, and a
dropped connection from page N on. Bad keys get the providers' documented 401/403 bodies.

Everything it served is logged, so tests can compare what landed in DuckDB with
:meth:`FakeProviderServer.served_totals` exactly (per bucket and per day).
"""

from __future__ import annotations

import base64
import json
import random
import re
import threading
import time
from collections import defaultdict
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qsl, urlsplit

OPENAI_PREFIX = "/v1/organization"
OPENAI_PATHS = {
    "/v1/organization/usage/completions": "openai_usage_completions",
    "/v1/organization/usage/embeddings": "openai_usage_embeddings",
    "/v1/organization/costs": "openai_costs",
}
ANTHROPIC_PATHS = {
    "/v1/organizations/usage_report/messages": "anthropic_usage_messages",
    "/v1/organizations/cost_report": "anthropic_cost_report",
}

# Documented group_by values per endpoint; anything else is a 400 like the real APIs.
GROUPABLE = {
    "openai_usage_completions": (
        "project_id",
        "user_id",
        "api_key_id",
        "model",
        "batch",
        "service_tier",
    ),
    "openai_usage_embeddings": ("project_id", "user_id", "api_key_id", "model"),
    "openai_costs": ("project_id", "line_item", "api_key_id"),
    "anthropic_usage_messages": (
        "api_key_id",
        "workspace_id",
        "model",
        "service_tier",
        "context_window",
        "inference_geo",
        "speed",
        "account_id",
        "service_account_id",
    ),
    "anthropic_cost_report": ("workspace_id", "description"),
}

# Metrics summed when results are aggregated; the names are the response fields (dots = nested).
METRICS = {
    "openai_usage_completions": (
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
    ),
    "openai_usage_embeddings": ("input_tokens", "num_model_requests"),
    "openai_costs": ("amount.value", "quantity"),
    "anthropic_usage_messages": (
        "uncached_input_tokens",
        "cache_creation.ephemeral_5m_input_tokens",
        "cache_creation.ephemeral_1h_input_tokens",
        "cache_read_input_tokens",
        "output_tokens",
        "server_tool_use.web_search_requests",
    ),
    "anthropic_cost_report": ("amount",),
}

# Cost-report fields that are parsed from the description (filled only when grouped by it).
ANTHROPIC_DESCRIPTION_FIELDS = (
    "cost_type",
    "model",
    "token_type",
    "service_tier",
    "context_window",
    "inference_geo",
)

_DEC = re.compile(r'"@@DEC:(-?[0-9.]+)@@"')


def dumps(obj: Any) -> bytes:
    """JSON with ``Decimal`` written as a bare JSON number of exactly its digits (no float)."""

    def default(value: Any) -> Any:
        if isinstance(value, Decimal):
            return f"@@DEC:{format(value, 'f')}@@"
        raise TypeError(type(value).__name__)

    return _DEC.sub(r"\1", json.dumps(obj, default=default)).encode("utf-8")


def _get(record: dict[str, Any], dotted: str) -> Any:
    value: Any = record
    for part in dotted.split("."):
        if not isinstance(value, dict):
            return None
        value = value.get(part)
    return value


def _set(record: dict[str, Any], dotted: str, value: Any) -> None:
    parts = dotted.split(".")
    for part in parts[:-1]:
        record = record.setdefault(part, {})
    record[parts[-1]] = value


@dataclass
class Fault:
    """One injected misbehaviour for requests whose path contains ``path`` (all if empty)."""

    kind: str  # "status" | "delay" | "drop_after_page"
    times: int | None = 1  # None = for ever
    path: str = ""
    status: int = 500
    headers: dict[str, str] = field(default_factory=dict)
    body: Any = None
    delay_s: float = 0.0
    page: int = 0


@dataclass
class Served:
    endpoint: str
    bucket_start: datetime
    bucket_end: datetime
    results: list[dict[str, Any]]


def _unix(moment: datetime) -> int:
    return int(moment.replace(tzinfo=UTC).timestamp())


def _rfc3339(moment: datetime) -> str:
    return moment.strftime("%Y-%m-%dT%H:%M:%SZ")


def _midnight(day: date) -> datetime:
    return datetime(day.year, day.month, day.day)


def build_dataset(days: list[date], seed: int = 7) -> dict[str, dict[date, list[dict[str, Any]]]]:
    """Finest-grain records per endpoint and UTC day (some days empty, some in the older shape)."""
    rng = random.Random(seed)
    data: dict[str, dict[date, list[dict[str, Any]]]] = defaultdict(dict)
    for n, day in enumerate(days):
        legacy = n % 4 == 1  # pre-2026 completions shape: no cache-write/uncached/breakdowns
        empty = n % 5 == 3  # a day without usage still has a bucket, with results: []
        completions, embeddings, costs, usage, cost_report = [], [], [], [], []
        for _ in range(0 if empty else rng.randint(3, 7)):
            cached, write, uncached = (rng.randint(0, 5000) for _ in range(3))
            record: dict[str, Any] = {
                "object": "organization.usage.completions.result",
                "input_tokens": cached + write + uncached,
                "input_cached_tokens": cached,
                "output_tokens": rng.randint(0, 9000),
                "input_audio_tokens": rng.randint(0, 50),
                "output_audio_tokens": rng.randint(0, 50),
                "num_model_requests": rng.randint(1, 40),
                "model": rng.choice(["gpt-4o-mini-2024-07-18", "gpt-4.1-2025-04-14"]),
                "project_id": rng.choice(["proj_abc", "proj_def"]),
                "api_key_id": rng.choice(["key_3QRCYbJRFQ0G4ycm", "key_abc"]),
                "user_id": rng.choice(["user-abc", None]),
                "batch": rng.choice([False, True]),
                "service_tier": rng.choice(["default", "flex"]),
            }
            if legacy:
                # Older meaning: input_tokens = cached + uncached (no cache writes existed).
                record["input_tokens"] = cached + uncached
            else:
                record.update(
                    input_cache_write_tokens=write,
                    input_uncached_tokens=uncached,
                    input_text_tokens=uncached,
                    input_cached_text_tokens=cached,
                    output_text_tokens=record["output_tokens"],
                    input_cached_audio_tokens=0,
                    input_image_tokens=0,
                    input_cached_image_tokens=0,
                    output_image_tokens=0,
                )
            completions.append(record)
            embeddings.append(
                {
                    "object": "organization.usage.embeddings.result",
                    "input_tokens": rng.randint(0, 100000),
                    "num_model_requests": rng.randint(1, 30),
                    "model": "text-embedding-3-small",
                    "project_id": rng.choice(["proj_abc", "proj_def"]),
                    "api_key_id": "key_abc",
                    "user_id": None,
                }
            )
            model = record["model"]
            for direction in ("input", "output"):
                costs.append(
                    {
                        "object": "organization.costs.result",
                        # Ten decimals, like the real API's long fractions.
                        "amount": {
                            "value": Decimal(rng.randint(0, 10**11)) / Decimal(10**10),
                            "currency": "usd",
                        },
                        "line_item": f"{model}, {direction}",
                        "project_id": record["project_id"],
                        "api_key_id": record["api_key_id"],
                        "quantity": Decimal(rng.randint(0, 10**6)),
                        "quantity_unit": "tokens",
                    }
                )
            usage.append(
                {
                    "uncached_input_tokens": rng.randint(0, 20000),
                    "cache_creation": {
                        "ephemeral_5m_input_tokens": rng.randint(0, 3000),
                        "ephemeral_1h_input_tokens": rng.randint(0, 3000),
                    },
                    "cache_read_input_tokens": rng.randint(0, 10000),
                    "output_tokens": rng.randint(0, 8000),
                    "server_tool_use": {"web_search_requests": rng.randint(0, 5)},
                    "api_key_id": rng.choice(["apikey_01Rj2N8SVvo6BePZj99NhmiT", None]),
                    "workspace_id": rng.choice(["wrkspc_01JwQvzr7rXLA5AGx3HKfFUJ", None]),
                    "model": rng.choice(["claude-sonnet-4-20250514", "claude-3-5-haiku-20241022"]),
                    "service_tier": rng.choice(["standard", "batch"]),
                    "context_window": "0-200k",
                    "inference_geo": "not_available",
                }
            )
            for token_type in ("uncached_input_tokens", "output_tokens"):
                nice = "Input Tokens" if token_type.startswith("uncached") else "Output Tokens"
                cost_report.append(
                    {
                        # Cents as a decimal string, fractions of a cent included.
                        "amount": format(Decimal(rng.randint(0, 10**9)) / Decimal(10**5), "f"),
                        "currency": "USD",
                        "workspace_id": usage[-1]["workspace_id"],
                        "description": f"{usage[-1]['model']} Usage - {nice}",
                        "cost_type": "tokens",
                        "model": usage[-1]["model"],
                        "token_type": token_type,
                        "service_tier": usage[-1]["service_tier"],
                        "context_window": "0-200k",
                        "inference_geo": "not_available",
                    }
                )
        if not empty and n == 0:
            # Digits a float cannot hold (17 significant), and a cost of a hundredth of a cent.
            costs.append(
                {
                    "object": "organization.costs.result",
                    "amount": {"value": Decimal("98765.432109876543"), "currency": "usd"},
                    "line_item": "Web search",
                    "project_id": "proj_abc",
                    "api_key_id": None,
                    "quantity": Decimal("1.5"),
                    "quantity_unit": "duration_hours",
                }
            )
            cost_report.append(
                {
                    "amount": "0.0000000001",
                    "currency": "USD",
                    "workspace_id": None,
                    "description": "Web Search Usage",
                    "cost_type": "web_search",
                    "model": None,
                    "token_type": None,
                    "service_tier": None,
                    "context_window": None,
                    "inference_geo": None,
                }
            )
        data["openai_usage_completions"][day] = completions
        data["openai_usage_embeddings"][day] = embeddings
        data["openai_costs"][day] = costs
        data["anthropic_usage_messages"][day] = usage
        data["anthropic_cost_report"][day] = cost_report
    return dict(data)


def aggregate(endpoint: str, records: list[dict[str, Any]], group_by: list[str]) -> list[dict]:
    """Results as the API returns them: one per distinct combination of the grouped fields."""
    metrics = METRICS[endpoint]
    groupable = GROUPABLE[endpoint]
    groups: dict[tuple, list[dict[str, Any]]] = {}
    for record in records:
        key = tuple(record.get(name) for name in groupable if name in group_by)
        groups.setdefault(key, []).append(record)
    results = []
    for members in groups.values():
        first = members[0]
        result: dict[str, Any] = {}
        if "object" in first:
            result["object"] = first["object"]
        for name in groupable:
            if name in ("speed", "account_id", "service_account_id"):
                continue
            result[name] = first.get(name) if name in group_by else None
        if endpoint == "anthropic_cost_report":
            for name in ANTHROPIC_DESCRIPTION_FIELDS:
                result[name] = first.get(name) if "description" in group_by else None
        if endpoint == "openai_costs":
            if "line_item" in group_by:
                result["quantity_unit"] = first.get("quantity_unit")
            else:
                result["quantity"] = None
                result["quantity_unit"] = None
        for metric in metrics:
            values = [_get(m, metric) for m in members]
            if any(v is None for v in values):
                continue  # a field absent from any member is absent from the aggregate
            if endpoint == "anthropic_cost_report":
                total: Any = format(sum((Decimal(v) for v in values), Decimal(0)), "f")
            elif isinstance(values[0], Decimal):
                total = sum(values, Decimal(0))
            else:
                total = sum(values)
            if endpoint == "openai_costs" and metric == "quantity" and "line_item" not in group_by:
                continue
            _set(result, metric, total)
        if endpoint == "openai_costs":
            result["amount"]["currency"] = first["amount"]["currency"]
        if endpoint == "anthropic_cost_report":
            result["currency"] = first["currency"]
        results.append(result)
    return results


class FakeProviderServer:
    """Both providers' admin APIs on ``http://127.0.0.1:<port>``; start with ``with`` or start()."""

    def __init__(
        self,
        *,
        days: list[date] | None = None,
        page_size: int | None = 2,
        openai_keys: tuple[str, ...] = ("sk-admin-TEST-openai-0123456789abcdefWXYZ",),
        anthropic_keys: tuple[str, ...] = ("sk-ant-admin01-TEST-anthropic-0123456789QRST",),
        echo_key_in_errors: bool = False,
        seed: int = 7,
    ) -> None:
        today = datetime.now(UTC).date()
        self.days = days or [today - timedelta(days=n) for n in range(9, -1, -1)]
        self.dataset = build_dataset(self.days, seed=seed)
        self.page_size = page_size
        self.openai_keys = set(openai_keys)
        self.anthropic_keys = set(anthropic_keys)
        self.echo_key_in_errors = echo_key_in_errors
        self.faults: list[Fault] = []
        self.requests: list[dict[str, Any]] = []
        self.served: list[Served] = []
        self._lock = threading.Lock()
        self._httpd: ThreadingHTTPServer | None = None
        self._thread: threading.Thread | None = None

    # -- lifecycle -----------------------------------------------------------------------------

    def start(self) -> FakeProviderServer:
        server = self

        class Handler(_Handler):
            fake = server

        self._httpd = _Server(("127.0.0.1", 0), Handler)
        self._thread = threading.Thread(target=self._httpd.serve_forever, args=(0.05,), daemon=True)
        self._thread.start()
        return self

    def stop(self) -> None:
        if self._httpd is not None:
            self._httpd.shutdown()
            self._httpd.server_close()
            self._httpd = None

    def __enter__(self) -> FakeProviderServer:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    @property
    def port(self) -> int:
        assert self._httpd is not None, "server not started"
        return self._httpd.server_address[1]

    @property
    def openai_base_url(self) -> str:
        return f"http://127.0.0.1:{self.port}/v1"

    @property
    def anthropic_base_url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def base_url(self, provider: str) -> str:
        return self.openai_base_url if provider == "openai" else self.anthropic_base_url

    # -- faults --------------------------------------------------------------------------------

    def fail_with(
        self,
        status: int,
        *,
        headers: dict[str, str] | None = None,
        body: Any = None,
        times: int | None = 1,
        path: str = "",
    ) -> None:
        """The next ``times`` matching requests get ``status`` (e.g. 429 + Retry-After, 500)."""
        self.faults.append(
            Fault("status", times=times, path=path, status=status, headers=headers or {}, body=body)
        )

    def delay(self, seconds: float, *, times: int | None = 1, path: str = "") -> None:
        """The next ``times`` matching requests are answered only after ``seconds``."""
        self.faults.append(Fault("delay", times=times, path=path, delay_s=seconds))

    def die_after_page(self, pages: int, *, path: str = "", times: int | None = None) -> None:
        """Drop the connection (no response) for every page after the first ``pages`` pages."""
        self.faults.append(Fault("drop_after_page", times=times, path=path, page=pages))

    def clear_faults(self) -> None:
        with self._lock:
            self.faults.clear()

    def _take_faults(self, path: str, page_index: int) -> list[Fault]:
        taken = []
        with self._lock:
            for fault in list(self.faults):
                if fault.path and fault.path not in path:
                    continue
                if fault.kind == "drop_after_page" and page_index < fault.page:
                    continue
                if any(t.kind == fault.kind for t in taken):
                    continue
                taken.append(fault)
                if fault.times is not None:
                    fault.times -= 1
                    if fault.times <= 0:
                        self.faults.remove(fault)
        return taken

    # -- what was served -----------------------------------------------------------------------

    def group_bys(self, endpoint: str | None = None) -> list[list[str]]:
        """The group_by lists of the requests received (either encoding), in order."""
        return [r["group_by"] for r in self.requests if endpoint in (None, r["endpoint"])]

    def served_totals(self, endpoint: str, by: str = "day") -> dict[Any, dict[str, Any]]:
        """Sum of every metric served, per ``bucket`` (its start) or per UTC ``day``.

        When a bucket was served more than once (re-runs), its latest serving counts.
        """
        latest: dict[datetime, Served] = {}
        with self._lock:
            for one in self.served:
                if one.endpoint == endpoint:
                    latest[one.bucket_start] = one
        totals: dict[Any, dict[str, Any]] = {}
        for start, one in sorted(latest.items()):
            key = start if by == "bucket" else start.date()
            slot = totals.setdefault(key, {})
            for result in one.results:
                for metric in METRICS[endpoint]:
                    value = _get(result, metric)
                    if value is None:
                        continue
                    if endpoint == "anthropic_cost_report":
                        value = Decimal(value)
                    slot[metric] = slot.get(metric, 0) + value
        return totals

    def served_rows(self, endpoint: str) -> int:
        """Number of results (rows) in the latest serving of each bucket."""
        latest: dict[datetime, Served] = {}
        for one in self.served:
            if one.endpoint == endpoint:
                latest[one.bucket_start] = one
        return sum(len(one.results) for one in latest.values())

    # -- the APIs ------------------------------------------------------------------------------

    def _buckets(self, endpoint: str, query: dict[str, str]) -> list[tuple[datetime, datetime]]:
        if endpoint.startswith("openai"):
            start = datetime.fromtimestamp(int(query["start_time"]), UTC).replace(tzinfo=None)
            last_day = self.days[-1] + timedelta(days=1)
            end = (
                datetime.fromtimestamp(int(query["end_time"]), UTC).replace(tzinfo=None)
                if query.get("end_time")
                else _midnight(last_day)
            )
        else:
            start = datetime.fromisoformat(query["starting_at"]).astimezone(UTC)
            start = _midnight(start.date())  # Anthropic snaps to the start of the UTC day
            end = (
                datetime.fromisoformat(query["ending_at"]).astimezone(UTC).replace(tzinfo=None)
                if query.get("ending_at")
                else _midnight(self.days[-1] + timedelta(days=1))
            )
        buckets = []
        cursor = start
        while cursor < end:
            # OpenAI: the first bucket starts at start_time itself, later ones at UTC midnight.
            next_midnight = _midnight(cursor.date() + timedelta(days=1))
            buckets.append(
                (cursor, min(next_midnight, end) if endpoint.startswith("o") else next_midnight)
            )
            cursor = next_midnight
        return buckets

    def respond(
        self, method: str, raw_path: str, headers: Any
    ) -> tuple[int, dict, bytes | None, float]:
        """(status, headers, body or None to drop the connection, delay seconds) for a request."""
        parts = urlsplit(raw_path)
        pairs = parse_qsl(parts.query, keep_blank_values=True)
        group_by = [v for k, v in pairs if k in ("group_by", "group_by[]")]
        query = {k: v for k, v in pairs if k not in ("group_by", "group_by[]")}
        endpoint = OPENAI_PATHS.get(parts.path) or ANTHROPIC_PATHS.get(parts.path)
        page_index, offset = 0, 0
        if sum(1 for k, _ in pairs if k == "page") > 1:
            return 400, {}, self._error(endpoint, 400, "page given more than once"), 0.0
        if query.get("page"):
            try:
                decoded = base64.urlsafe_b64decode(query["page"].removeprefix("page_")).decode()
                offset, page_index = (int(x) for x in decoded.split(":"))
            except (ValueError, UnicodeDecodeError):
                return 400, {}, self._error(endpoint, 400, "invalid page cursor"), 0.0
        record = {
            "method": method,
            "path": parts.path,
            "endpoint": endpoint,
            "pairs": pairs,
            "group_by": group_by,
            "page_index": page_index,
            "headers": {
                k.lower(): v
                for k, v in headers.items()
                if k.lower() not in ("authorization", "x-api-key")
            },
        }
        with self._lock:
            self.requests.append(record)
        if endpoint is None:
            return 404, {}, self._error("openai", 404, f"no route {parts.path}"), 0.0

        auth = self._check_key(endpoint, headers)
        if auth is not None:
            return auth[0], {}, auth[1], 0.0

        delay = 0.0
        for fault in self._take_faults(parts.path, page_index):
            if fault.kind == "drop_after_page":
                return 0, {}, None, 0.0
            if fault.kind == "delay":
                delay = fault.delay_s
            if fault.kind == "status":
                body = (
                    fault.body
                    if fault.body is not None
                    else self._error(endpoint, fault.status, "injected failure")
                )
                return (
                    fault.status,
                    fault.headers,
                    body if isinstance(body, bytes) else dumps(body),
                    delay,
                )

        if endpoint.startswith("anthropic") and headers.get("anthropic-version") != "2023-06-01":
            return (
                400,
                {},
                self._error(endpoint, 400, "anthropic-version header is required"),
                delay,
            )
        bad = [g for g in group_by if g not in GROUPABLE[endpoint]]
        if bad:
            return 400, {}, self._error(endpoint, 400, f"invalid group_by value(s): {bad}"), delay
        if query.get("bucket_width", "1d") != "1d":
            return 400, {}, self._error(endpoint, 400, "this fake serves 1d buckets only"), delay

        limit = int(query.get("limit") or 7)
        if self.page_size:
            limit = min(limit, self.page_size)
        buckets = self._buckets(endpoint, query)
        chosen = buckets[offset : offset + limit]
        data = []
        served = []
        for start, end in chosen:
            results = aggregate(endpoint, self.dataset[endpoint].get(start.date(), []), group_by)
            if endpoint.startswith("openai"):
                bucket = {"object": "bucket", "start_time": _unix(start), "end_time": _unix(end)}
            else:
                bucket = {"starting_at": _rfc3339(start), "ending_at": _rfc3339(end)}
            bucket["results"] = results
            data.append(bucket)
            served.append(
                Served(endpoint, start, end, json.loads(dumps(results), parse_float=Decimal))
            )
        has_more = offset + limit < len(buckets)
        token = None
        if has_more:
            token = (
                "page_"
                + base64.urlsafe_b64encode(f"{offset + limit}:{page_index + 1}".encode()).decode()
            )
        body: dict[str, Any] = {"data": data, "has_more": has_more, "next_page": token}
        if endpoint.startswith("openai"):
            body = {"object": "page", **body}
        with self._lock:
            self.served.extend(served)
        return 200, {"request-id": f"req_{len(self.requests)}"}, dumps(body), delay

    def _error(self, endpoint: str | None, status: int, message: str) -> dict[str, Any]:
        if endpoint and endpoint.startswith("anthropic"):
            kind = {
                400: "invalid_request_error",
                401: "authentication_error",
                403: "permission_error",
                404: "not_found_error",
                429: "rate_limit_error",
                500: "api_error",
                529: "overloaded_error",
            }.get(status, "api_error")
            return {
                "type": "error",
                "error": {"type": kind, "message": message},
                "request_id": "req_1",
            }
        return {
            "error": {
                "message": message,
                "type": "invalid_request_error",
                "param": None,
                "code": None,
            }
        }

    def _check_key(self, endpoint: str, headers: Any) -> tuple[int, dict[str, Any]] | None:
        if endpoint.startswith("openai"):
            given = headers.get("authorization", "")
            key = given.removeprefix("Bearer ").strip() if given.startswith("Bearer ") else ""
            if key in self.openai_keys:
                return None
            shown = key if self.echo_key_in_errors else f"{key[:7]}*****{key[-4:]}"
            if key.startswith("sk-proj-"):
                return 403, {
                    "error": {
                        "message": "You have insufficient permissions for this operation. "
                        f"Missing scopes: api.usage.read. Key: {shown}",
                        "type": "invalid_request_error",
                        "param": None,
                        "code": None,
                    }
                }
            return 401, {
                "error": {
                    "message": f"Incorrect API key provided: {shown}. You can find your API key "
                    "at https://platform.openai.com/account/api-keys.",
                    "type": "invalid_request_error",
                    "param": None,
                    "code": "invalid_api_key",
                }
            }
        key = headers.get("x-api-key", "")
        if key in self.anthropic_keys:
            return None
        suffix = f" ({key})" if self.echo_key_in_errors else ""
        if key.startswith("sk-ant-api"):
            return 403, self._error(
                endpoint, 403, f"This API key does not have permission to use the Admin API{suffix}"
            )
        return 401, self._error(endpoint, 401, f"invalid x-api-key{suffix}")


class _Server(ThreadingHTTPServer):
    daemon_threads = True  # a slow (timed-out) handler must not block shutdown
    allow_reuse_address = True

    def handle_error(self, request: Any, client_address: Any) -> None:
        pass  # clients that time out close their socket; that is expected here


class _Handler(BaseHTTPRequestHandler):
    fake: FakeProviderServer

    def log_message(self, format: str, *args: Any) -> None:  # noqa: A002 - stdlib signature
        pass  # keep test output clean (and never echo request lines)

    def do_GET(self) -> None:  # noqa: N802 - stdlib name
        status, headers, body, delay = self.fake.respond("GET", self.path, self.headers)
        if delay:
            time.sleep(delay)
        if body is None:
            # A dropped connection: no status line at all.
            self.close_connection = True
            return
        if isinstance(body, dict):
            body = dumps(body)
        try:
            self.send_response(status)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(body)))
            for name, value in headers.items():
                self.send_header(name, value)
            self.end_headers()
            self.wfile.write(body)
        except (BrokenPipeError, ConnectionResetError):
            pass
