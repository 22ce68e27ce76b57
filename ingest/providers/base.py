"""What every provider API endpoint declares: who it talks to, which raw table it fills, its grain.

A provider module (``openai_api``, ``anthropic_api``) builds one :class:`Endpoint` per API path;
``ingest.providers.sync`` works from these alone (fetch pages, flatten, gate, commit).
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from datetime import UTC, date, datetime
from decimal import Decimal, InvalidOperation
from typing import TYPE_CHECKING, Any

from ingest.formats.base import RawTable

if TYPE_CHECKING:
    from ingest.providers.http import ApiKey, ProviderClient


@dataclass(frozen=True)
class ProviderProfile:
    """How to talk to one provider and what to tell a user whose key it rejects."""

    provider: str
    """Lower-case provider name (``openai``, ``anthropic``), as in ``KNOWN_PROVIDERS``."""
    display: str
    """Name for messages (``OpenAI``)."""
    default_base_url: str
    key_env_var: str
    """The environment variable of the default (admin) key, e.g. ``OPENAI_ADMIN_KEY``."""
    base_url_env_var: str
    key_help: str
    """What kind of key is needed and where to create it (shown on 401/403)."""


@dataclass(frozen=True)
class Endpoint:
    """One read-only API endpoint and the raw table its rows land in (the table's name is its name).

    ``pages(client, first_day, last_day)`` yields every page of the UTC-day window (both ends
    inclusive); ``flatten(pages, extracted_at=..., integration_id=..., integration_user_id=...)``
    turns them into row dicts keyed by the raw table's columns.
    """

    name: str
    profile: ProviderProfile
    path: str
    table: RawTable
    grain: tuple[str, ...]
    """Columns that identify one row within a batch (NULLs equal); a repeat is a gate failure."""
    make_client: Callable[..., ProviderClient]
    pages: Callable[..., Iterator[dict[str, Any]]]
    """``pages(client, first_day, last_day, *, limit=None)``: every page of the window."""
    flatten: Callable[..., list[dict[str, Any]]]
    bucket_day: Callable[[dict[str, Any]], date]
    """The UTC day of one ``data`` bucket of a page."""
    verify_call: bool = False
    """True for the one endpoint per provider used to test a newly added key."""

    @property
    def provider(self) -> str:
        return self.profile.provider

    def rows(
        self,
        pages: Iterable[dict[str, Any]],
        *,
        extracted_at: datetime,
        integration_id: str,
        integration_user_id: str | None = None,
    ) -> list[dict[str, Any]]:
        """Flatten ``pages`` into this endpoint's raw rows."""
        return self.flatten(
            pages,
            extracted_at=extracted_at,
            integration_id=integration_id,
            integration_user_id=integration_user_id,
        )

    def covered_days(self, pages: Iterable[dict[str, Any]]) -> set[date]:
        """The days ``pages`` hold a bucket for, with or without results: the days the response
        speaks for (an empty bucket says "no usage"; a missing one says nothing)."""
        return {self.bucket_day(bucket) for page in pages for bucket in buckets_of(page)}

    def client(self, api_key: str | ApiKey, base_url: str | None = None, **kwargs: Any) -> Any:
        """A :class:`ProviderClient` for this endpoint's provider (default base URL if None)."""
        return self.make_client(api_key, base_url or self.profile.default_base_url, **kwargs)


class ResponseShapeError(ValueError):
    """A 200 response that does not have the documented shape (a field of the wrong type)."""


def as_int(value: Any, field: str) -> int | None:
    """A JSON integer field (None stays None); refuses booleans and fractional numbers."""
    if value is None:
        return None
    if isinstance(value, bool):
        raise ResponseShapeError(f"{field} is a boolean, expected an integer")
    if isinstance(value, int):
        return value
    if isinstance(value, Decimal) and value == value.to_integral_value():
        return int(value)
    if isinstance(value, str) and value.strip().lstrip("-").isdigit():
        return int(value.strip())
    raise ResponseShapeError(f"{field} is {value!r}, expected an integer")


def as_decimal(value: Any, field: str) -> Decimal | None:
    """A number or numeric string as an exact ``Decimal`` (never through float)."""
    if value is None:
        return None
    if isinstance(value, bool):
        raise ResponseShapeError(f"{field} is a boolean, expected a number")
    if isinstance(value, Decimal | int):
        return Decimal(value)
    if isinstance(value, str):
        try:
            parsed = Decimal(value.strip())
        except InvalidOperation:
            parsed = None
        if parsed is not None and parsed.is_finite():
            return parsed
    raise ResponseShapeError(f"{field} is {value!r}, expected a number")


def as_str(value: Any, field: str) -> str | None:
    """A nullable string dimension (numbers are tolerated and kept as text)."""
    if value is None:
        return None
    if isinstance(value, str):
        return value
    if isinstance(value, int | Decimal) and not isinstance(value, bool):
        return str(value)
    raise ResponseShapeError(f"{field} is {value!r}, expected a string")


def as_bool(value: Any, field: str) -> bool | None:
    if value is None or isinstance(value, bool):
        return value
    raise ResponseShapeError(f"{field} is {value!r}, expected true/false")


def from_unix(value: Any, field: str) -> datetime:
    """A Unix-seconds timestamp as a naive UTC ``datetime`` (DuckDB TIMESTAMP, session in UTC)."""
    seconds = as_int(value, field)
    if seconds is None:
        raise ResponseShapeError(f"{field} is missing")
    return datetime.fromtimestamp(seconds, UTC).replace(tzinfo=None)


def from_rfc3339(value: Any, field: str) -> datetime:
    """An RFC 3339 timestamp (``2025-08-01T00:00:00Z``) as a naive UTC ``datetime``."""
    if not isinstance(value, str):
        raise ResponseShapeError(f"{field} is {value!r}, expected an RFC 3339 timestamp")
    try:
        parsed = datetime.fromisoformat(value.strip())
    except ValueError:
        raise ResponseShapeError(f"{field} is {value!r}, expected an RFC 3339 timestamp") from None
    if parsed.tzinfo is None:
        parsed = parsed.replace(tzinfo=UTC)
    return parsed.astimezone(UTC).replace(tzinfo=None)


def day_start(day: date) -> datetime:
    """Midnight UTC at the start of ``day`` (aware)."""
    return datetime(day.year, day.month, day.day, tzinfo=UTC)


def buckets_of(page: dict[str, Any]) -> list[dict[str, Any]]:
    """The ``data`` buckets of one page, checked to be objects with a ``results`` list."""
    buckets = page.get("data")
    if not isinstance(buckets, list):
        raise ResponseShapeError("page has no 'data' list")
    for bucket in buckets:
        if not isinstance(bucket, dict) or not isinstance(bucket.get("results", []), list):
            raise ResponseShapeError("a bucket is not an object with a 'results' list")
    return buckets
