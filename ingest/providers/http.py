"""A small read-only HTTP client for provider admin APIs: timeouts, retries, paging, safe errors.

Why not httpx's own ``retries=``: it only retries failed connects. Usage endpoints answer 429 under
bursts (Anthropic supports about one request a minute sustained) and occasionally 5xx/529, and both
providers say when to come back (``Retry-After``, ``retry-after-ms``). Every GET here is read-only,
so retrying any of them is safe.

The admin key is the most sensitive thing meterr handles. It is held in an :class:`ApiKey` whose
``str``/``repr`` show only the last 4 characters, it is sent only as a header (never in a URL, so
httpx's request log lines cannot contain it), and every error message built here is scrubbed of it.
"""

from __future__ import annotations

import hashlib
import json
import logging
import random
import time
from collections.abc import Callable, Iterator, Mapping, Sequence
from datetime import UTC, datetime
from decimal import Decimal
from email.utils import parsedate_to_datetime
from typing import Any

import httpx

from ingest.providers.base import ProviderProfile

log = logging.getLogger(__name__)

USER_AGENT = "meterr/0.1 (read-only AI cost analytics)"

# 429 = rate limited; 5xx = transient server trouble; 529 = Anthropic "overloaded"; 408 = the
# server timed the request out. 401/403 are never retried: a wrong key does not get better.
RETRY_STATUSES = frozenset({408, 429, 500, 502, 503, 504, 529})
AUTH_STATUSES = frozenset({401, 403})

# A request longer than this is a stuck server, not a slow report (a day of 1d buckets is small).
DEFAULT_TIMEOUT = httpx.Timeout(connect=10.0, read=60.0, write=30.0, pool=10.0)
# httpx's read timeout is per read: a server trickling a byte now and then never trips it. A
# whole response (headers and body) must arrive within this, or the attempt counts as timed out.
DEFAULT_RESPONSE_DEADLINE_S = 120.0
# A runaway cursor (the same token forever) must end; 10k pages of 31 buckets is 800+ years.
MAX_PAGES = 10_000
# Pages are counted in buckets (formats.md 1.4), and a bucket is sent even for a day without
# usage, so a page with no bucket at all says nothing; a few in a row while has_more stays true is
# a server paging through nothing (new cursors every time, so the cursor checks never fire).
MAX_EMPTY_PAGES_IN_A_ROW = 3
# A server that let a request time out this many times in a row is stalled, not slow: giving up
# then, rather than after every attempt, keeps a provider outage from holding a run for six
# minutes per endpoint (six attempts of 60 s).
MAX_TIMEOUTS = 2


class ApiKey:
    """A secret API key; ``str()`` and ``repr()`` show only ``…`` and its last 4 characters."""

    __slots__ = ("_value",)

    def __init__(self, value: str | ApiKey) -> None:
        raw = value.reveal() if isinstance(value, ApiKey) else value
        if not isinstance(raw, str):
            raise TypeError("an API key must be a string")
        raw = raw.strip()
        # Keys are printable ASCII. Checking here keeps a bad paste from reaching httpx, whose
        # header-encoding error would carry the whole value in its exception object.
        if not raw or not all(33 <= ord(ch) <= 126 for ch in raw):
            raise ValueError("the API key is empty or contains spaces or non-ASCII characters")
        self._value = raw

    def reveal(self) -> str:
        """The key itself, for the one header that needs it."""
        return self._value

    @property
    def last4(self) -> str:
        return self._value[-4:] if len(self._value) >= 12 else ""

    @property
    def masked(self) -> str:
        """``…`` and the last 4 characters (only ``…`` for keys too short to show any)."""
        return "…" + self.last4

    def scrub(self, text: str) -> str:
        """``text`` with every occurrence of the key replaced by its masked form."""
        return text.replace(self._value, self.masked) if text else text

    def __repr__(self) -> str:
        return f"ApiKey('{self.masked}')"

    __str__ = __repr__

    def __eq__(self, other: object) -> bool:
        return isinstance(other, ApiKey) and other._value == self._value

    def __hash__(self) -> int:
        return hash(self._value)

    def __reduce__(self) -> Any:
        # Pickling (multiprocess executors) would copy the key in clear; refuse it.
        raise TypeError("ApiKey cannot be pickled")


def mask_key(key: str | ApiKey) -> str:
    """``…`` + the last 4 characters of ``key``: the only form of a key meterr ever shows."""
    return (key if isinstance(key, ApiKey) else ApiKey(key)).masked


class ProviderError(RuntimeError):
    """A provider API call failed; the message names the provider and never contains the key."""

    def __init__(self, message: str, *, provider: str, status: int | None = None) -> None:
        super().__init__(message)
        self.provider = provider
        self.status = status


class ProviderAuthError(ProviderError):
    """401/403: the key is wrong, revoked, or lacks the admin/usage permission. Not retried."""


class ProviderRequestError(ProviderError):
    """Another 4xx (bad parameter, unknown path) or a response that is not the documented shape."""


class ProviderUnavailableError(ProviderError):
    """Retries ran out on 429/5xx, timeouts or dropped connections. ``stalled``: the server did
    not answer at all, :data:`MAX_TIMEOUTS` times in a row (the same run need not ask it again)."""

    def __init__(
        self, message: str, *, provider: str, status: int | None = None, stalled: bool = False
    ) -> None:
        super().__init__(message, provider=provider, status=status)
        self.stalled = stalled


class ResponseDeadlineExceeded(httpx.ReadTimeout):
    """A response that kept arriving, too slowly: the server answers, so it is not a stall."""


class RetryPolicy:
    """Exponential backoff with full jitter, overridden by the server's own ``Retry-After``."""

    def __init__(
        self,
        *,
        max_attempts: int = 6,
        base_delay_s: float = 1.0,
        max_delay_s: float = 60.0,
    ) -> None:
        if max_attempts < 1:
            raise ValueError("max_attempts must be >= 1")
        self.max_attempts = max_attempts
        self.base_delay_s = base_delay_s
        # Anthropic's SDK ignores Retry-After above 60 s; a longer wait belongs to the next run.
        self.max_delay_s = max_delay_s

    def delay(self, attempt: int, retry_after_s: float | None, rng: Callable[[], float]) -> float:
        """Seconds to wait after failed attempt number ``attempt`` (1-based)."""
        # A server's wait of 0 (or less) is no wait at all: back off as if none were given, as
        # Anthropic's SDK does (it honours only 0 < retry-after <= 60 s).
        if retry_after_s is not None and retry_after_s > 0:
            return min(retry_after_s, self.max_delay_s)
        ceiling = min(self.max_delay_s, self.base_delay_s * (2 ** (attempt - 1)))
        return rng() * ceiling


def retry_after_seconds(headers: Mapping[str, str], *, now: datetime | None = None) -> float | None:
    """The server's requested wait: ``retry-after-ms``, else ``Retry-After`` (seconds or a date)."""
    millis = headers.get("retry-after-ms")
    if millis:
        try:
            value = float(millis)
        except ValueError:
            value = -1.0
        if value >= 0:
            return value / 1000.0
    text = headers.get("retry-after")
    if not text:
        return None
    text = text.strip()
    try:
        value = float(text)
    except ValueError:
        try:
            when = parsedate_to_datetime(text)
        except (TypeError, ValueError, IndexError):
            return None
        if when.tzinfo is None:
            when = when.replace(tzinfo=UTC)
        return max((when - (now or datetime.now(UTC))).total_seconds(), 0.0)
    return value if value >= 0 else None


def _json_body(content: bytes) -> tuple[Any, str | None]:
    """(the parsed body, None), or (None, what is wrong with it and where)."""
    try:
        # parse_float=Decimal: OpenAI's cost amounts are JSON numbers; a float would change
        # their digits before they reach DECIMAL columns.
        return json.loads(content, parse_float=Decimal), None
    except json.JSONDecodeError as exc:
        return None, f"{exc.msg} at line {exc.lineno} column {exc.colno}"
    except UnicodeDecodeError as exc:
        return None, str(exc)


def error_message(response: httpx.Response) -> str:
    """The provider's own error text: ``error.message`` in both OpenAI's and Anthropic's bodies."""
    try:
        body = response.json()
    except (json.JSONDecodeError, UnicodeDecodeError, ValueError):
        body = None
    if isinstance(body, dict):
        err = body.get("error")
        if isinstance(err, dict) and err.get("message"):
            kind = err.get("type") or err.get("code")
            return f"{err['message']} ({kind})" if kind else str(err["message"])
        if isinstance(err, str):
            return err
        if body.get("message"):
            return str(body["message"])
    text = response.text.strip().replace("\n", " ")
    return text[:300] if text else response.reason_phrase or "no error message"


def _as_pairs(
    params: Mapping[str, Any] | Sequence[tuple[str, Any]] | None,
) -> list[tuple[str, str]]:
    """Query parameters as a fresh list of pairs; list values repeat the key, None is dropped."""
    items = params.items() if isinstance(params, Mapping) else (params or ())
    pairs: list[tuple[str, str]] = []
    for key, value in items:
        values = value if isinstance(value, list | tuple) else (value,)
        for one in values:
            if one is None:
                continue
            if isinstance(one, bool):
                one = "true" if one else "false"
            pairs.append((str(key), str(one)))
    return pairs


class ProviderClient:
    """An ``httpx.Client`` for one provider and one key, with retries and pagination.

    ``auth`` is ``"bearer"`` (OpenAI: ``Authorization: Bearer``) or ``"x-api-key"`` (Anthropic).
    ``sleep`` and ``rng`` are injectable so tests never wait and can assert the delays chosen.
    """

    def __init__(
        self,
        profile: ProviderProfile,
        api_key: str | ApiKey,
        base_url: str,
        *,
        auth: str,
        headers: Mapping[str, str] | None = None,
        timeout: httpx.Timeout | float | None = None,
        retry: RetryPolicy | None = None,
        sleep: Callable[[float], None] = time.sleep,
        rng: Callable[[], float] = random.random,
        transport: httpx.BaseTransport | None = None,
        response_deadline_s: float = DEFAULT_RESPONSE_DEADLINE_S,
    ) -> None:
        self.profile = profile
        self.response_deadline_s = response_deadline_s
        self._key = ApiKey(api_key)
        self.base_url = base_url.rstrip("/")
        self.retry = retry or RetryPolicy()
        self.sleep = sleep
        self.rng = rng
        self.requests = 0
        """HTTP requests sent so far (retries included), for the key-use audit."""
        self.last_status: int | None = None
        all_headers = {"User-Agent": USER_AGENT, "Accept": "application/json", **(headers or {})}
        if auth == "bearer":
            all_headers["Authorization"] = f"Bearer {self._key.reveal()}"
        elif auth == "x-api-key":
            all_headers["x-api-key"] = self._key.reveal()
        else:
            raise ValueError(f"unknown auth style {auth!r}")
        self._http = httpx.Client(
            base_url=self.base_url,
            headers=all_headers,
            timeout=timeout if timeout is not None else DEFAULT_TIMEOUT,
            transport=transport,
            # A redirect would resend the key header to wherever it points; report it instead.
            follow_redirects=False,
        )

    @property
    def key_masked(self) -> str:
        return self._key.masked

    def __repr__(self) -> str:
        return f"ProviderClient({self.profile.provider}, {self.base_url}, key={self._key.masked})"

    def __enter__(self) -> ProviderClient:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def close(self) -> None:
        self._http.close()

    def _fail(
        self, cls: type[ProviderError], text: str, status: int | None, **extra: Any
    ) -> ProviderError:
        return cls(self._key.scrub(text), provider=self.profile.provider, status=status, **extra)

    def _auth_error(self, response: httpx.Response) -> ProviderError:
        p = self.profile
        reason = "key not accepted" if response.status_code == 401 else "permission denied"
        text = (
            f"{p.display} rejected the API key {self._key.masked} with HTTP "
            f"{response.status_code} ({reason}): {error_message(response)}. {p.key_help}"
        )
        return self._fail(ProviderAuthError, text, response.status_code)

    def _get_within_deadline(self, path: str, query: list[tuple[str, Any]]) -> httpx.Response:
        """GET ``path``, reading the body chunk by chunk; raises ``httpx.ReadTimeout`` when the
        whole response takes longer than ``response_deadline_s``."""
        deadline = time.monotonic() + self.response_deadline_s
        with self._http.stream("GET", path, params=query) as streamed:
            body = bytearray()
            # Raw (still encoded) bytes: the response built from them decodes them once.
            for chunk in streamed.iter_raw():
                body += chunk
                if time.monotonic() > deadline:
                    raise ResponseDeadlineExceeded(
                        f"the response took longer than {self.response_deadline_s:g} s",
                        request=streamed.request,
                    )
            return httpx.Response(
                streamed.status_code,
                headers=streamed.headers,
                content=bytes(body),
                request=streamed.request,
            )

    def _transport_problem(self, exc: httpx.TransportError) -> str:
        """What went wrong on the wire, with the time waited when it was a timeout."""
        text = str(exc)
        timeout = self._http.timeout
        waited = {
            httpx.ConnectTimeout: ("no connection", timeout.connect),
            httpx.ReadTimeout: ("no data", timeout.read),
            httpx.WriteTimeout: ("could not send", timeout.write),
            httpx.PoolTimeout: ("no free connection", timeout.pool),
        }.get(type(exc))
        if waited and waited[1] is not None and text in ("", "timed out"):
            text = f"{waited[0]} within {waited[1]:g} s"
        return f"{type(exc).__name__}: {text}" if text else type(exc).__name__

    def get_json(
        self, path: str, params: Mapping[str, Any] | Sequence[tuple[str, Any]] | None = None
    ) -> Any:
        """GET ``path`` and return its JSON body (numbers with a fraction become ``Decimal``).

        Retries 408/429/5xx/529, timeouts and dropped connections up to the policy's attempts,
        waiting ``Retry-After`` when the server gives one. Raises :class:`ProviderAuthError` on
        401/403, :class:`ProviderRequestError` on other 4xx, :class:`ProviderUnavailableError` when
        the attempts run out.
        """
        query = _as_pairs(params)
        name = self.profile.display
        attempts = self.retry.max_attempts
        timeouts = 0
        for attempt in range(1, attempts + 1):
            retry_after: float | None = None
            self.requests += 1
            try:
                response = self._get_within_deadline(path, query)
            except httpx.TransportError as exc:
                # Timeouts, refused/dropped connections: the request never got an answer.
                self.last_status = None
                problem = self._transport_problem(exc)
                silent = isinstance(exc, httpx.TimeoutException) and not isinstance(
                    exc, ResponseDeadlineExceeded
                )
                timeouts = timeouts + 1 if silent else 0
                if timeouts >= MAX_TIMEOUTS:
                    raise self._fail(
                        ProviderUnavailableError,
                        f"{name} GET {path} timed out {timeouts} times in a row ({problem}); "
                        "giving up: the server does not answer",
                        None,
                        stalled=True,
                    ) from None
                if attempt == attempts:
                    raise self._fail(
                        ProviderUnavailableError,
                        f"{name} GET {path} failed after {attempts} attempt(s): {problem}",
                        None,
                    ) from None
            else:
                timeouts = 0  # an answer, even an error, is not a stall
                status = response.status_code
                self.last_status = status
                if status < 300:
                    parsed, problem = _json_body(response.content)
                    if problem is None:
                        return parsed
                    # A body cut short or mangled on the way (a proxy, a dropped connection
                    # with a matching length) is worth another request.
                    problem = f"HTTP {status} with a body that is not JSON ({problem})"
                    if attempt == attempts:
                        raise self._fail(
                            ProviderRequestError,
                            f"{name} GET {path} returned {problem}, {attempts} time(s)",
                            status,
                        )
                else:
                    if status in AUTH_STATUSES:
                        raise self._auth_error(response)
                    should_retry = response.headers.get("x-should-retry", "").lower()
                    retryable = status in RETRY_STATUSES or should_retry == "true"
                    if should_retry == "false":
                        retryable = False
                    if not retryable:
                        # A 404 is most often a base URL without its version (".../v1"): name
                        # the URL that was asked, without the query.
                        where = f" at {self.base_url}{path}" if status == 404 else ""
                        raise self._fail(
                            ProviderRequestError,
                            f"{name} GET {path} failed with HTTP {status}{where}: "
                            f"{error_message(response)}",
                            status,
                        )
                    problem = f"HTTP {status}: {error_message(response)}"
                    if attempt == attempts:
                        raise self._fail(
                            ProviderUnavailableError,
                            f"{name} GET {path} failed after {attempts} attempt(s): {problem}",
                            status,
                        )
                    retry_after = retry_after_seconds(response.headers)
            wait = self.retry.delay(attempt, retry_after, self.rng)
            log.warning(
                "%s GET %s: %s; retrying in %.1fs (attempt %d of %d)",
                name,
                path,
                self._key.scrub(problem),
                wait,
                attempt + 1,
                attempts,
            )
            self.sleep(wait)
        raise AssertionError("unreachable")  # pragma: no cover

    def paginate(
        self, path: str, params: Mapping[str, Any] | Sequence[tuple[str, Any]] | None = None
    ) -> Iterator[dict[str, Any]]:
        """Yield every page of a cursor-paginated list, following ``next_page`` while ``has_more``.

        ``params`` is copied, never modified; the cursor goes in a ``page`` parameter.
        """
        base = _as_pairs(params)
        token: str | None = None
        seen: set[str] = set()
        contents: set[str] = set()
        empty_in_a_row = 0
        for _ in range(MAX_PAGES):
            query = [*base, ("page", token)] if token else list(base)
            page = self.get_json(path, query)
            if not isinstance(page, dict) or not isinstance(page.get("data"), list):
                raise self._fail(
                    ProviderRequestError,
                    f"{self.profile.display} GET {path} returned a page without a 'data' list",
                    self.last_status,
                )
            # Pages hold distinct buckets (each has its own start time): a page whose buckets
            # came already is a loop, even when every cursor looks new.
            if page["data"]:
                content = hashlib.sha256(
                    json.dumps(page["data"], sort_keys=True, default=str).encode()
                ).hexdigest()
                if content in contents:
                    raise self._fail(
                        ProviderRequestError,
                        f"{self.profile.display} GET {path}: a page repeated buckets already "
                        "received (the cursor loops); stopping",
                        self.last_status,
                    )
                contents.add(content)
                empty_in_a_row = 0
            else:
                empty_in_a_row += 1
            yield page
            if not page.get("has_more"):
                return
            if empty_in_a_row >= MAX_EMPTY_PAGES_IN_A_ROW:
                raise self._fail(
                    ProviderRequestError,
                    f"{self.profile.display} GET {path}: {empty_in_a_row} pages in a row held no "
                    "buckets while has_more stayed true; stopping",
                    self.last_status,
                )
            token = page.get("next_page")
            if not token or not isinstance(token, str):
                raise self._fail(
                    ProviderRequestError,
                    f"{self.profile.display} GET {path}: has_more is true but next_page is empty",
                    self.last_status,
                )
            if token in seen:
                raise self._fail(
                    ProviderRequestError,
                    f"{self.profile.display} GET {path}: the page cursor repeated; stopping",
                    self.last_status,
                )
            seen.add(token)
        raise self._fail(
            ProviderRequestError,
            f"{self.profile.display} GET {path}: more than {MAX_PAGES} pages; stopping",
            self.last_status,
        )
