"""User-managed provider integrations ("My integrations"): each user's own admin keys, encrypted.

``meta.integrations`` holds one row per integration: who owns it, which provider, a name, the key
as Fernet ciphertext (never in clear) with its last 4 characters for display, enabled/disabled, and
the last sync time and error. The Fernet key comes from ``$METERR_SECRET_KEY``; without it meterr
refuses to store a key. Decrypted keys exist only in memory, inside :class:`ApiKey` objects whose
``repr`` shows ``…`` + the last 4 characters.

Keys in the environment (``OPENAI_ADMIN_KEY``, ``ANTHROPIC_ADMIN_KEY``) act as one default
integration per provider (``env-openai``, ``env-anthropic``, no user) and are never stored.
"""

from __future__ import annotations

import logging
import os
import secrets
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, date, datetime
from decimal import Decimal
from typing import Any

import duckdb
from cryptography.fernet import Fernet, InvalidToken, MultiFernet

from ingest.paths import MeterrHome, meterr_home
from ingest.providers.http import ApiKey, ProviderAuthError, ProviderError
from ingest.providers.sync import (
    PROFILES,
    audit_statement,
    base_url_for,
    endpoints_for,
    ensure_meta_tables,
    verify_key,
)
from ingest.warehouse import connect

log = logging.getLogger(__name__)

SECRET_ENV = "METERR_SECRET_KEY"
GENERATE_SECRET = (
    'python -c "from cryptography.fernet import Fernet; print(Fernet.generate_key().decode())"'
)
STATUSES = ("enabled", "disabled")
ENV_INTEGRATION_IDS = {"openai": "env-openai", "anthropic": "env-anthropic"}

KeyVerifier = Callable[[str, ApiKey], Any]
"""``verify(provider, api_key)``: one read-only call that raises if the provider refuses the key."""


class IntegrationError(RuntimeError):
    """A request about integrations that cannot be done; the message says why."""


class IntegrationSecretError(IntegrationError):
    """``METERR_SECRET_KEY`` is missing, malformed, or not the key used to store them."""


class IntegrationNotFoundError(IntegrationError):
    """No integration with that id (for that user)."""


@dataclass(frozen=True)
class Integration:
    """One integration as shown to people: never a key, only ``…`` + its last 4 characters."""

    integration_id: str
    user_id: str | None
    provider: str
    name: str | None
    status: str
    key_last4: str | None
    created_at: datetime | None
    last_sync_at: datetime | None
    last_error: str | None
    month_cost_usd: Decimal | None = None
    """This month's ``total_cost_usd`` from ``marts.fct_usage_daily`` (None: no marts yet)."""
    source: str = "stored"
    """``stored`` (meta.integrations) or ``env`` (an admin key from the environment)."""

    @property
    def key_display(self) -> str:
        return "…" + (self.key_last4 or "")


@dataclass(frozen=True)
class EnabledIntegration:
    """An enabled integration with its decrypted key, for a sync (in memory only)."""

    integration_id: str
    user_id: str | None
    provider: str
    name: str | None
    api_key: ApiKey = field(repr=False)


def _env(environ: Mapping[str, str] | None) -> Mapping[str, str]:
    return os.environ if environ is None else environ


def _as_home(home: MeterrHome | str | os.PathLike[str]) -> MeterrHome:
    return home if isinstance(home, MeterrHome) else meterr_home(home)


def _utcnow() -> datetime:
    return datetime.now(UTC).replace(tzinfo=None)


def fernet_from_env(environ: Mapping[str, str] | None = None) -> MultiFernet:
    """The cipher for stored keys from ``$METERR_SECRET_KEY``.

    Several comma-separated Fernet keys are accepted for rotation: the first encrypts, any
    decrypts. Raises :class:`IntegrationSecretError` saying how to create one when unset.
    """
    raw = (_env(environ).get(SECRET_ENV) or "").strip()
    if not raw:
        raise IntegrationSecretError(
            f"{SECRET_ENV} is not set, so meterr cannot encrypt or decrypt stored provider keys. "
            f"Create one with:  {GENERATE_SECRET}  and export it as {SECRET_ENV} (keep it safe: "
            "without it the stored keys cannot be read)."
        )
    ciphers = []
    for number, part in enumerate((p.strip() for p in raw.split(",") if p.strip()), start=1):
        try:
            ciphers.append(Fernet(part.encode("ascii")))
        except (ValueError, UnicodeEncodeError):
            raise IntegrationSecretError(
                f"{SECRET_ENV} (key #{number}) is not a Fernet key (32 url-safe base64-encoded "
                f"bytes). Create one with:  {GENERATE_SECRET}"
            ) from None
    return MultiFernet(ciphers)


def _decrypt(cipher: MultiFernet, token: str, integration_id: str) -> ApiKey:
    try:
        return ApiKey(cipher.decrypt(token.encode("ascii")).decode("utf-8"))
    except (InvalidToken, ValueError, UnicodeError):
        raise IntegrationSecretError(
            f"cannot decrypt the key of integration {integration_id}: {SECRET_ENV} is not the key "
            "it was stored with. Set the original value again, or remove the integration and "
            "add it again with the current secret."
        ) from None


def _warehouse_exists(home: MeterrHome) -> bool:
    return home.warehouse.exists()


def _new_id(provider: str) -> str:
    return f"{provider}-{secrets.token_hex(4)}"


def _default_verifier(environ: Mapping[str, str] | None) -> KeyVerifier:
    def verify(provider: str, api_key: ApiKey) -> Any:
        return verify_key(provider, api_key, base_url_for(provider, environ))

    return verify


def add_integration(
    home: MeterrHome | str | os.PathLike[str],
    *,
    user_id: str,
    provider: str,
    api_key: str | ApiKey,
    name: str | None = None,
    environ: Mapping[str, str] | None = None,
    verify: KeyVerifier | None = None,
    now: datetime | None = None,
) -> Integration:
    """Test ``api_key`` with one read-only call, then store it encrypted as a new integration.

    ``verify(provider, key)`` defaults to a 1-bucket usage request for today against
    ``$OPENAI_BASE_URL`` / ``$ANTHROPIC_BASE_URL`` (or the public APIs). A refused key raises
    :class:`ProviderAuthError` (with what kind of key is needed) and nothing is stored.
    """
    home = _as_home(home)
    provider = (provider or "").strip().lower()
    if provider not in PROFILES:
        raise IntegrationError(
            f"unknown provider {provider!r}; choose one of: {', '.join(PROFILES)}"
        )
    user_id = (user_id or "").strip()
    if not user_id:
        raise IntegrationError("an integration needs a user id (--user)")
    key = ApiKey(api_key)
    cipher = fernet_from_env(environ)  # refuse before any network call if we could not store it
    when = now or _utcnow()
    integration_id = _new_id(provider)
    verify_endpoint = next(e for e in endpoints_for(provider) if e.verify_call)

    status: int | None = None
    failure: Exception | None = None
    try:
        outcome = (verify or _default_verifier(environ))(provider, key)
        status = outcome if isinstance(outcome, int) else 200
    except ProviderError as exc:
        failure = exc
        status = exc.status
    audit = audit_statement(
        requested_at=when,
        integration_id=integration_id,
        provider=provider,
        endpoint=f"verify:{verify_endpoint.name}",
        outcome=(
            "ok"
            if failure is None
            else "auth_error"
            if isinstance(failure, ProviderAuthError)
            else "error"
        ),
        http_status=status,
        message=key.scrub(str(failure)) if failure else "key accepted",
        key_last4=key.last4,
    )

    with connect(home) as con:
        ensure_meta_tables(con)
        con.execute(*audit)
        if failure is not None:
            raise failure
        for other_id, token in con.execute(
            "SELECT integration_id, key_ciphertext FROM meta.integrations "
            "WHERE user_id = ? AND provider = ?",
            [user_id, provider],
        ).fetchall():
            try:
                same = _decrypt(cipher, token, other_id) == key
            except IntegrationSecretError:
                same = False
            if same:
                raise IntegrationError(
                    f"this {PROFILES[provider].display} key ({key.masked}) is already integration "
                    f"{other_id} of user {user_id}"
                )
        token = cipher.encrypt(key.reveal().encode("utf-8")).decode("ascii")
        display_name = (name or "").strip() or PROFILES[provider].display
        con.execute(
            "INSERT INTO meta.integrations (integration_id, user_id, provider, name, "
            "key_ciphertext, key_last4, status, created_at, last_sync_at, last_error) "
            "VALUES (?, ?, ?, ?, ?, ?, 'enabled', ?, NULL, NULL)",
            [integration_id, user_id, provider, display_name, token, key.last4, when],
        )
    log.info("added %s integration %s for user %s", provider, integration_id, user_id)
    return Integration(
        integration_id=integration_id,
        user_id=user_id,
        provider=provider,
        name=display_name,
        status="enabled",
        key_last4=key.last4,
        created_at=when,
        last_sync_at=None,
        last_error=None,
    )


def _month_costs(con: duckdb.DuckDBPyConnection, today: date) -> dict[str, Decimal]:
    exists = con.execute(
        "SELECT count(*) FROM information_schema.tables "
        "WHERE table_schema = 'marts' AND table_name = 'fct_usage_daily'"
    ).fetchone()[0]
    if not exists:
        return {}
    first = today.replace(day=1)
    rows = con.execute(
        "SELECT integration_id, sum(total_cost_usd) FROM marts.fct_usage_daily "
        "WHERE integration_id IS NOT NULL AND usage_date >= ? AND usage_date < ? "
        "GROUP BY integration_id",
        [first, _next_month(first)],
    ).fetchall()
    return {integration_id: Decimal(total or 0) for integration_id, total in rows}


def _next_month(first: date) -> date:
    return date(first.year + (first.month == 12), first.month % 12 + 1, 1)


def list_integrations(
    home: MeterrHome | str | os.PathLike[str],
    *,
    user_id: str | None = None,
    environ: Mapping[str, str] | None = None,
    include_env: bool = True,
    today: date | None = None,
) -> list[Integration]:
    """Every integration (of ``user_id`` if given) with this month's spend; keys as ``…`` + last 4.

    Environment keys are listed as ``env-openai`` / ``env-anthropic`` (source ``env``) unless a
    user filter is given or ``include_env`` is False.
    """
    home = _as_home(home)
    day = today or _utcnow().date()
    found: list[Integration] = []
    costs: dict[str, Decimal] = {}
    if _warehouse_exists(home):
        with connect(home) as con:
            ensure_meta_tables(con)
            costs = _month_costs(con, day)
            sql = (
                "SELECT integration_id, user_id, provider, name, status, key_last4, created_at, "
                "last_sync_at, last_error FROM meta.integrations"
            )
            params: list[Any] = []
            if user_id is not None:
                sql += " WHERE user_id = ?"
                params.append(user_id)
            rows = con.execute(sql + " ORDER BY user_id, provider, created_at", params).fetchall()
            states = dict(
                con.execute(
                    "SELECT integration_id, max(last_synced_at) FROM meta.sync_state "
                    "GROUP BY integration_id"
                ).fetchall()
            )
        for row in rows:
            found.append(Integration(*row, month_cost_usd=costs.get(row[0])))
    else:
        states = {}
    if include_env and user_id is None:
        for env in env_integrations(environ):
            found.append(
                Integration(
                    integration_id=env.integration_id,
                    user_id=None,
                    provider=env.provider,
                    name=env.name,
                    status="enabled",
                    key_last4=env.api_key.last4,
                    created_at=None,
                    last_sync_at=states.get(env.integration_id),
                    last_error=None,
                    month_cost_usd=costs.get(env.integration_id),
                    source="env",
                )
            )
    return found


def _update(
    home: MeterrHome | str | os.PathLike[str],
    integration_id: str,
    user_id: str | None,
    sql: str,
    params: list[Any],
) -> None:
    home = _as_home(home)
    if integration_id in ENV_INTEGRATION_IDS.values():
        raise IntegrationError(
            f"{integration_id} comes from the environment; unset its variable to turn it off"
        )
    if not _warehouse_exists(home):
        raise IntegrationNotFoundError(f"no integration {integration_id}")
    with connect(home) as con:
        ensure_meta_tables(con)
        owner_sql = "integration_id = ?" + (" AND user_id = ?" if user_id is not None else "")
        owner = [integration_id] + ([user_id] if user_id is not None else [])
        hit = con.execute(f"SELECT count(*) FROM meta.integrations WHERE {owner_sql}", owner)
        if not hit.fetchone()[0]:
            whose = f" of user {user_id}" if user_id is not None else ""
            raise IntegrationNotFoundError(f"no integration {integration_id}{whose}")
        con.execute(sql.format(where=owner_sql), params + owner)


def enable_integration(
    home: MeterrHome | str | os.PathLike[str], integration_id: str, *, user_id: str | None = None
) -> None:
    """Turn an integration's syncs back on (its history was never deleted)."""
    _update(
        home,
        integration_id,
        user_id,
        "UPDATE meta.integrations SET status = ? WHERE {where}",
        ["enabled"],
    )


def disable_integration(
    home: MeterrHome | str | os.PathLike[str], integration_id: str, *, user_id: str | None = None
) -> None:
    """Stop syncing an integration; its key and already loaded usage stay."""
    _update(
        home,
        integration_id,
        user_id,
        "UPDATE meta.integrations SET status = ? WHERE {where}",
        ["disabled"],
    )


def remove_integration(
    home: MeterrHome | str | os.PathLike[str], integration_id: str, *, user_id: str | None = None
) -> None:
    """Delete an integration and its encrypted key; usage already loaded stays in ``raw``/marts."""
    _update(home, integration_id, user_id, "DELETE FROM meta.integrations WHERE {where}", [])


def enabled_integrations(
    home: MeterrHome | str | os.PathLike[str],
    environ: Mapping[str, str] | None = None,
) -> list[EnabledIntegration]:
    """Every enabled stored integration with its key decrypted (in memory only), for the sync.

    Raises :class:`IntegrationSecretError` when stored integrations exist but ``METERR_SECRET_KEY``
    is missing or wrong. Environment keys are separate: :func:`env_integrations`.
    """
    home = _as_home(home)
    if not _warehouse_exists(home):
        return []
    with connect(home) as con:
        ensure_meta_tables(con)
        rows = con.execute(
            "SELECT integration_id, user_id, provider, name, key_ciphertext "
            "FROM meta.integrations WHERE status = 'enabled' ORDER BY created_at, integration_id"
        ).fetchall()
    if not rows:
        return []
    cipher = fernet_from_env(environ)
    return [
        EnabledIntegration(
            integration_id, user, provider, name, _decrypt(cipher, token, integration_id)
        )
        for integration_id, user, provider, name, token in rows
    ]


def env_integrations(environ: Mapping[str, str] | None = None) -> list[EnabledIntegration]:
    """The default integrations from ``OPENAI_ADMIN_KEY`` / ``ANTHROPIC_ADMIN_KEY``."""
    env = _env(environ)
    found = []
    for provider, profile in PROFILES.items():
        value = (env.get(profile.key_env_var) or "").strip()
        if not value:
            log.info("%s is not set: skipping the %s API", profile.key_env_var, profile.display)
            continue
        try:
            key = ApiKey(value)
        except ValueError:
            log.error(
                "%s is not a usable key (spaces or non-ASCII characters)", profile.key_env_var
            )
            continue
        found.append(
            EnabledIntegration(
                integration_id=ENV_INTEGRATION_IDS[provider],
                user_id=None,
                provider=provider,
                name=f"{profile.display} ({profile.key_env_var})",
                api_key=key,
            )
        )
    return found
