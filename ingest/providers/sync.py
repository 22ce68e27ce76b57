"""Pull a window of UTC days from one provider endpoint into ``raw.*``: fetch all, gate, commit.

The order is what keeps a day's data whole:

1. every page of the window is fetched into memory first (a day of 1d buckets is small), with no
   warehouse lock held while waiting on the network;
2. only then is the warehouse opened (``ingest.warehouse.connect`` holds the single-writer lock),
   the rows go into a pending temp table and the great-expectations gate runs;
3. only if the gate passes is the window replaced in one transaction
   (``DELETE ... WHERE usage_date BETWEEN ... AND integration_id = ...`` then ``INSERT``), together
   with the key-use audit row and the integration's last-sync time.

A failure anywhere before step 3 (auth error, server dies mid-pagination, bad shape, gate failure)
leaves the rows already stored for those days untouched, and is recorded in ``meta.key_audit`` and
the integration's ``last_error``.

Providers revise recent buckets (late-arriving usage, cost finalisation), so after the first
backfill each run re-pulls a trailing window of days (:func:`days_to_sync`); replacing the window
makes that re-pull idempotent.
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from pathlib import Path
from typing import Any, Protocol

import duckdb

from ingest import loading, quality
from ingest.paths import MeterrHome, meterr_home
from ingest.providers import anthropic_api, openai_api
from ingest.providers.base import Endpoint, ProviderProfile, buckets_of
from ingest.providers.http import (
    ApiKey,
    ProviderAuthError,
    ProviderClient,
    ProviderError,
    ProviderRequestError,
    ProviderUnavailableError,
)
from ingest.quality import GateResult
from ingest.warehouse import connect

log = logging.getLogger(__name__)

ENDPOINTS: dict[str, Endpoint] = {
    ep.name: ep for ep in (*openai_api.ENDPOINTS, *anthropic_api.ENDPOINTS)
}
PROFILES: dict[str, ProviderProfile] = {
    openai_api.PROFILE.provider: openai_api.PROFILE,
    anthropic_api.PROFILE.provider: anthropic_api.PROFILE,
}

# First run: how far back to pull. Both providers keep at least this much history.
BACKFILL_DAYS = 30
# Later runs: re-pull this many recent days (today included) because providers revise them.
TRAILING_DAYS = 3
# After downtime: how far back one pull goes to fill the days missed since the last sync.
CATCH_UP_DAYS = 90
# Stored error text is for people; a whole HTML error page is not.
MAX_MESSAGE_CHARS = 500

ClientFactory = Callable[[Endpoint, ApiKey, str], ProviderClient]
"""``factory(endpoint, api_key, base_url) -> ProviderClient`` (tests inject timeouts and sleep)."""

META_DDL: tuple[str, ...] = (
    # One row per user-managed integration. Keys are stored only as Fernet ciphertext.
    """CREATE TABLE IF NOT EXISTS meta.integrations (
        integration_id VARCHAR NOT NULL,
        user_id VARCHAR,
        provider VARCHAR NOT NULL,
        name VARCHAR,
        key_ciphertext VARCHAR NOT NULL,
        key_last4 VARCHAR,
        status VARCHAR NOT NULL,
        created_at TIMESTAMP NOT NULL,
        last_sync_at TIMESTAMP,
        last_error VARCHAR
    )""",
    # One row per use of a key (a sync of one endpoint and window, or a key check). Never the key.
    """CREATE TABLE IF NOT EXISTS meta.key_audit (
        requested_at TIMESTAMP NOT NULL,
        integration_id VARCHAR,
        provider VARCHAR NOT NULL,
        endpoint VARCHAR NOT NULL,
        window_start DATE,
        window_end DATE,
        outcome VARCHAR NOT NULL,
        http_status INTEGER,
        requests INTEGER,
        row_count BIGINT,
        key_last4 VARCHAR,
        message VARCHAR
    )""",
    # The newest UTC day each integration x endpoint has been synced through (the CLI's cursor;
    # under Dagster the daily partitions are the cursor).
    """CREATE TABLE IF NOT EXISTS meta.sync_state (
        integration_id VARCHAR NOT NULL,
        endpoint VARCHAR NOT NULL,
        last_synced_day DATE NOT NULL,
        last_synced_at TIMESTAMP NOT NULL
    )""",
)


def ensure_meta_tables(con: duckdb.DuckDBPyConnection) -> None:
    """Create ``meta.integrations``, ``meta.key_audit`` and ``meta.sync_state`` if missing."""
    con.execute("CREATE SCHEMA IF NOT EXISTS meta")
    for ddl in META_DDL:
        con.execute(ddl)


class SyncGateError(RuntimeError):
    """The fetched rows failed the quality gate; nothing was committed."""

    def __init__(self, result: SyncResult) -> None:
        gate = result.gate
        reason = gate.reason() if gate else "failed the quality gate"
        super().__init__(
            f"{result.endpoint} {result.first_day}..{result.last_day} for {result.integration_id} "
            f"{reason}"
        )
        self.result = result


@dataclass
class SyncResult:
    """What one sync of one endpoint x window x integration did."""

    endpoint: str
    integration_id: str
    first_day: date
    last_day: date
    pages: int = 0
    requests: int = 0
    rows: int = 0
    dropped_rows: int = 0
    """Rows whose bucket fell outside the window (not this window's to replace); not loaded."""
    uncovered_days: int = 0
    """Days of the window the response has no bucket for: their stored rows were kept."""
    first_uncovered_day: date | None = None
    """The first of those days: the integration counts as pulled only up to the day before it,
    so the next pull asks for it again."""
    committed: bool = False
    http_status: int | None = None
    gate: GateResult | None = None
    error: str | None = None
    outcome: str = "ok"

    @property
    def days(self) -> list[date]:
        return [
            self.first_day + timedelta(n) for n in range((self.last_day - self.first_day).days + 1)
        ]


class _IntegrationLike(Protocol):
    integration_id: str
    user_id: str | None
    provider: str
    api_key: Any


def get_endpoint(endpoint: str | Endpoint) -> Endpoint:
    """The endpoint called ``endpoint`` (its raw table name), or the endpoint itself."""
    if isinstance(endpoint, Endpoint):
        return endpoint
    try:
        return ENDPOINTS[endpoint]
    except KeyError:
        raise KeyError(f"unknown endpoint {endpoint!r}; known: {', '.join(ENDPOINTS)}") from None


def endpoints_for(provider: str) -> tuple[Endpoint, ...]:
    """Every endpoint meterr pulls for ``provider`` (``openai`` or ``anthropic``)."""
    found = tuple(ep for ep in ENDPOINTS.values() if ep.provider == provider)
    if not found:
        raise KeyError(f"unknown provider {provider!r}; known: {', '.join(PROFILES)}")
    return found


def base_url_for(provider: str, environ: Mapping[str, str] | None = None) -> str:
    """``$OPENAI_BASE_URL`` / ``$ANTHROPIC_BASE_URL`` if set, else the provider's public URL."""
    profile = PROFILES[provider]
    env = os.environ if environ is None else environ
    return (env.get(profile.base_url_env_var) or "").strip() or profile.default_base_url


def days_to_sync(
    last_synced: date | None,
    today: date,
    *,
    backfill_days: int = BACKFILL_DAYS,
    trailing_days: int = TRAILING_DAYS,
) -> list[date]:
    """The UTC days to pull, oldest first.

    First run (``last_synced`` is None): the last ``backfill_days`` days up to and including today.
    Later runs: every day after ``last_synced`` (a gap after downtime is filled, never skipped) and
    at least the trailing ``trailing_days`` days, because providers revise recent buckets.
    """
    if backfill_days < 1 or trailing_days < 1:
        raise ValueError("backfill_days and trailing_days must be >= 1")
    if last_synced is None:
        start = today - timedelta(days=backfill_days - 1)
    else:
        start = min(last_synced + timedelta(days=1), today - timedelta(days=trailing_days - 1))
    return [start + timedelta(days=n) for n in range((today - start).days + 1)]


def pull_start(
    last_synced: Iterable[date | None],
    today: date,
    *,
    backfill_days: int = BACKFILL_DAYS,
    trailing_days: int = TRAILING_DAYS,
    catch_up_days: int = CATCH_UP_DAYS,
) -> date:
    """The first UTC day of one pull covering endpoints last synced on ``last_synced`` (None:
    never): the earliest :func:`days_to_sync` start among them, so a gap after downtime is filled
    for every endpoint, but no more than ``catch_up_days`` back (an older gap is a backfill of
    the raw API assets' partitions in Dagster). ``last_synced`` empty: the trailing days."""
    starts = [
        days_to_sync(day, today, backfill_days=backfill_days, trailing_days=trailing_days)[0]
        for day in last_synced
    ]
    earliest = min(starts, default=today - timedelta(days=trailing_days - 1))
    return max(earliest, today - timedelta(days=catch_up_days - 1))


def contiguous_windows(days: Iterable[date]) -> list[tuple[date, date]]:
    """Runs of consecutive days as ``(first, last)`` windows (one API pagination each)."""
    windows: list[tuple[date, date]] = []
    for day in sorted(set(days)):
        if windows and day == windows[-1][1] + timedelta(days=1):
            windows[-1] = (windows[-1][0], day)
        else:
            windows.append((day, day))
    return windows


def _sql_str(value: str) -> str:
    return "'" + value.replace("'", "''") + "'"


def _utcnow() -> datetime:
    return datetime.now(UTC).replace(tzinfo=None)


def _as_home(home: MeterrHome | str | os.PathLike[str]) -> MeterrHome:
    return home if isinstance(home, MeterrHome) else meterr_home(home)


def default_client_factory(endpoint: Endpoint, api_key: ApiKey, base_url: str) -> ProviderClient:
    """The production client: default timeouts, retries with real sleeps."""
    return endpoint.make_client(api_key, base_url)


def _text(value: Any) -> str | None:
    # Everything reaches DuckDB as text and is cast there: exact for Decimal (no float on the way),
    # and pandas cannot turn a nullable integer column into floats.
    if value is None:
        return None
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, Decimal):
        return format(value, "f")
    if isinstance(value, datetime):
        return value.isoformat(sep=" ")
    if isinstance(value, date):
        return value.isoformat()
    return str(value)


def insert_rows(
    con: duckdb.DuckDBPyConnection,
    endpoint: Endpoint,
    pending: str,
    rows: Sequence[dict[str, Any]],
    *,
    batch_digest: str,
    loaded_at: datetime,
) -> int:
    """Insert flattened ``rows`` into ``pending`` with the lineage columns; returns the count.

    ``_file_sha256`` holds ``batch_digest`` (the SHA-256 of the fetched pages), ``_row_number`` the
    row's position in the batch.
    """
    if not rows:
        return 0
    columns = endpoint.table.columns
    # DECIMAL(38,12) keeps 12 decimals; say so if a provider ever sends more (DuckDB would round).
    fine = sum(
        1
        for row in rows
        for value in row.values()
        if isinstance(value, Decimal) and value.as_tuple().exponent < -12  # type: ignore[operator]
    )
    if fine:
        log.warning(
            "%s: %d amount(s) have more than 12 decimals and were rounded", endpoint.name, fine
        )
    # Imported here: a run that pulls no API page never loads pandas in this process.
    import pandas as pd

    frame = pd.DataFrame(
        [[_text(row.get(name)) for name in columns] for row in rows],
        columns=list(columns),
        dtype=object,
    )
    view = f"_rows_{endpoint.name}"
    con.register(view, frame)
    try:
        casts = ", ".join(f'CAST("{name}" AS {dtype})' for name, dtype in columns.items())
        # Lineage columns not named here (``_origin``) take the pending table's default ('api').
        names = ("_file_sha256", "_row_number", "_loaded_at", *columns)
        target = ", ".join(f'"{name}"' for name in names)
        con.execute(
            f"INSERT INTO {pending} ({target}) "
            f"SELECT ?, CAST(row_number() OVER () AS BIGINT), CAST(? AS TIMESTAMP), {casts} "
            f"FROM {view}",
            [batch_digest, _text(loaded_at)],
        )
    finally:
        con.unregister(view)
    return len(rows)


def duplicate_grain(con: duckdb.DuckDBPyConnection, endpoint: Endpoint, table: str) -> str | None:
    """A failure text if two rows of ``table`` share integration + grain (NULLs equal), else None.

    A repeated bucket result (a provider paging bug, or a bucket served twice) would double count.
    Works on a pending batch and on ``raw.<endpoint>`` itself (for an asset check).
    """
    cols = ", ".join(f'"{c}"' for c in ("integration_id", *endpoint.grain))
    dupes = con.execute(
        f"SELECT {cols}, count(*) AS n FROM {table} GROUP BY ALL HAVING count(*) > 1 LIMIT 3"
    ).fetchall()
    if not dupes:
        return None
    shown = "; ".join(str(tuple(str(v) for v in row[:-1])) for row in dupes)
    return f"duplicate rows for grain ({', '.join(endpoint.grain)}): {shown}"


def _digest(pages: Sequence[Any]) -> str:
    canonical = json.dumps(pages, sort_keys=True, separators=(",", ":"), default=str)
    return hashlib.sha256(canonical.encode("utf-8")).hexdigest()


def _short(message: str) -> str:
    message = " ".join(message.split())
    return message if len(message) <= MAX_MESSAGE_CHARS else message[: MAX_MESSAGE_CHARS - 1] + "…"


def audit_statement(
    *,
    requested_at: datetime,
    integration_id: str | None,
    provider: str,
    endpoint: str,
    outcome: str,
    http_status: int | None,
    message: str | None,
    key_last4: str | None,
    window: tuple[date, date] | None = None,
    requests: int | None = None,
    row_count: int | None = None,
) -> tuple[str, list[Any]]:
    """The INSERT of one ``meta.key_audit`` row, as ``(sql, params)``; no key, ever."""
    if outcome not in ("ok", "auth_error", "error"):
        raise ValueError(f"bad audit outcome {outcome!r}")
    sql = (
        "INSERT INTO meta.key_audit (requested_at, integration_id, provider, endpoint, "
        "window_start, window_end, outcome, http_status, requests, row_count, key_last4, message) "
        "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)"
    )
    first, last = window if window else (None, None)
    params = [
        requested_at,
        integration_id,
        provider,
        endpoint,
        first,
        last,
        outcome,
        http_status,
        requests,
        row_count,
        key_last4,
        _short(message) if message else None,
    ]
    return sql, params


def _record_failure(
    home: MeterrHome,
    result: SyncResult,
    endpoint: Endpoint,
    key: ApiKey,
    requested_at: datetime,
) -> None:
    """Write the failed use to the audit and ``last_error``; never masks the original failure."""
    message = f"{endpoint.name}: {result.error}"
    try:
        with connect(home) as con:
            ensure_meta_tables(con)
            sql, params = audit_statement(
                requested_at=requested_at,
                integration_id=result.integration_id,
                provider=endpoint.provider,
                endpoint=endpoint.name,
                outcome=result.outcome,
                http_status=result.http_status,
                message=result.error,
                key_last4=key.last4,
                window=(result.first_day, result.last_day),
                requests=result.requests,
                row_count=result.rows,
            )
            con.execute(sql, params)
            con.execute(
                "UPDATE meta.integrations SET last_error = ? WHERE integration_id = ?",
                [_short(message), result.integration_id],
            )
    except Exception as exc:  # noqa: BLE001 - the sync's own error is the one to raise
        log.error("could not record the failed sync of %s: %s", endpoint.name, exc)


# The cost endpoints' currency columns (OpenAI's amount.currency, Anthropic's currency).
CURRENCY_COLUMNS = ("amount_currency", "currency")


def _warn_of_other_currencies(
    ep: Endpoint, first_day: date, last_day: date, rows: Sequence[dict[str, Any]]
) -> None:
    """Say so when cost lines come in a currency other than USD: they are kept in raw as
    received, but no mart counts them as billed cost (meterr does not convert currencies)."""
    others: dict[str, int] = {}
    for row in rows:
        for column in CURRENCY_COLUMNS:
            currency = str(row.get(column) or "").strip().upper()
            if currency and currency != "USD":
                others[currency] = others.get(currency, 0) + 1
    if others:
        listed = ", ".join(f"{n} in {c}" for c, n in sorted(others.items()))
        log.warning(
            "%s %s..%s: cost lines not in USD (%s): kept in raw, not counted as billed cost "
            "(meterr does not convert currencies)",
            ep.name,
            first_day,
            last_day,
            listed,
        )


def _window_pages(
    ep: Endpoint, client: ProviderClient, first_day: date, last_day: date, limit: int | None
) -> Iterator[dict[str, Any]]:
    """Every page of ``ep`` for the window, stopping with :class:`ProviderRequestError` at a page
    that says there is more although all its buckets start after the window: the server ignores
    the requested end, and would page on into the future for ever (new cursors, new buckets, so
    the client's loop checks never fire). A stray bucket on the last page is only dropped."""
    for page in ep.pages(client, first_day, last_day, limit=limit):
        buckets = buckets_of(page) if page.get("has_more") else []
        if buckets:
            days = [ep.bucket_day(bucket) for bucket in buckets]
            if min(days) > last_day:
                raise ProviderRequestError(
                    f"{ep.profile.display} GET {ep.path}: a page of buckets from {min(days)} on, "
                    f"after the requested window {first_day}..{last_day}, says there is more "
                    "(the server does not honour the window's end); stopping",
                    provider=ep.provider,
                    status=client.last_status,
                )
        yield page


def sync_window(
    home: MeterrHome | str | os.PathLike[str],
    endpoint: str | Endpoint,
    first_day: date,
    last_day: date,
    *,
    api_key: str | ApiKey,
    integration_id: str,
    user_id: str | None = None,
    base_url: str | None = None,
    client_factory: ClientFactory | None = None,
    limit: int | None = None,
    now: datetime | None = None,
) -> SyncResult:
    """Fetch every page of ``endpoint`` for UTC days ``first_day``..``last_day`` and replace them.

    Replaces exactly the rows of ``raw.<endpoint>`` with this ``integration_id`` and a
    ``usage_date`` in the window that the response has a bucket for (a day it has none for keeps
    its rows); re-running a window changes nothing unless the provider's data changed.
    Raises the provider error (:class:`ProviderAuthError`, ...) or :class:`SyncGateError`; in both
    cases nothing in ``raw`` changed and the failure is in ``meta.key_audit``.
    """
    ep = get_endpoint(endpoint)
    home = _as_home(home)
    key = ApiKey(api_key)
    if last_day < first_day:
        raise ValueError(f"empty window {first_day}..{last_day}")
    requested_at = now or _utcnow()
    result = SyncResult(ep.name, integration_id, first_day, last_day)
    factory = client_factory or default_client_factory
    url = base_url or ep.profile.default_base_url

    # 1. Fetch everything first: the writer lock is not held while waiting on the provider.
    client = factory(ep, key, url)
    try:
        with client:
            pages = list(_window_pages(ep, client, first_day, last_day, limit))
            result.pages = len(pages)
            rows = ep.rows(
                pages,
                extracted_at=requested_at,
                integration_id=integration_id,
                integration_user_id=user_id,
            )
            covered = sorted(day for day in ep.covered_days(pages) if first_day <= day <= last_day)
    except Exception as exc:
        result.requests = client.requests
        result.http_status = getattr(exc, "status", None) or client.last_status
        result.outcome = "auth_error" if isinstance(exc, ProviderAuthError) else "error"
        result.error = key.scrub(str(exc) or type(exc).__name__)
        _record_failure(home, result, ep, key, requested_at)
        raise
    result.requests = client.requests
    result.http_status = client.last_status

    # Only this window's days are ours to replace; a stray bucket would duplicate on the next run.
    kept = [row for row in rows if first_day <= row["usage_date"] <= last_day]
    result.dropped_rows = len(rows) - len(kept)
    if result.dropped_rows:
        log.warning(
            "%s: dropped %d row(s) outside %s..%s",
            ep.name,
            result.dropped_rows,
            first_day,
            last_day,
        )
    result.rows = len(kept)
    _warn_of_other_currencies(ep, first_day, last_day, kept)
    # The APIs return a bucket for every day of the window, with `results: []` when there was no
    # usage. A day without a bucket is a response that stopped short (a proxy, an outage, a
    # truncated page), not a day of no usage: its stored rows stay as they are.
    found = set(covered)
    uncovered = [day for day in result.days if day not in found]
    result.uncovered_days = len(uncovered)
    result.first_uncovered_day = uncovered[0] if uncovered else None
    if uncovered:
        log.warning(
            "%s %s..%s: the response has no bucket for %d day(s) from %s; their stored rows are "
            "kept and they are asked for again on the next pull",
            ep.name,
            first_day,
            last_day,
            result.uncovered_days,
            uncovered[0],
        )

    # 2. + 3. Pending table, gate, and one atomic replace of the window.
    with connect(home) as con:
        ensure_meta_tables(con)
        pending = loading.create_pending(con, ep.table, origin="api")
        try:
            insert_rows(con, ep, pending, kept, batch_digest=_digest(pages), loaded_at=_utcnow())
        except (duckdb.ConversionException, duckdb.OutOfRangeException) as exc:
            # A count or amount beyond its column's type (a broken or hostile response): the
            # window is refused like any gate failure, named and audited, not a raw SQL error.
            first_line = str(exc).splitlines()[0]
            gate = quality.GateResult(failures=[f"a value does not fit its column: {first_line}"])
        else:
            gate = quality.validate(con, ep.table, loading.numbered_rows(pending))
            dupes = duplicate_grain(con, ep, pending)
            if dupes:
                gate.failures.append(dupes)
        result.gate = gate
        if not gate.passed:
            result.outcome = "error"
            result.error = gate.reason()
        else:
            previous = con.execute(
                "SELECT max(last_synced_day) FROM meta.sync_state "
                "WHERE integration_id = ? AND endpoint = ?",
                [integration_id, ep.name],
            ).fetchone()[0]
            if result.first_uncovered_day is not None:
                # Pulled only up to the first day the response lacks, even if an earlier pull
                # got further: the next pull starts there and fills the gap.
                through = result.first_uncovered_day - timedelta(days=1)
            else:
                through = max(previous, last_day) if previous else last_day
            audit = audit_statement(
                requested_at=requested_at,
                integration_id=integration_id,
                provider=ep.provider,
                endpoint=ep.name,
                outcome="ok",
                http_status=result.http_status,
                message=f"{result.rows} row(s), {result.pages} page(s)"
                + (
                    f", no bucket for {result.uncovered_days} day(s) from "
                    f"{result.first_uncovered_day}: kept as stored, asked for again next pull"
                    if result.uncovered_days
                    else ""
                ),
                key_last4=key.last4,
                window=(first_day, last_day),
                requests=result.requests,
                row_count=result.rows,
            )
            days = ", ".join(f"DATE '{day.isoformat()}'" for day in covered) or "NULL"
            window_sql = f"usage_date IN ({days}) AND integration_id = {_sql_str(integration_id)}"
            loading.commit_batch(
                con,
                ep.table,
                pending,
                replace_where=window_sql,
                extra_statements=(
                    audit,
                    (
                        "UPDATE meta.integrations SET last_sync_at = ?, last_error = NULL "
                        "WHERE integration_id = ?",
                        [requested_at, integration_id],
                    ),
                    (
                        "DELETE FROM meta.sync_state WHERE integration_id = ? AND endpoint = ?",
                        [integration_id, ep.name],
                    ),
                    (
                        "INSERT INTO meta.sync_state VALUES (?, ?, ?, ?)",
                        [integration_id, ep.name, through, requested_at],
                    ),
                ),
            )
            result.committed = True
            log.info(
                "%s %s..%s for %s: %d row(s) from %d page(s)",
                ep.name,
                first_day,
                last_day,
                integration_id,
                result.rows,
                result.pages,
            )
            return result
    _record_failure(home, result, ep, key, requested_at)
    raise SyncGateError(result)


def sync_day(
    home: MeterrHome | str | os.PathLike[str],
    endpoint: str | Endpoint,
    day: date,
    *,
    api_key: str | ApiKey,
    integration_id: str,
    user_id: str | None = None,
    base_url: str | None = None,
    client_factory: ClientFactory | None = None,
    now: datetime | None = None,
) -> SyncResult:
    """Fetch and replace one UTC day (a Dagster daily partition); see :func:`sync_window`."""
    return sync_window(
        home,
        endpoint,
        day,
        day,
        api_key=api_key,
        integration_id=integration_id,
        user_id=user_id,
        base_url=base_url,
        client_factory=client_factory,
        now=now,
    )


def last_synced_days(
    home: MeterrHome | str | os.PathLike[str], integration_id: str
) -> dict[str, date]:
    """Endpoint name -> newest UTC day synced for ``integration_id`` (absent: never synced)."""
    home = _as_home(home)
    if not Path(home.warehouse).exists():
        return {}
    with connect(home) as con:
        ensure_meta_tables(con)
        found = con.execute(
            "SELECT endpoint, max(last_synced_day) FROM meta.sync_state "
            "WHERE integration_id = ? GROUP BY endpoint",
            [integration_id],
        ).fetchall()
    return {name: day for name, day in found}


def verify_key(
    provider: str,
    api_key: str | ApiKey,
    base_url: str | None = None,
    *,
    client_factory: ClientFactory | None = None,
    today: date | None = None,
) -> int | None:
    """Test a key with ONE read-only call (today's usage, one bucket); returns the HTTP status.

    Raises :class:`ProviderAuthError` with what kind of key is needed when the provider refuses it.
    """
    ep = next(e for e in endpoints_for(provider) if e.verify_call)
    key = ApiKey(api_key)
    day = today or _utcnow().date()
    client = (client_factory or default_client_factory)(
        ep, key, base_url or ep.profile.default_base_url
    )
    with client:
        pages = ep.pages(client, day, day, limit=1)
        try:
            next(iter(pages))
        finally:
            close = getattr(pages, "close", None)
            if close:
                close()
    return client.last_status


def sync_integration(
    home: MeterrHome | str | os.PathLike[str],
    integration: _IntegrationLike,
    *,
    today: date | None = None,
    base_url: str | None = None,
    client_factory: ClientFactory | None = None,
    endpoints: Sequence[str | Endpoint] | None = None,
    backfill_days: int = BACKFILL_DAYS,
    trailing_days: int = TRAILING_DAYS,
) -> list[SyncResult]:
    """Sync every endpoint of one integration over :func:`days_to_sync` (the CLI's ``meterr run``).

    Never raises for a provider or gate failure: each endpoint's :class:`SyncResult` carries its
    ``error``. After an auth error the integration's other endpoints are skipped (same key), and
    after a server that does not answer at all (same server).
    """
    home = _as_home(home)
    day = today or _utcnow().date()
    chosen = (
        [get_endpoint(e) for e in endpoints] if endpoints else endpoints_for(integration.provider)
    )
    done = last_synced_days(home, integration.integration_id)
    results: list[SyncResult] = []
    for ep in chosen:
        days = days_to_sync(
            done.get(ep.name), day, backfill_days=backfill_days, trailing_days=trailing_days
        )
        for first, last in contiguous_windows(days):
            try:
                results.append(
                    sync_window(
                        home,
                        ep,
                        first,
                        last,
                        api_key=integration.api_key,
                        integration_id=integration.integration_id,
                        user_id=integration.user_id,
                        base_url=base_url,
                        client_factory=client_factory,
                    )
                )
            except SyncGateError as exc:
                results.append(exc.result)
            except (ProviderError, ValueError) as exc:
                failed = SyncResult(ep.name, integration.integration_id, first, last)
                failed.error = str(exc)
                failed.outcome = "auth_error" if isinstance(exc, ProviderAuthError) else "error"
                failed.http_status = getattr(exc, "status", None)
                results.append(failed)
                if isinstance(exc, ProviderAuthError):
                    log.error("%s", exc)
                    return results
                if isinstance(exc, ProviderUnavailableError) and exc.stalled:
                    # The server does not answer: the other endpoints would each wait it out.
                    log.error(
                        "%s %s..%s: %s; its other endpoints skipped", ep.name, first, last, exc
                    )
                    return results
                log.error("%s %s..%s: %s", ep.name, first, last, exc)
    return results


__all__ = [
    "BACKFILL_DAYS",
    "ENDPOINTS",
    "PROFILES",
    "TRAILING_DAYS",
    "ClientFactory",
    "SyncGateError",
    "SyncResult",
    "base_url_for",
    "contiguous_windows",
    "days_to_sync",
    "default_client_factory",
    "duplicate_grain",
    "endpoints_for",
    "ensure_meta_tables",
    "get_endpoint",
    "insert_rows",
    "last_synced_days",
    "pull_start",
    "sync_day",
    "sync_integration",
    "sync_window",
    "verify_key",
]
