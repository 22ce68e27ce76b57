"""The "My integrations" panel: each integration's status, last sync and this month's cost.

Sources, all read-only:

* ``meta.integrations`` (optional): one row per user-managed provider key. Only the columns needed
  for display are selected: **never** ``key_ciphertext``; a key is shown as ``…`` + ``key_last4``.
* ``marts.monthly_statement`` (optional): the month's provider cost, platform fee and total per
  integration. When it has rows for an integration, that integration's "this month" figures come
  from it (``basis: "statement"``).
* the spend basis (:mod:`reports.spend`: the authoritative source per day and provider from
  ``marts.fct_spend_daily`` when the accounting marts exist, else ``marts.fct_usage_daily``):
  month-to-date usage per ``integration_id`` from the first of the month through the report
  week's last day (``basis: "usage"`` where no statement row exists). Provider cost is
  ``total_cost_usd - platform_fee_usd`` over priced rows (``total = cost + fee``); unpriced usage
  is counted, never priced as $0. On the authoritative basis the source cards list each source's
  spend where it was the authoritative source, so the cards add up to the month's spend.

With no integration at all (no registry rows and no ``integration_id`` in the usage), the panel
lists usage by ``source`` instead ("custom" files, "openai_api" ...) and says how to add one.
"""

from __future__ import annotations

import logging
from datetime import date
from typing import Any

import duckdb

from reports.health import last_file_loads
from reports.query import fetch_rows, table_exists, timestamp_expr
from reports.spend import TOKENS_SQL, SpendBasis, spend_basis

log = logging.getLogger(__name__)

ADD_COMMAND = "meterr integrations add --user YOU --provider openai"
ENV_PREFIX = "env-"
PROVIDER_NAMES = {
    "openai": "OpenAI",
    "anthropic": "Anthropic",
    "google": "Google",
    "mistral": "Mistral",
    "cohere": "Cohere",
    "azure": "Azure OpenAI",
    "bedrock": "AWS Bedrock",
    "groq": "Groq",
    "stability": "Stability AI",
}
SOURCE_NAMES = {
    "openai_api": ("OpenAI API", "api"),
    "anthropic_api": ("Anthropic API", "api"),
    "openai_export": ("OpenAI export files", "files"),
    "anthropic_export": ("Anthropic export files", "files"),
    "helicone": ("Helicone export", "files"),
    "langfuse": ("Langfuse export", "files"),
    "litellm": ("LiteLLM spend logs", "files"),
    "custom": ("Custom files", "files"),
    "webhook": ("Webhooks", "webhook"),
}
_TOKENS = TOKENS_SQL


def provider_name(provider: str | None) -> str:
    """A provider id as people write it (``openai`` -> ``OpenAI``); unknown ids stay as they are."""
    if not provider:
        return "(unknown provider)"
    return PROVIDER_NAMES.get(provider.lower(), provider)


def source_name(source: str | None) -> tuple[str, str]:
    """``(label, kind)`` of a usage source; kind is ``api``, ``files``, ``webhook`` or ``other``."""
    if not source:
        return "(unknown source)", "other"
    return SOURCE_NAMES.get(source, (source, "other"))


def _usage_by(
    con: duckdb.DuckDBPyConnection,
    basis: SpendBasis,
    column: str,
    start: date,
    through: date,
    where: str = "TRUE",
) -> dict[Any, dict[str, Any]]:
    """Month-to-date usage grouped by ``column`` (a fixed column name, never user input)."""
    rows = fetch_rows(
        con,
        f"""
        SELECT
            {column} AS key,
            count(*) AS row_count,
            count(*) FILTER (WHERE total_cost_usd IS NULL) AS unpriced_rows,
            sum(total_cost_usd) AS total_usd,
            sum(coalesce(platform_fee_usd, 0)) FILTER (WHERE total_cost_usd IS NOT NULL)
                AS platform_fee_usd,
            coalesce(sum(request_count), 0) AS requests,
            coalesce(sum({_TOKENS}), 0) AS tokens,
            max(usage_date) AS last_usage_date,
            list_sort(list(DISTINCT provider) FILTER (WHERE provider IS NOT NULL)) AS providers
        FROM {basis.spend} AS basis
        WHERE usage_date BETWEEN $start AND $through AND ({where})
        GROUP BY {column}
        """,
        {"start": start, "through": through},
    )
    found: dict[Any, dict[str, Any]] = {}
    for row in rows:
        priced = row["total_usd"] is not None
        fee = row["platform_fee_usd"] or 0.0
        row["provider_cost_usd"] = row["total_usd"] - fee if priced else None
        row["platform_fee_usd"] = fee if priced else None
        row["partly_unpriced"] = priced and row["unpriced_rows"] > 0
        found[row.pop("key")] = row
    return found


def _registry(con: duckdb.DuckDBPyConnection) -> tuple[bool, list[dict[str, Any]], str | None]:
    """``meta.integrations`` rows without any key material beyond ``key_last4``."""
    if not table_exists(con, "meta", "integrations"):
        return False, [], None
    try:
        created = timestamp_expr(con, "meta", "integrations", "created_at")
        synced = timestamp_expr(con, "meta", "integrations", "last_sync_at")
        # An explicit column list: key_ciphertext is never read into the report.
        rows = fetch_rows(
            con,
            f"""
            SELECT integration_id, user_id, provider, name, key_last4, status,
                   {created} AS created_at, {synced} AS last_sync_at, last_error
            FROM meta.integrations
            ORDER BY created_at, integration_id
            """,
        )
    except duckdb.Error as exc:
        log.warning("meta.integrations could not be read for the report: %s", exc)
        return False, [], f"meta.integrations could not be read ({type(exc).__name__})."
    return True, rows, None


def _statement(
    con: duckdb.DuckDBPyConnection, month: str
) -> tuple[bool, dict[Any, dict[str, Any]], str | None]:
    """``marts.monthly_statement`` sums per integration for ``month`` (``YYYY-MM``)."""
    if not table_exists(con, "marts", "monthly_statement"):
        return False, {}, None
    try:
        rows = fetch_rows(
            con,
            """
            SELECT integration_id AS key,
                   sum(provider_cost_usd) AS provider_cost_usd,
                   sum(platform_fee_usd) AS platform_fee_usd,
                   sum(total_usd) AS total_usd,
                   count(*) AS row_count
            FROM marts.monthly_statement
            WHERE left(CAST(month AS VARCHAR), 7) = $month
            GROUP BY integration_id
            """,
            {"month": month},
        )
    except duckdb.Error as exc:
        log.warning("marts.monthly_statement could not be read for the report: %s", exc)
        return False, {}, f"marts.monthly_statement could not be read ({type(exc).__name__})."
    return True, {row.pop("key"): row for row in rows}, None


def integration_health(row: dict[str, Any]) -> tuple[str, str]:
    """``(health, label)``: ``disabled``, ``error``, ``pending`` (never synced) or ``active``."""
    status = str(row.get("status") or "").lower()
    if status == "environment":
        return "active", "Active (environment key)"
    if status == "unregistered":
        return "unregistered", "Not in the registry"
    if status and status != "enabled":
        return "disabled", status.capitalize()
    if row.get("last_error"):
        return "error", "Error"
    if not row.get("last_sync_at"):
        return "pending", "Never synced"
    return "active", "Active"


def _month_figures(usage: dict[str, Any] | None, statement: dict[str, Any] | None) -> dict:
    """This month's provider cost, fee and total: the statement's if it has a row, else usage."""
    if statement is not None:
        return {
            "basis": "statement",
            "provider_cost_usd": statement["provider_cost_usd"],
            "platform_fee_usd": statement["platform_fee_usd"],
            "total_usd": statement["total_usd"],
        }
    if usage is not None:
        return {
            "basis": "usage",
            "provider_cost_usd": usage["provider_cost_usd"],
            "platform_fee_usd": usage["platform_fee_usd"],
            "total_usd": usage["total_usd"],
        }
    return {"basis": "none", "provider_cost_usd": 0.0, "platform_fee_usd": 0.0, "total_usd": 0.0}


def _usage_fields(usage: dict[str, Any] | None) -> dict[str, Any]:
    if usage is None:
        return {
            "mtd_total_usd": 0.0,
            "mtd_requests": 0,
            "mtd_tokens": 0,
            "mtd_unpriced": False,
            "mtd_partly_unpriced": False,
            "last_usage_date": None,
        }
    return {
        "mtd_total_usd": usage["total_usd"],
        "mtd_requests": usage["requests"],
        "mtd_tokens": usage["tokens"],
        "mtd_unpriced": usage["total_usd"] is None,
        "mtd_partly_unpriced": usage["partly_unpriced"],
        "last_usage_date": usage["last_usage_date"],
    }


def _sum(values: list[float | None]) -> float | None:
    """The sum of the known values; ``None`` only when there are values and none is known."""
    present = [value for value in values if value is not None]
    if not present and values:
        return None
    return float(sum(present))


def _totals(cards: list[dict[str, Any]]) -> dict[str, Any]:
    """The footer: platform (provider) costs, the platform fee and its rate, and the total."""
    provider = _sum([card["provider_cost_usd"] for card in cards])
    fee = _sum([card["platform_fee_usd"] for card in cards])
    total = _sum([card["total_usd"] for card in cards])
    return {
        "provider_cost_usd": provider,
        "platform_fee_usd": fee,
        "total_usd": total,
        "fee_rate": fee / provider if provider and fee is not None else None,
    }


def _source_cards(
    con: duckdb.DuckDBPyConnection, usage: dict[Any, dict[str, Any]]
) -> list[dict[str, Any]]:
    try:
        loads = last_file_loads(con)
    except duckdb.Error as exc:
        log.warning("meta.ingested_files could not be read for the report: %s", exc)
        loads = {}
    cards = []
    for source, row in usage.items():
        label, kind = source_name(source)
        cards.append(
            {
                "source": source,
                "label": label,
                "kind": kind,
                "providers": [provider_name(p) for p in row["providers"]],
                "last_loaded_at": loads.get(source) if source else None,
                "basis": "usage",
                "provider_cost_usd": row["provider_cost_usd"],
                "platform_fee_usd": row["platform_fee_usd"],
                "total_usd": row["total_usd"],
                **_usage_fields(row),
            }
        )
    cards.sort(key=lambda c: (-(c["total_usd"] or 0.0), -c["mtd_tokens"], c["label"]))
    return cards


def my_integrations(
    con: duckdb.DuckDBPyConnection,
    month_start: date,
    through: date,
    *,
    basis: SpendBasis | None = None,
) -> dict:
    """The "My integrations" panel for the month of ``month_start``, usage through ``through``.

    Keys: ``month`` (``YYYY-MM``), ``month_start``, ``through``, ``mode`` (``integrations`` or
    ``sources``), ``integrations`` (one card per integration), ``sources`` (usage not from an
    integration, by source; in ``sources`` mode all usage), ``totals`` (``provider_cost_usd``,
    ``platform_fee_usd``, ``total_usd``, ``fee_rate``) over the cards of the mode, ``basis``
    (``statement``, ``usage`` or ``mixed``), ``registry_available``, ``statement_available``,
    ``add_command`` and ``notes``. ``basis`` is the spend basis (default:
    :func:`reports.spend.spend_basis`).
    """
    basis = basis or spend_basis(con)
    month = month_start.strftime("%Y-%m")
    registry_available, registry, registry_note = _registry(con)
    statement_available, statement, statement_note = _statement(con, month)
    by_integration = _usage_by(
        con, basis, "integration_id", month_start, through, "integration_id IS NOT NULL"
    )
    cards: list[dict[str, Any]] = []
    seen: set[str] = set()
    for row in registry:
        seen.add(row["integration_id"])
        cards.append(dict(row))
    extra_ids = sorted(
        {key for key in (*by_integration, *statement) if key is not None and key not in seen}
    )
    for integration_id in extra_ids:
        from_env = integration_id.startswith(ENV_PREFIX)
        usage = by_integration.get(integration_id)
        provider = integration_id.removeprefix(ENV_PREFIX) if from_env else None
        if provider is None and usage and len(usage["providers"]) == 1:
            provider = usage["providers"][0]
        cards.append(
            {
                "integration_id": integration_id,
                "user_id": None,
                "provider": provider,
                "name": None,
                "key_last4": None,
                "status": "environment" if from_env else "unregistered",
                "created_at": None,
                "last_sync_at": None,
                "last_error": None,
            }
        )
    for card in cards:
        usage = by_integration.get(card["integration_id"])
        card.update(_month_figures(usage, statement.get(card["integration_id"])))
        card.update(_usage_fields(usage))
        card["health"], card["status_label"] = integration_health(card)
        card["provider_label"] = provider_name(card["provider"])
        card["label"] = card["name"] or card["provider_label"]
        if card["status"] == "environment":
            card["label"] = f"{card['provider_label']} (environment key)"
        last4 = card.pop("key_last4")
        card["key_display"] = f"…{last4}" if last4 else None
    cards.sort(
        key=lambda c: (c["health"] == "disabled", -(c["total_usd"] or 0.0), c["label"] or "")
    )
    mode = "integrations" if cards else "sources"
    where = "integration_id IS NULL" if mode == "integrations" else "TRUE"
    sources = _source_cards(con, _usage_by(con, basis, "source", month_start, through, where))
    footed = cards if mode == "integrations" else sources
    bases = {card["basis"] for card in footed if card["basis"] != "none"}
    return {
        "month": month,
        "month_start": month_start.isoformat(),
        "through": through.isoformat(),
        "mode": mode,
        "integrations": cards,
        "sources": sources,
        "totals": _totals(footed),
        "basis": bases.pop() if len(bases) == 1 else ("mixed" if bases else "usage"),
        "registry_available": registry_available,
        "statement_available": statement_available,
        "add_command": ADD_COMMAND,
        "notes": [note for note in (registry_note, statement_note) if note],
    }
