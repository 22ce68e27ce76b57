"""The spend basis: which rows every money figure of the reports is summed from (one place).

When the same usage arrives from several sources (a provider API, a console export, Helicone,
Langfuse or LiteLLM logs), ``marts.fct_usage_daily`` holds one set of rows per source, so summing
it counts that usage once per source. The accounting marts (dbt_project/README.md, "How meterr
computes cost") define the truth instead, and the reports use them whenever they exist:

**Authoritative basis** (``marts.fct_spend_daily`` and ``marts.fct_spend_allocated`` exist):

* money, requests and tokens come from ``fct_spend_daily``: per UTC day and provider, only the
  authoritative source's rows (``authoritative_source``); the other sources' rows for that day and
  provider are the same traffic seen again and are only reconciled (``rpt_source_reconciliation``,
  the "Data health" section);
* per user and per API key, the money comes from ``fct_spend_allocated`` (the same spend shared
  out, ``user_id`` / ``api_key_id`` NULL = unattributed, adding up to ``fct_spend_daily`` exactly);
  it carries requests but no tokens, so tokens per user or key are unknown (``None``);
* the **platform fee** of a spend row is the ``platform_fee_usd`` of the ``fct_usage_daily`` rows of
  the *authoritative* source for that day and provider, summed to the spend row's grain (day x
  provider x model x project x integration; both models group ``int_usage_priced_daily`` by those
  keys, so they line up), over priced rows only, as before. For the ``percentage`` and
  ``per_request`` fee models that is exactly the fee on the authoritative spend (each row's fee is a
  function of its own cost or requests), and a duplicate source's fee is never added. Per user and
  key the row's fee is split in proportion to the allocated cost (else the allocated requests, else
  all on the first allocation row). Known limit: with ``flat_monthly``, ``fct_usage_daily`` spreads
  the flat amount over every source's rows, so the authoritative rows carry only part of it; the
  monthly statement (``marts.monthly_statement``, computed per user and month) stays the fee of
  record there;
* requests and tokens are the authoritative source's too; when that source reports cost only on
  a day (a cost CSV without its usage CSV), :func:`usage_outside_the_counts` says what the other
  sources saw those days, so the report can say its counts leave it out;
* *unpriced* usage: a spend row whose ``spend_usd`` is NULL is unpriced as a whole; for a row that
  is partly unpriced (``has_unpriced_usage``) the unpriced tokens and requests are those of the
  authoritative source's ``fct_usage_daily`` rows without a cost.

**Usage basis** (fallback, when the accounting marts do not exist: warehouses built before them,
unit fixtures): every row of ``marts.fct_usage_daily``, as the reports always did.

:func:`spend_basis` decides; the report modules only ever read :attr:`SpendBasis.spend` and
:attr:`SpendBasis.allocated`, two SQL relations with the same columns (:data:`COLUMNS`), so no
query knows which basis it runs on.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from typing import Any

import duckdb

from reports.query import columns, table_exists

log = logging.getLogger(__name__)

USAGE_TABLE = "marts.fct_usage_daily"
SPEND_TABLE = "marts.fct_spend_daily"
ALLOCATED_TABLE = "marts.fct_spend_allocated"

AUTHORITATIVE = "authoritative"
USAGE = "usage"

# The columns of both relations, in order. ``total_cost_usd`` = cost + platform fee (NULL when
# the cost is unknown, never $0); ``platform_fee_usd`` counts only where the cost is known;
# ``unpriced_requests`` / ``unpriced_tokens`` are the row's usage without a known cost;
# ``is_unpriced`` says the row has some.
COLUMNS = (
    "usage_date", "source", "provider", "model", "project_id", "api_key_id", "user_id",
    "integration_id", "request_count", "input_tokens", "cached_input_tokens",
    "cache_write_tokens", "output_tokens", "list_cost_usd", "billed_cost_usd", "platform_fee_usd",
    "total_cost_usd", "unpriced_requests", "unpriced_tokens", "is_unpriced",
)  # fmt: skip

# What the accounting marts must have for the authoritative basis (an older layout falls back).
_SPEND_NEEDS = {
    "usage_date", "provider", "model", "project_id", "integration_id", "spend_usd",
    "authoritative_source", "request_count", "input_tokens", "cached_input_tokens",
    "cache_write_tokens", "output_tokens", "list_cost_usd", "billed_cost_usd",
    "has_unpriced_usage",
}  # fmt: skip
_ALLOCATED_NEEDS = {
    "usage_date", "provider", "model", "project_id", "integration_id", "user_id", "api_key_id",
    "allocated_cost_usd", "request_count", "authoritative_source",
}  # fmt: skip
_USAGE_NEEDS = {"usage_date", "source", "provider", "platform_fee_usd", "total_cost_usd"}

# The spend grain of fct_spend_daily (NULL keys group together, so they join NULL-safe).
_GRAIN = ("usage_date", "provider", "model", "project_id", "integration_id")

TOKENS_SQL = (
    "coalesce(input_tokens, 0) + coalesce(cached_input_tokens, 0)"
    " + coalesce(cache_write_tokens, 0) + coalesce(output_tokens, 0)"
)

AUTHORITATIVE_NOTE = (
    "Spend basis: the authoritative source per UTC day and provider (marts.fct_spend_daily; "
    "per user and API key, marts.fct_spend_allocated); other sources of the same usage are "
    "reconciled in Data health, not added."
)
USAGE_NOTE = (
    "Spend basis: every row of marts.fct_usage_daily, so usage reported by more than one source "
    "is counted once per source."
)


def _on(left: str, right: str, keys: tuple[str, ...] = _GRAIN) -> str:
    return " AND ".join(f"{left}.{key} IS NOT DISTINCT FROM {right}.{key}" for key in keys)


_USAGE_SQL = f"""(
    SELECT
        usage_date, source, provider, model, project_id, api_key_id, user_id, integration_id,
        request_count, input_tokens, cached_input_tokens, cache_write_tokens, output_tokens,
        list_cost_usd, billed_cost_usd, platform_fee_usd, total_cost_usd,
        CASE WHEN total_cost_usd IS NULL THEN coalesce(request_count, 0) ELSE 0 END
            AS unpriced_requests,
        CASE WHEN total_cost_usd IS NULL THEN {TOKENS_SQL} ELSE 0 END AS unpriced_tokens,
        total_cost_usd IS NULL AS is_unpriced
    FROM {USAGE_TABLE}
)"""

_U_TOKENS = TOKENS_SQL.replace("coalesce(", "coalesce(u.")
_S_TOKENS = TOKENS_SQL.replace("coalesce(", "coalesce(s.")

# fct_spend_daily with the platform fee and the unpriced usage of the authoritative source's
# fct_usage_daily rows, summed to the spend grain.
_SPEND_SQL = f"""(
    WITH authoritative AS (
        SELECT DISTINCT usage_date, provider, authoritative_source FROM {SPEND_TABLE}
    ),
    authoritative_usage AS (
        SELECT
            u.usage_date, u.provider, u.model, u.project_id, u.integration_id,
            sum(u.platform_fee_usd) FILTER (WHERE u.total_cost_usd IS NOT NULL)
                AS platform_fee_usd,
            sum(coalesce(u.request_count, 0)) FILTER (WHERE u.total_cost_usd IS NULL)
                AS unpriced_requests,
            sum({_U_TOKENS}) FILTER (WHERE u.total_cost_usd IS NULL) AS unpriced_tokens
        FROM {USAGE_TABLE} AS u
        JOIN authoritative AS a
            ON u.usage_date = a.usage_date
            AND u.provider IS NOT DISTINCT FROM a.provider
            AND u.source = a.authoritative_source
        GROUP BY ALL
    )
    SELECT
        s.usage_date,
        s.authoritative_source AS source,
        s.provider, s.model, s.project_id,
        CAST(NULL AS VARCHAR) AS api_key_id,
        CAST(NULL AS VARCHAR) AS user_id,
        s.integration_id,
        s.request_count, s.input_tokens, s.cached_input_tokens, s.cache_write_tokens,
        s.output_tokens, s.list_cost_usd, s.billed_cost_usd,
        CASE WHEN s.spend_usd IS NULL THEN NULL ELSE coalesce(f.platform_fee_usd, 0) END
            AS platform_fee_usd,
        s.spend_usd + coalesce(f.platform_fee_usd, 0) AS total_cost_usd,
        CASE WHEN s.spend_usd IS NULL THEN coalesce(s.request_count, 0)
             ELSE coalesce(f.unpriced_requests, 0) END AS unpriced_requests,
        CASE WHEN s.spend_usd IS NULL THEN {_S_TOKENS}
             ELSE coalesce(f.unpriced_tokens, 0) END AS unpriced_tokens,
        s.spend_usd IS NULL OR coalesce(s.has_unpriced_usage, false)
            OR coalesce(f.unpriced_tokens, 0) + coalesce(f.unpriced_requests, 0) > 0
            AS is_unpriced
    FROM {SPEND_TABLE} AS s
    LEFT JOIN authoritative_usage AS f ON {_on("s", "f")}
)"""

_PARTITION = "PARTITION BY " + ", ".join(f"a.{key}" for key in _GRAIN)

# fct_spend_allocated with each spend row's fee shared out like its cost; no tokens per user/key.
_ALLOCATED_SQL = f"""(
    WITH spend AS {_SPEND_SQL},
    allocated AS (
        SELECT
            a.*,
            sum(a.allocated_cost_usd) OVER ({_PARTITION}) AS part_cost,
            sum(coalesce(a.request_count, 0)) OVER ({_PARTITION}) AS part_requests,
            row_number() OVER (
                {_PARTITION} ORDER BY a.user_id NULLS FIRST, a.api_key_id NULLS FIRST
            ) AS part_row
        FROM {ALLOCATED_TABLE} AS a
    ),
    shared AS (
        SELECT
            a.*,
            s.is_unpriced AS spend_is_unpriced,
            CASE
                WHEN a.allocated_cost_usd IS NULL THEN NULL
                WHEN coalesce(s.platform_fee_usd, 0) = 0 THEN 0.0
                WHEN a.part_cost > 0 THEN CAST(s.platform_fee_usd AS DOUBLE)
                    * CAST(a.allocated_cost_usd AS DOUBLE) / CAST(a.part_cost AS DOUBLE)
                WHEN a.part_requests > 0 THEN CAST(s.platform_fee_usd AS DOUBLE)
                    * coalesce(a.request_count, 0) / a.part_requests
                WHEN a.part_row = 1 THEN CAST(s.platform_fee_usd AS DOUBLE)
                ELSE 0.0
            END AS fee_share
        FROM allocated AS a
        LEFT JOIN spend AS s ON {_on("a", "s")}
    )
    SELECT
        usage_date,
        authoritative_source AS source,
        provider, model, project_id, api_key_id, user_id, integration_id, request_count,
        CAST(NULL AS BIGINT) AS input_tokens,
        CAST(NULL AS BIGINT) AS cached_input_tokens,
        CAST(NULL AS BIGINT) AS cache_write_tokens,
        CAST(NULL AS BIGINT) AS output_tokens,
        CAST(NULL AS DECIMAL(18, 6)) AS list_cost_usd,
        CAST(NULL AS DECIMAL(18, 6)) AS billed_cost_usd,
        fee_share AS platform_fee_usd,
        CAST(allocated_cost_usd AS DOUBLE) + fee_share AS total_cost_usd,
        CASE WHEN allocated_cost_usd IS NULL THEN coalesce(request_count, 0) ELSE 0 END
            AS unpriced_requests,
        CAST(NULL AS BIGINT) AS unpriced_tokens,
        allocated_cost_usd IS NULL OR coalesce(spend_is_unpriced, false) AS is_unpriced
    FROM shared
)"""


@dataclass(frozen=True)
class SpendBasis:
    """Where the report's money comes from: two SQL relations with the columns :data:`COLUMNS`.

    ``spend``: one row per usage_date x provider x model x project x integration (authoritative)
    or per ``fct_usage_daily`` row (usage); ``allocated``: the same money per user and API key
    (``user_id`` / ``api_key_id``), to group by those. ``allocated_has_tokens`` is false when the
    allocated rows carry no tokens (authoritative basis).
    """

    kind: str
    spend: str
    allocated: str
    allocated_has_tokens: bool
    note: str
    reason: str | None = None

    @property
    def authoritative(self) -> bool:
        return self.kind == AUTHORITATIVE

    @staticmethod
    def per_user_or_key(keys: tuple[str, ...] | list[str]) -> bool:
        """Whether grouping by ``keys`` needs the per-user-and-key relation."""
        return bool({"user_id", "api_key_id"} & set(keys))

    def relation(self, keys: tuple[str, ...] | list[str]) -> str:
        """The relation to group by ``keys``: ``allocated`` for users and keys, else ``spend``."""
        return self.allocated if self.per_user_or_key(keys) else self.spend

    def has_tokens(self, keys: tuple[str, ...] | list[str]) -> bool:
        """Whether the relation for ``keys`` carries tokens."""
        return self.allocated_has_tokens or not self.per_user_or_key(keys)

    def as_dict(self) -> dict[str, Any]:
        """Plain data for the pages: ``kind``, ``authoritative``, ``note`` and ``reason``."""
        return {
            "kind": self.kind,
            "authoritative": self.authoritative,
            "note": self.note,
            "reason": self.reason,
        }


AUTHORITATIVE_BASIS = SpendBasis(
    kind=AUTHORITATIVE,
    spend=_SPEND_SQL,
    allocated=_ALLOCATED_SQL,
    allocated_has_tokens=False,
    note=AUTHORITATIVE_NOTE,
)


def _missing(con: duckdb.DuckDBPyConnection, table: str, needs: set[str]) -> str | None:
    """Why ``table`` cannot be used (absent, or columns missing); ``None`` when it can."""
    schema, name = table.split(".")
    if not table_exists(con, schema, name):
        return f"{table} does not exist"
    lacking = sorted(needs - set(columns(con, schema, name)))
    if lacking:
        return f"{table} has no column {', '.join(lacking)}"
    return None


def usage_basis(reason: str | None = None) -> SpendBasis:
    """The fallback basis: every row of ``marts.fct_usage_daily`` (``reason``: why not the
    authoritative one)."""
    note = USAGE_NOTE if reason is None else f"{USAGE_NOTE[:-1]} ({reason})."
    return SpendBasis(
        kind=USAGE,
        spend=_USAGE_SQL,
        allocated=_USAGE_SQL,
        allocated_has_tokens=True,
        note=note,
        reason=reason,
    )


def _stale(con: duckdb.DuckDBPyConnection) -> str | None:
    """Why the accounting marts are older than the usage (a build that stopped before them), or
    ``None``. Built together they end on the same day: both group the same priced records."""
    usage, spend, allocated = con.execute(
        f"SELECT (SELECT max(usage_date) FROM {USAGE_TABLE}),"
        f" (SELECT max(usage_date) FROM {SPEND_TABLE}),"
        f" (SELECT max(usage_date) FROM {ALLOCATED_TABLE})"
    ).fetchone() or (None, None, None)
    if usage is None or (spend == usage and allocated == usage):
        return None
    return (
        f"the accounting marts end on {spend or 'no day'} / {allocated or 'no day'}, "
        f"{USAGE_TABLE} on {usage}: they are older than the usage"
    )


def spend_basis(con: duckdb.DuckDBPyConnection) -> SpendBasis:
    """The authoritative basis when the accounting marts exist with the columns it needs and are
    as new as ``fct_usage_daily``; else the ``fct_usage_daily`` basis (``reason`` says why)."""
    reason = None
    for table, needs in (
        (SPEND_TABLE, _SPEND_NEEDS),
        (ALLOCATED_TABLE, _ALLOCATED_NEEDS),
        (USAGE_TABLE, _USAGE_NEEDS),
    ):
        reason = reason or _missing(con, table, needs)
    if reason is None:
        try:
            reason = _stale(con)
        except duckdb.Error as exc:
            reason = f"the accounting marts could not be read ({type(exc).__name__})"
    if reason is not None:
        log.debug("reports use the fct_usage_daily spend basis: %s", reason)
        return usage_basis(reason)
    return AUTHORITATIVE_BASIS


def source_roles(
    con: duckdb.DuckDBPyConnection, basis: SpendBasis, start: Any, end: Any
) -> dict[str | None, dict[str, Any]]:
    """Per source, how much of its usage from ``start`` to ``end`` the spend counts.

    ``{source: {"day_providers": n, "counted_day_providers": m, "role": ...}}`` over the
    source's UTC day x provider pairs with usage: ``role`` is ``counted`` (authoritative for all
    of them), ``partly counted``, ``reconciled only`` (never authoritative: the same usage came
    from a better source) or, on the usage basis, ``counted`` for every source.
    """
    if not basis.authoritative:
        sql = f"""
        SELECT source, count(DISTINCT (usage_date, provider)) AS day_providers,
               count(DISTINCT (usage_date, provider)) AS counted_day_providers
        FROM {USAGE_TABLE} WHERE usage_date BETWEEN $start AND $end GROUP BY source
        """
    else:
        sql = f"""
        WITH seen AS (
            SELECT DISTINCT source, usage_date, provider FROM {USAGE_TABLE}
            WHERE usage_date BETWEEN $start AND $end
        ),
        counted AS (
            SELECT DISTINCT authoritative_source AS source, usage_date, provider
            FROM {SPEND_TABLE} WHERE usage_date BETWEEN $start AND $end
        )
        SELECT s.source, count(*) AS day_providers, count(c.source) AS counted_day_providers
        FROM seen AS s
        LEFT JOIN counted AS c
            ON c.source = s.source AND c.usage_date = s.usage_date
            AND c.provider IS NOT DISTINCT FROM s.provider
        GROUP BY s.source
        """
    found: dict[str | None, dict[str, Any]] = {}
    for source, seen, counted in con.execute(sql, {"start": start, "end": end}).fetchall():
        if counted >= seen:
            role = "counted"
        elif counted:
            role = "partly counted"
        else:
            role = "reconciled only"
        found[source] = {
            "day_providers": int(seen),
            "counted_day_providers": int(counted),
            "role": role,
        }
    return found


def usage_outside_the_counts(
    con: duckdb.DuckDBPyConnection, basis: SpendBasis, start: Any, end: Any
) -> dict[str, Any]:
    """Requests and tokens the spend basis does not count because its source reports cost only.

    On the authoritative basis a day and provider's requests and tokens are the authoritative
    source's. When that source has cost lines but no usage that day (an OpenAI or Anthropic cost
    export dropped without the matching usage export), the requests and tokens other sources saw
    are missing from every request and token figure while the money is right. Per such UTC day x
    provider from ``start`` to ``end`` this takes the largest request count (and the largest token
    count) any other source reports, never their sum: the other sources see the same traffic.

    ``{"day_providers": n, "requests": r, "tokens": t, "cost_only_sources": [...],
    "seen_by": [...]}``; all zero / empty on the usage basis (it counts every source).
    """
    found: dict[str, Any] = {
        "day_providers": 0,
        "requests": 0,
        "tokens": 0,
        "cost_only_sources": [],
        "seen_by": [],
    }
    if not basis.authoritative:
        return found
    sql = f"""
    WITH counted AS (
        SELECT usage_date, provider, any_value(authoritative_source) AS source
        FROM {SPEND_TABLE}
        WHERE usage_date BETWEEN $start AND $end
        GROUP BY ALL
        HAVING coalesce(sum(request_count), 0) = 0 AND coalesce(sum({TOKENS_SQL}), 0) = 0
    ),
    others AS (
        SELECT u.usage_date, u.provider, u.source,
               coalesce(sum(u.request_count), 0) AS requests,
               coalesce(sum({TOKENS_SQL}), 0) AS tokens
        FROM {USAGE_TABLE} AS u
        JOIN counted AS c
            ON c.usage_date = u.usage_date AND c.provider IS NOT DISTINCT FROM u.provider
            AND u.source <> c.source
        GROUP BY ALL
    ),
    per_day AS (
        SELECT o.usage_date, o.provider, any_value(c.source) AS cost_only_source,
               max(o.requests) AS requests, max(o.tokens) AS tokens,
               list(o.source) FILTER (WHERE o.requests > 0 OR o.tokens > 0) AS seen_by
        FROM others AS o
        JOIN counted AS c
            ON c.usage_date = o.usage_date AND c.provider IS NOT DISTINCT FROM o.provider
        GROUP BY ALL
        HAVING max(o.requests) > 0 OR max(o.tokens) > 0
    )
    SELECT count(*) AS day_providers,
           coalesce(sum(requests), 0) AS requests,
           coalesce(sum(tokens), 0) AS tokens,
           list_sort(list_distinct(list(cost_only_source))) AS cost_only_sources,
           list_sort(list_distinct(flatten(list(seen_by)))) AS seen_by
    FROM per_day
    """
    try:
        row = con.execute(sql, {"start": start, "end": end}).fetchone()
    except duckdb.Error as exc:
        log.warning("usage outside the request and token counts could not be read: %s", exc)
        return found
    if row is None or not row[0]:
        return found
    found.update(
        day_providers=int(row[0]),
        requests=int(row[1]),
        tokens=int(row[2]),
        cost_only_sources=list(row[3] or []),
        seen_by=list(row[4] or []),
    )
    return found
