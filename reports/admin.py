"""What the admin page shows, as plain data: platform statistics, integration health, most used
integrations and models (read-only, no HTML).

The admin view is about the platform, not any one user's secrets: it never reads a key (not even
``key_last4``). Periods are anchored on the newest usage day in the warehouse (``as_of``), so a
re-render of old data says the same thing; staleness of integration syncs is measured against
``now`` (the render time), since a sync that stopped is a problem today.

Spend, provider cost and platform fee (``total_cost_usd`` = cost + ``platform_fee_usd``), requests
and tokens come from the spend basis of :mod:`reports.spend` (the authoritative source per day and
provider when the accounting marts exist, else ``marts.fct_usage_daily``); users and API keys are
counted on its per-user-and-key relation. Unpriced usage is counted apart and never as $0. The
"Source health" list reads every source's own rows (``fct_usage_daily``): it is about freshness.
"""

from __future__ import annotations

import logging
from datetime import UTC, date, datetime, timedelta
from typing import Any

import duckdb

from reports.data import USAGE_TABLE, as_of
from reports.health import raw_tables
from reports.my_integrations import integration_health, provider_name, source_name
from reports.query import fetch_one, fetch_rows, table_exists, timestamp_expr
from reports.spend import TOKENS_SQL, SpendBasis, spend_basis

log = logging.getLogger(__name__)

# "Recent" for the most-used lists and per-integration usage.
RECENT_DAYS = 30
REVENUE_MONTHS = 12
TOP_N = 10
# An enabled integration whose last sync is older than this (at render time) is stale: the daily
# schedule syncs every integration, so two missed days mean something is wrong.
STALE_AFTER = timedelta(hours=48)
_TOKENS = TOKENS_SQL
_STATS = f"""
    count(*) AS row_count,
    count(*) FILTER (WHERE total_cost_usd IS NULL) AS unpriced_rows,
    sum(total_cost_usd) AS cost_usd,
    sum(coalesce(platform_fee_usd, 0)) FILTER (WHERE total_cost_usd IS NOT NULL)
        AS platform_fee_usd,
    coalesce(sum(request_count), 0) AS requests,
    coalesce(sum({_TOKENS}), 0) AS tokens,
    coalesce(sum(unpriced_tokens), 0) AS unpriced_tokens
"""


def _finish(row: dict[str, Any]) -> dict[str, Any]:
    """Derived fields of a ``_STATS`` row: provider cost, unpriced share, fee rate."""
    priced = row["cost_usd"] is not None
    if not priced:
        row["cost_usd"] = 0.0 if not row["unpriced_rows"] else None
        row["platform_fee_usd"] = 0.0 if not row["unpriced_rows"] else None
    fee = row["platform_fee_usd"]
    row["provider_cost_usd"] = (
        row["cost_usd"] - fee if row["cost_usd"] is not None and fee is not None else None
    )
    row["unpriced_share_tokens"] = row["unpriced_tokens"] / row["tokens"] if row["tokens"] else None
    provider = row["provider_cost_usd"]
    row["fee_rate"] = fee / provider if provider and fee is not None else None
    return row


def _people(
    con: duckdb.DuckDBPyConnection,
    basis: SpendBasis,
    keys: tuple[str, ...],
    where: str,
    params: dict[str, Any],
) -> dict[tuple[Any, ...], dict[str, int]]:
    """Distinct users and API keys per ``keys`` group, from the per-user-and-key relation."""
    cols = ", ".join(keys) if keys else "NULL AS no_key"
    group = f"GROUP BY {', '.join(keys)}" if keys else ""
    rows = fetch_rows(
        con,
        f"""
        SELECT {cols}, count(DISTINCT user_id) AS users, count(DISTINCT api_key_id) AS api_keys
        FROM {basis.allocated} AS basis WHERE {where} {group}
        """,
        params,
    )
    found = {}
    for row in rows:
        found[tuple(row[key] for key in keys)] = {
            "users": row["users"],
            "api_keys": row["api_keys"],
        }
    return found


def _period(
    con: duckdb.DuckDBPyConnection,
    basis: SpendBasis,
    key: str,
    label: str,
    start: date | None,
    end: date | None,
) -> dict[str, Any]:
    where, params = "TRUE", {}
    if start is not None and end is not None:
        where, params = "usage_date BETWEEN $start AND $end", {"start": start, "end": end}
    row = fetch_one(
        con,
        f"""
        SELECT {_STATS},
            count(DISTINCT integration_id) AS integrations,
            count(DISTINCT model) AS models,
            count(DISTINCT usage_date) AS active_days
        FROM {basis.spend} AS basis WHERE {where}
        """,
        params,
    )
    row.update(_people(con, basis, (), where, params).get((), {"users": 0, "api_keys": 0}))
    row.update(
        key=key,
        label=label,
        start=start.isoformat() if start else None,
        end=end.isoformat() if end else None,
    )
    return _finish(row)


def _revenue_by_month(
    con: duckdb.DuckDBPyConnection, basis: SpendBasis, newest: date
) -> list[dict[str, Any]]:
    """Spend, provider cost and platform fee revenue per calendar month, the last 12 months."""
    months_back = newest.year * 12 + newest.month - 1 - (REVENUE_MONTHS - 1)
    first = date(months_back // 12, months_back % 12 + 1, 1)
    rows = fetch_rows(
        con,
        f"""
        SELECT strftime(usage_date, '%Y-%m') AS month, {_STATS}
        FROM {basis.spend} AS basis WHERE usage_date BETWEEN $first AND $newest
        GROUP BY month ORDER BY month
        """,
        {"first": first, "newest": newest},
    )
    return [_finish(row) for row in rows]


def _registry(con: duckdb.DuckDBPyConnection) -> tuple[bool, list[dict[str, Any]], str | None]:
    """Integrations without any key material (the admin page never shows keys)."""
    if not table_exists(con, "meta", "integrations"):
        return False, [], "No integrations registry yet (meta.integrations does not exist)."
    try:
        created = timestamp_expr(con, "meta", "integrations", "created_at")
        synced = timestamp_expr(con, "meta", "integrations", "last_sync_at")
        rows = fetch_rows(
            con,
            f"""
            SELECT integration_id, user_id, provider, name, status,
                   {created} AS created_at, {synced} AS last_sync_at, last_error
            FROM meta.integrations ORDER BY created_at, integration_id
            """,
        )
    except duckdb.Error as exc:
        log.warning("meta.integrations could not be read for the admin page: %s", exc)
        return False, [], f"meta.integrations could not be read ({type(exc).__name__})."
    return True, rows, None


def _usage_by_integration(
    con: duckdb.DuckDBPyConnection, basis: SpendBasis, start: date, end: date
) -> dict[str, dict[str, Any]]:
    where = "usage_date BETWEEN $start AND $end AND integration_id IS NOT NULL"
    params = {"start": start, "end": end}
    rows = fetch_rows(
        con,
        f"""
        SELECT integration_id, {_STATS}, max(usage_date) AS last_usage_date,
               list_sort(list(DISTINCT provider) FILTER (WHERE provider IS NOT NULL))
                   AS providers
        FROM {basis.spend} AS basis
        WHERE {where}
        GROUP BY integration_id
        """,
        params,
    )
    people = _people(con, basis, ("integration_id",), where, params)
    for row in rows:
        row["users"] = people.get((row["integration_id"],), {"users": 0})["users"]
    return {row.pop("integration_id"): _finish(row) for row in rows}


def _health(row: dict[str, Any], now: datetime) -> tuple[str, str]:
    health, label = integration_health(row)
    if health == "active" and row.get("last_sync_at") and row.get("status") == "enabled":
        synced = datetime.fromisoformat(row["last_sync_at"])
        if now - synced > STALE_AFTER:
            return "stale", "Stale"
    return health, label


def _integrations(
    registry: list[dict[str, Any]],
    usage: dict[str, dict[str, Any]],
    now: datetime,
) -> list[dict[str, Any]]:
    """Registry rows and integration ids seen only in usage, with health and recent usage."""
    rows = [dict(row) for row in registry]
    known = {row["integration_id"] for row in rows}
    for integration_id in sorted(set(usage) - known):
        from_env = integration_id.startswith("env-")
        providers = usage[integration_id]["providers"]
        rows.append(
            {
                "integration_id": integration_id,
                "user_id": None,
                "provider": integration_id.removeprefix("env-")
                if from_env
                else (providers[0] if len(providers) == 1 else None),
                "name": None,
                "status": "environment" if from_env else "unregistered",
                "created_at": None,
                "last_sync_at": None,
                "last_error": None,
            }
        )
    for row in rows:
        recent = usage.get(row["integration_id"])
        row["health"], row["health_label"] = _health(row, now)
        row["provider_label"] = provider_name(row["provider"])
        row["label"] = row["name"] or row["provider_label"]
        row["recent_requests"] = recent["requests"] if recent else 0
        row["recent_tokens"] = recent["tokens"] if recent else 0
        row["recent_cost_usd"] = recent["cost_usd"] if recent else 0.0
        row["recent_fee_usd"] = recent["platform_fee_usd"] if recent else 0.0
        row["last_usage_date"] = recent["last_usage_date"] if recent else None
        error = row["last_error"]
        row["last_error_short"] = error if not error or len(error) <= 200 else error[:199] + "…"
        if row["last_sync_at"]:
            age = now - datetime.fromisoformat(row["last_sync_at"])
            row["sync_age_hours"] = round(age.total_seconds() / 3600, 1)
        else:
            row["sync_age_hours"] = None
    order = {"error": 0, "stale": 1, "pending": 2, "unregistered": 3, "active": 4, "disabled": 5}
    rows.sort(key=lambda r: (order.get(r["health"], 9), -r["recent_requests"], r["label"]))
    return rows


def _most_used_models(
    con: duckdb.DuckDBPyConnection, basis: SpendBasis, start: date, end: date
) -> list[dict[str, Any]]:
    where, params = "usage_date BETWEEN $start AND $end", {"start": start, "end": end}
    rows = fetch_rows(
        con,
        f"""
        SELECT provider, model, {_STATS}
        FROM {basis.spend} AS basis WHERE {where}
        GROUP BY provider, model
        ORDER BY requests DESC, tokens DESC, provider, model
        LIMIT {TOP_N}
        """,
        params,
    )
    people = _people(con, basis, ("provider", "model"), where, params)
    for row in rows:
        row["users"] = people.get((row["provider"], row["model"]), {"users": 0})["users"]
        _finish(row)
        row["provider_label"] = provider_name(row["provider"])
        row["model_label"] = row["model"] or "(unknown)"
    return rows


def _most_used_sources(
    con: duckdb.DuckDBPyConnection, basis: SpendBasis, start: date, end: date
) -> list[dict[str, Any]]:
    """Usage by source (what counts as an "integration" when none is registered).

    On the authoritative basis a source's usage is what it was the authoritative source for.
    """
    rows = fetch_rows(
        con,
        f"""
        SELECT source, {_STATS}, max(usage_date) AS last_usage_date
        FROM {basis.spend} AS basis WHERE usage_date BETWEEN $start AND $end
        GROUP BY source ORDER BY requests DESC, tokens DESC, source
        LIMIT {TOP_N}
        """,
        {"start": start, "end": end},
    )
    for row in rows:
        _finish(row)
        row["label"], row["kind"] = source_name(row["source"])
    return rows


def _providers(integrations: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Integration popularity per provider: how many integrations, users and enabled ones."""
    found: dict[str, dict[str, Any]] = {}
    for row in integrations:
        label = row["provider_label"]
        empty = {"integrations": 0, "enabled": 0, "users": set(), "requests": 0}
        entry = found.setdefault(label, {"provider_label": label, **empty})
        entry["integrations"] += 1
        entry["enabled"] += row["health"] not in ("disabled",)
        if row["user_id"]:
            entry["users"].add(row["user_id"])
        entry["requests"] += row["recent_requests"]
    rows = []
    for entry in found.values():
        entry["users"] = len(entry["users"])
        rows.append(entry)
    rows.sort(key=lambda r: (-r["integrations"], -r["requests"], r["provider_label"]))
    return rows


def _sources(con: duckdb.DuckDBPyConnection, now: datetime) -> list[dict[str, Any]]:
    """Every usage source with its newest usage day and how many days ago that is."""
    rows = fetch_rows(
        con,
        f"""
        SELECT source, min(usage_date) AS first_usage_date, max(usage_date) AS last_usage_date,
               coalesce(sum(request_count), 0) AS requests
        FROM {USAGE_TABLE} GROUP BY source ORDER BY source NULLS LAST
        """,
    )
    for row in rows:
        row["label"], row["kind"] = source_name(row["source"])
        row["days_since"] = (now.date() - date.fromisoformat(row["last_usage_date"])).days
    return rows


def admin_report_data(
    con: duckdb.DuckDBPyConnection, *, now: datetime | None = None
) -> dict[str, Any]:
    """Everything the admin page shows, as plain data.

    Keys: ``generated_at``, ``as_of``, ``has_usage``, ``spend_basis`` (which rows the money is
    summed from, :mod:`reports.spend`), ``periods`` (``month``, ``recent``, ``all``: requests,
    tokens, spend, platform fee revenue, provider cost, users ...),
    ``revenue_by_month``, ``integrations`` (health per integration, no keys),
    ``integration_counts`` (per health), ``registry_available``, ``registry_note``,
    ``most_used_integrations``, ``most_used_sources``, ``most_used_models``, ``providers``,
    ``sources``, ``raw_tables``, ``recent_days``.
    """
    moment = (now or datetime.now(UTC)).astimezone(UTC).replace(tzinfo=None, microsecond=0)
    raw = raw_tables(con)
    stamp = as_of(con, raw)
    newest = date.fromisoformat(stamp["usage_date"]) if stamp["usage_date"] else None
    registry_available, registry, registry_note = _registry(con)
    basis = spend_basis(con)
    if newest is not None:
        recent_start = newest - timedelta(days=RECENT_DAYS - 1)
        month_start = newest.replace(day=1)
        periods = [
            _period(con, basis, "month", f"{newest:%B %Y} to date", month_start, newest),
            _period(con, basis, "recent", f"Last {RECENT_DAYS} days", recent_start, newest),
            _period(con, basis, "all", "All time", None, None),
        ]
        usage = _usage_by_integration(con, basis, recent_start, newest)
        revenue = _revenue_by_month(con, basis, newest)
        models = _most_used_models(con, basis, recent_start, newest)
        sources_used = _most_used_sources(con, basis, recent_start, newest)
    else:
        periods = [_period(con, basis, "all", "All time", None, None)]
        usage, revenue, models, sources_used = {}, [], [], []
    integrations = _integrations(registry, usage, moment)
    counts: dict[str, int] = {}
    for row in integrations:
        counts[row["health"]] = counts.get(row["health"], 0) + 1
    most_used = sorted(
        (row for row in integrations if row["recent_requests"] or row["recent_tokens"]),
        key=lambda r: (-r["recent_requests"], -r["recent_tokens"], r["label"]),
    )[:TOP_N]
    return {
        "generated_at": moment.isoformat(),
        "as_of": stamp,
        "has_usage": newest is not None,
        "spend_basis": basis.as_dict(),
        "recent_days": RECENT_DAYS,
        "periods": periods,
        "revenue_by_month": revenue,
        "registry_available": registry_available,
        "registry_note": registry_note,
        "integrations": integrations,
        "integration_counts": counts,
        "most_used_integrations": most_used,
        "most_used_sources": sources_used,
        "most_used_models": models,
        "providers": _providers(integrations),
        "sources": _sources(con, moment) if newest is not None else [],
        "raw_tables": raw,
    }
