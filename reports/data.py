"""What the weekly report shows, as plain data queried from the warehouse (read-only, no HTML).

Weeks are ISO weeks written ``YYYY-Www`` (Monday to Sunday, UTC days, as ``usage_date`` is).
:func:`weekly_report_data` returns one nested dict of plain values (str, int, float, bool, None,
lists and dicts; dates and timestamps as ISO strings) so it can be rendered, dumped to JSON or
asserted on in tests.

Every money figure (and the requests and tokens beside it) is summed from the *spend basis* of
:mod:`reports.spend`: the authoritative source per UTC day and provider (``marts.fct_spend_daily``,
and ``marts.fct_spend_allocated`` per user and API key) when the accounting marts exist, else every
row of ``marts.fct_usage_daily``; ``spend_basis`` in the data says which. A cost is billed where
the source reports one, else list price, plus the platform fee. A NULL cost is *unpriced* usage: it
is counted separately (tokens and requests) and never as $0. A cost is ``None`` in this data when
usage exists but none of it is priced; it is ``0.0`` only when there was no usage at all.

``marts.fct_usage_daily`` is required (the weeks, the as-of date and the per-source data health
read it). ``meta.ingested_files``, ``meta.integrations``,
``marts.anomalies``, ``marts.savings_opportunities``, ``marts.monthly_statement``,
``marts.rpt_source_reconciliation``, the ``raw.*`` tables and a check-results table are optional:
when one is missing its section comes back with ``available: False`` (or empty) and a note.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from typing import Any

import duckdb

from reports.health import (
    failed_checks,
    last_file_loads,
    newest_raw_load,
    raw_tables,
    reconciliation_gaps,
)
from reports.my_integrations import my_integrations
from reports.query import fetch_one as _one
from reports.query import fetch_rows as _rows
from reports.query import newest_timestamp, table_exists
from reports.query import timestamp_expr as _timestamp_expr
from reports.spend import (
    TOKENS_SQL,
    USAGE_TABLE,
    SpendBasis,
    source_roles,
    spend_basis,
    usage_outside_the_counts,
)

log = logging.getLogger(__name__)

# How many api keys / users the "top" tables list.
TOP_N = 10
# The trend covers the report week and the 12 before it: a quarter, enough to see a direction.
TREND_WEEKS = 13
# Quarantined files listed in data health; older ones are counted but not listed.
QUARANTINE_LIMIT = 50
RECENT_FILES_LIMIT = 20
# Rows per month of the monthly statement; the rest are summed in the month's totals.
STATEMENT_ROWS_PER_MONTH = 25
# Anomalies listed (report week and the week before); the rest are counted.
ANOMALY_LIMIT = 50
WEEKDAYS = ("Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun")
# A day of the report week with no usage from any source is called out when the same weekday had
# usage in at least SILENT_DAY_MIN_WEEKS of the SILENT_DAY_WEEKS weeks before: a missed export or
# a failed pull, not a quiet weekend.
SILENT_DAY_WEEKS = 4
SILENT_DAY_MIN_WEEKS = 2
UNATTRIBUTED = "(unattributed)"
UNKNOWN = "(unknown)"

_WEEK_RE = re.compile(r"^(\d{4})-W(\d{2})$")

# Every token kind the contract lists; "tokens" in this module means their sum.
_TOKENS = TOKENS_SQL
_SEVERITY_ORDER = (
    "CASE severity WHEN 'high' THEN 0 WHEN 'medium' THEN 1 WHEN 'low' THEN 2 ELSE 3 END"
)


class ReportDataError(RuntimeError):
    """The warehouse cannot produce a report (e.g. ``marts.fct_usage_daily`` does not exist)."""


# --------------------------------------------------------------------------------------------
# ISO weeks


def parse_week(week: str) -> tuple[date, date]:
    """The Monday and Sunday of ISO week ``YYYY-Www``; ``ValueError`` for anything else."""
    match = _WEEK_RE.match(week)
    if match is None:
        raise ValueError(f"not an ISO week (expected YYYY-Www, e.g. 2025-W03): {week!r}")
    year, number = int(match.group(1)), int(match.group(2))
    try:
        monday = date.fromisocalendar(year, number, 1)
    except ValueError:
        raise ValueError(f"{week!r}: ISO year {year} has no week {number}") from None
    return monday, monday + timedelta(days=6)


def iso_week(day: date) -> str:
    """ISO week ``YYYY-Www`` containing ``day`` (its ISO year may differ from the calendar's)."""
    year, number, _ = day.isocalendar()
    return f"{year:04d}-W{number:02d}"


def shift_week(week: str, weeks: int) -> str:
    """The ISO week ``weeks`` weeks after ``week`` (before, when negative)."""
    monday, _ = parse_week(week)
    return iso_week(monday + timedelta(weeks=weeks))


def last_complete_week(today: date) -> str:
    """The newest ISO week that ended before ``today``.

    The week containing ``today`` is never complete, not even on a Sunday (the day is not over),
    so this is always the week before today's.
    """
    return iso_week(today - timedelta(days=7))


@dataclass(frozen=True)
class _Window:
    """A report week and the windows compared with it."""

    start: date
    end: date

    @property
    def prev_start(self) -> date:
        return self.start - timedelta(days=7)

    @property
    def trend_start(self) -> date:
        return self.start - timedelta(weeks=TREND_WEEKS - 1)

    def params(self) -> dict[str, date]:
        return {"start": self.start, "end": self.end, "prev_start": self.prev_start}


# --------------------------------------------------------------------------------------------
# Query helpers


def _require_usage(con: duckdb.DuckDBPyConnection) -> None:
    if not table_exists(con, "marts", "fct_usage_daily"):
        raise ReportDataError(
            f"{USAGE_TABLE} does not exist in this warehouse: run the pipeline (`meterr run`) first"
        )


def _cost(total: float | None, rows: int, unpriced_rows: int) -> float | None:
    """A summed cost: ``None`` when usage exists but none of it is priced, 0.0 with no usage."""
    if total is not None:
        return float(total)
    return None if unpriced_rows else 0.0


def _change(current: float | None, previous: float | None) -> tuple[float | None, float | None]:
    """Absolute and relative change; the relative one is ``None`` without a previous spend.

    Both are ``None`` when either side is unpriced (unknown), which is not the same as $0.
    """
    if current is None or previous is None:
        return None, None
    delta = current - previous
    relative = delta / previous if previous else None
    return delta, relative


def _share(part: float | int | None, whole: float | int | None) -> float | None:
    if part is None or not whole:
        return None
    return float(part) / float(whole)


def _label(value: str | None, missing: str) -> str:
    return missing if value is None or value == "" else value


# --------------------------------------------------------------------------------------------
# Sections


_TOTALS_SQL = f"""
SELECT
    count(*) AS row_count,
    count(*) FILTER (WHERE total_cost_usd IS NULL) AS unpriced_rows,
    sum(total_cost_usd) AS cost_usd,
    sum(list_cost_usd) AS list_cost_usd,
    sum(billed_cost_usd) AS billed_cost_usd,
    sum(platform_fee_usd) AS platform_fee_usd,
    coalesce(sum(request_count), 0) AS requests,
    coalesce(sum(input_tokens), 0) AS input_tokens,
    coalesce(sum(cached_input_tokens), 0) AS cached_input_tokens,
    coalesce(sum(cache_write_tokens), 0) AS cache_write_tokens,
    coalesce(sum(output_tokens), 0) AS output_tokens,
    coalesce(sum({_TOKENS}), 0) AS tokens,
    coalesce(sum(unpriced_requests), 0) AS unpriced_requests,
    coalesce(sum(unpriced_tokens), 0) AS unpriced_tokens,
    count(DISTINCT usage_date) AS active_days
FROM {{relation}} AS basis
WHERE usage_date BETWEEN $start AND $end
"""


def _totals(con: duckdb.DuckDBPyConnection, window: _Window, basis: SpendBasis) -> dict[str, Any]:
    """Headline numbers for the week and the week before it.

    ``not_counted``: requests and tokens seen this week by sources that are not counted, on days
    whose counted source reports cost only (:func:`reports.spend.usage_outside_the_counts`).
    """
    sql = _TOTALS_SQL.format(relation=basis.spend)
    current = _one(con, sql, {"start": window.start, "end": window.end})
    previous = _one(con, sql, {"start": window.prev_start, "end": window.start - timedelta(days=1)})
    cost = _cost(current["cost_usd"], current["row_count"], current["unpriced_rows"])
    prev_cost = _cost(previous["cost_usd"], previous["row_count"], previous["unpriced_rows"])
    change_usd, change_pct = _change(cost, prev_cost)
    not_counted = usage_outside_the_counts(con, basis, window.start, window.end)
    totals = dict(current)
    totals.update(
        cost_usd=cost,
        prev_cost_usd=prev_cost,
        prev_requests=previous["requests"],
        prev_tokens=previous["tokens"],
        wow_change_usd=change_usd,
        wow_change_pct=change_pct,
        unpriced_share_tokens=_share(current["unpriced_tokens"], current["tokens"]),
        unpriced_share_requests=_share(current["unpriced_requests"], current["requests"]),
        # Unknown when some days' requests are not counted: the ratio would overstate it.
        cost_per_1k_requests_usd=(
            cost / current["requests"] * 1000
            if cost is not None and current["requests"] and not not_counted["day_providers"]
            else None
        ),
        not_counted=not_counted,
    )
    return totals


def _grouped(
    con: duckdb.DuckDBPyConnection,
    window: _Window,
    keys: tuple[str, ...],
    basis: SpendBasis,
    *,
    limit: int | None = None,
    include_dropped: bool = False,
) -> tuple[list[dict[str, Any]], int]:
    """Per-group usage for the week with last week's cost beside it; also the number of groups.

    ``keys`` are column names of the basis relations (fixed by the callers, never user input):
    grouping by ``user_id`` or ``api_key_id`` reads the per-user-and-key relation, whose tokens
    may be unknown (``None``). ``include_dropped`` keeps groups that had usage last week and none
    this week.
    """
    cols = ", ".join(keys)
    cur = "(usage_date >= $start)"
    # Without tokens in the relation (per user/key on the authoritative basis) they are unknown.
    zero = "0" if basis.has_tokens(keys) else "NULL"
    tokens = (
        f"coalesce(sum({_TOKENS}) FILTER (WHERE {cur}), 0)"
        if basis.has_tokens(keys)
        else "CAST(NULL AS BIGINT)"
    )
    having = "" if include_dropped else f"HAVING count(*) FILTER (WHERE {cur}) > 0"
    limit_sql = f"LIMIT {int(limit)}" if limit else ""
    sql = f"""
    SELECT
        {cols},
        count(*) FILTER (WHERE {cur}) AS row_count,
        count(*) FILTER (WHERE {cur} AND total_cost_usd IS NULL) AS unpriced_rows,
        sum(total_cost_usd) FILTER (WHERE {cur}) AS cost_usd,
        count(*) FILTER (WHERE NOT {cur}) AS prev_row_count,
        count(*) FILTER (WHERE NOT {cur} AND total_cost_usd IS NULL) AS prev_unpriced_rows,
        sum(total_cost_usd) FILTER (WHERE NOT {cur}) AS prev_cost_usd,
        coalesce(sum(request_count) FILTER (WHERE {cur}), 0) AS requests,
        coalesce(sum(input_tokens) FILTER (WHERE {cur}), {zero}) AS input_tokens,
        coalesce(sum(cached_input_tokens) FILTER (WHERE {cur}), {zero}) AS cached_input_tokens,
        coalesce(sum(cache_write_tokens) FILTER (WHERE {cur}), {zero}) AS cache_write_tokens,
        coalesce(sum(output_tokens) FILTER (WHERE {cur}), {zero}) AS output_tokens,
        {tokens} AS tokens,
        coalesce(sum(unpriced_requests) FILTER (WHERE {cur}), 0) AS unpriced_requests,
        coalesce(sum(unpriced_tokens) FILTER (WHERE {cur}), {zero}) AS unpriced_tokens,
        bool_or(is_unpriced) FILTER (WHERE {cur}) AS has_unpriced,
        count(*) OVER () AS group_count
    FROM {basis.relation(keys)} AS basis
    WHERE usage_date BETWEEN $prev_start AND $end
    GROUP BY {cols}
    {having}
    ORDER BY cost_usd DESC NULLS LAST, tokens DESC, prev_cost_usd DESC NULLS LAST, {cols}
    {limit_sql}
    """
    rows = _rows(con, sql, window.params())
    group_count = rows[0]["group_count"] if rows else 0
    for row in rows:
        del row["group_count"]
        row["cost_usd"] = _cost(row["cost_usd"], row["row_count"], row["unpriced_rows"])
        row["prev_cost_usd"] = _cost(
            row["prev_cost_usd"], row["prev_row_count"], row["prev_unpriced_rows"]
        )
        row["change_usd"], row["change_pct"] = _change(row["cost_usd"], row["prev_cost_usd"])
        row["fully_unpriced"] = row["row_count"] > 0 and row["unpriced_rows"] == row["row_count"]
        # Some usage has no known cost, the rest does (a spend row can be partly unpriced).
        row["partly_unpriced"] = row["cost_usd"] is not None and bool(row.pop("has_unpriced"))
    return rows, group_count


def _add_shares(rows: list[dict[str, Any]], total_cost: float | None) -> None:
    for row in rows:
        row["share"] = _share(row["cost_usd"], total_cost)


def _by_provider(
    con: duckdb.DuckDBPyConnection, window: _Window, basis: SpendBasis, total_cost: float | None
) -> list[dict[str, Any]]:
    """One row per provider: cost, last week's cost and the change, requests, tokens, share."""
    rows, _ = _grouped(con, window, ("provider",), basis, include_dropped=True)
    for row in rows:
        row["label"] = _label(row["provider"], UNKNOWN)
    _add_shares(rows, total_cost)
    return rows


def _by_model(
    con: duckdb.DuckDBPyConnection, window: _Window, basis: SpendBasis, total_cost: float | None
) -> list[dict[str, Any]]:
    """One row per provider x model with usage this week, most expensive first."""
    rows, _ = _grouped(con, window, ("provider", "model"), basis)
    names = [row["model"] for row in rows]
    for row in rows:
        model = _label(row["model"], UNKNOWN)
        # The same model id under two providers (e.g. a gateway) needs the provider to tell apart.
        ambiguous = names.count(row["model"]) > 1
        row["label"] = f"{_label(row['provider'], UNKNOWN)}: {model}" if ambiguous else model
    _add_shares(rows, total_cost)
    return rows


def _top(
    con: duckdb.DuckDBPyConnection,
    window: _Window,
    column: str,
    basis: SpendBasis,
    total_cost: float | None,
) -> dict[str, Any]:
    """The ``TOP_N`` biggest spenders by ``column``; NULL is shown as ``(unattributed)``.

    On the authoritative basis users and API keys come from ``marts.fct_spend_allocated``: the
    unattributed remainder is a row like any other, so the rows (and "others") add up to the
    week's total.
    """
    rows, group_count = _grouped(con, window, (column,), basis, limit=TOP_N)
    for row in rows:
        row["key"] = row.pop(column)
        row["label"] = _label(row["key"], UNATTRIBUTED)
        row["attributed"] = row["key"] is not None and row["key"] != ""
    _add_shares(rows, total_cost)
    shown = sum(row["cost_usd"] or 0.0 for row in rows)
    others = None
    if total_cost is not None and group_count > len(rows):
        others = max(total_cost - shown, 0.0)
    return {
        "rows": rows,
        "group_count": group_count,
        "others_count": max(group_count - len(rows), 0),
        "others_cost_usd": others,
    }


def _daily(
    con: duckdb.DuckDBPyConnection, window: _Window, basis: SpendBasis
) -> tuple[list[dict[str, Any]], list[dict[str, Any]], list[dict[str, Any]]]:
    """The week's days, the 13 weeks' days (zero-filled) and the 13 weekly totals."""
    sql = f"""
    SELECT
        usage_date,
        count(*) AS row_count,
        count(*) FILTER (WHERE total_cost_usd IS NULL) AS unpriced_rows,
        sum(total_cost_usd) AS cost_usd,
        coalesce(sum(request_count), 0) AS requests,
        coalesce(sum({_TOKENS}), 0) AS tokens,
        coalesce(sum(unpriced_tokens), 0) AS unpriced_tokens
    FROM {basis.spend} AS basis
    WHERE usage_date BETWEEN $trend_start AND $end
    GROUP BY usage_date
    """
    found = {
        row["usage_date"]: row
        for row in _rows(con, sql, {"trend_start": window.trend_start, "end": window.end})
    }
    history: list[dict[str, Any]] = []
    day = window.trend_start
    while day <= window.end:
        row = found.get(day.isoformat())
        history.append(
            {
                "date": day.isoformat(),
                "week": iso_week(day),
                "cost_usd": _cost(row["cost_usd"], row["row_count"], row["unpriced_rows"])
                if row
                else 0.0,
                "requests": row["requests"] if row else 0,
                "tokens": row["tokens"] if row else 0,
                "unpriced_tokens": row["unpriced_tokens"] if row else 0,
                "has_usage": row is not None,
            }
        )
        day += timedelta(days=1)
    week_days = history[-7:]
    weeks: list[dict[str, Any]] = []
    for index in range(TREND_WEEKS):
        days = history[index * 7 : index * 7 + 7]
        priced = [d["cost_usd"] for d in days if d["cost_usd"] is not None]
        unpriced_only = not priced and any(d["has_usage"] for d in days)
        weeks.append(
            {
                "week": days[0]["week"],
                "week_start": days[0]["date"],
                "week_end": days[-1]["date"],
                "cost_usd": None if unpriced_only else sum(priced),
                "requests": sum(d["requests"] for d in days),
                "tokens": sum(d["tokens"] for d in days),
                "is_report_week": index == TREND_WEEKS - 1,
            }
        )
    return week_days, history, weeks


def _silent_days(history: list[dict[str, Any]], newest_usage: str | None) -> list[str]:
    """Days of the report week (the last 7 of ``history``) with no usage at all although newer
    usage exists (so the data has moved past them) and the same weekday usually has usage (see
    :data:`SILENT_DAY_WEEKS`). ISO dates, oldest first."""
    if newest_usage is None:
        return []
    silent = []
    for index in range(len(history) - 7, len(history)):
        day = history[index]
        if day["has_usage"] or day["date"] > newest_usage:
            continue
        before = [
            history[index - 7 * weeks]["has_usage"]
            for weeks in range(1, SILENT_DAY_WEEKS + 1)
            if index - 7 * weeks >= 0
        ]
        if sum(before) >= SILENT_DAY_MIN_WEEKS:
            silent.append(day["date"])
    return silent


def _heatmap(history: list[dict[str, Any]], window: _Window) -> dict[str, Any]:
    """Daily usage as weekday x ISO week over the 13 trend weeks: the heat map's cells.

    ``marts.fct_usage_daily`` is daily, so a day is the finest cell. The value is priced spend,
    or tokens when nothing in the 13 weeks is priced (``metric`` says which). ``by_weekday`` sums
    each weekday over the 13 weeks, to show the usage pattern in words.
    """
    metric = "cost_usd" if any(d["cost_usd"] for d in history) else "tokens"
    cells = []
    for row in history:
        day = date.fromisoformat(row["date"])
        cells.append(
            {
                "date": row["date"],
                "week": row["week"],
                "weekday": WEEKDAYS[day.weekday()],
                "value": row[metric] or 0,
                "cost_usd": row["cost_usd"],
                "tokens": row["tokens"],
                "requests": row["requests"],
                "has_usage": row["has_usage"],
                "in_report_week": window.start <= day <= window.end,
            }
        )
    peak = max((c for c in cells if c["value"]), key=lambda c: c["value"], default=None)
    total = sum(cell["value"] for cell in cells)
    by_weekday = []
    for name in WEEKDAYS:
        value = sum(cell["value"] for cell in cells if cell["weekday"] == name)
        by_weekday.append({"weekday": name, "value": value, "share": _share(value, total)})
    busiest = max(by_weekday, key=lambda w: w["value"]) if total else None
    return {
        "metric": metric,
        "cells": cells,
        "weeks": sorted({cell["week"] for cell in cells}),
        "has_data": any(cell["value"] for cell in cells),
        "peak": {"date": peak["date"], "value": peak["value"]} if peak else None,
        "by_weekday": by_weekday,
        "busiest_weekday": busiest["weekday"] if busiest else None,
        "total": total,
    }


def _unpriced(
    con: duckdb.DuckDBPyConnection, window: _Window, basis: SpendBasis, totals: dict[str, Any]
) -> dict[str, Any]:
    """Usage whose cost is NULL (no price known), by model, with the sources it came from."""
    sql = f"""
    WITH week AS (
        SELECT * FROM {basis.spend} AS basis WHERE usage_date BETWEEN $start AND $end
    ),
    unpriced AS (
        SELECT
            provider,
            model,
            coalesce(sum(unpriced_requests), 0) AS requests,
            coalesce(sum(unpriced_tokens), 0) AS tokens,
            list_sort(list(DISTINCT source)) AS sources,
            min(usage_date) AS first_date,
            max(usage_date) AS last_date
        FROM week
        WHERE is_unpriced
        GROUP BY provider, model
    ),
    model_totals AS (
        SELECT provider, model, coalesce(sum({_TOKENS}), 0) AS model_tokens
        FROM week
        GROUP BY provider, model
    )
    SELECT u.*, m.model_tokens
    FROM unpriced AS u
    LEFT JOIN model_totals AS m
        ON m.provider IS NOT DISTINCT FROM u.provider AND m.model IS NOT DISTINCT FROM u.model
    ORDER BY u.tokens DESC, u.requests DESC, u.provider, u.model
    """
    rows = _rows(con, sql, {"start": window.start, "end": window.end})
    for row in rows:
        row["provider_label"] = _label(row["provider"], UNKNOWN)
        row["model_label"] = _label(row["model"], UNKNOWN)
        row["share_of_model_tokens"] = _share(row["tokens"], row.pop("model_tokens"))
        row["sources"] = [source for source in row["sources"] if source is not None]
    return {
        "requests": totals["unpriced_requests"],
        "tokens": totals["unpriced_tokens"],
        "share_tokens": totals["unpriced_share_tokens"],
        "share_requests": totals["unpriced_share_requests"],
        "by_model": rows,
    }


def _sources(
    con: duckdb.DuckDBPyConnection, window: _Window, basis: SpendBasis
) -> list[dict[str, Any]]:
    """One row per usage source: first and last usage date, and its usage in the report week.

    Read from ``marts.fct_usage_daily``, every source's own rows: ``week_cost_usd`` is the
    source's own figure. ``spend_role`` says whether the week's spend counts it (``counted``,
    ``partly counted``, ``reconciled only``: see :func:`reports.spend.source_roles`); ``None``
    without usage this week.
    """
    sql = f"""
    SELECT
        source,
        min(usage_date) AS first_usage_date,
        max(usage_date) AS last_usage_date,
        count(*) FILTER (WHERE usage_date BETWEEN $start AND $end) AS week_rows,
        count(*) FILTER (WHERE usage_date BETWEEN $start AND $end AND total_cost_usd IS NULL)
            AS week_unpriced_rows,
        sum(total_cost_usd) FILTER (WHERE usage_date BETWEEN $start AND $end) AS week_cost_usd,
        coalesce(sum({_TOKENS}) FILTER (WHERE usage_date BETWEEN $start AND $end), 0)
            AS week_tokens
    FROM {USAGE_TABLE}
    GROUP BY source
    ORDER BY source NULLS LAST
    """
    rows = _rows(con, sql, {"start": window.start, "end": window.end})
    roles = source_roles(con, basis, window.start, window.end)
    for row in rows:
        row["label"] = _label(row["source"], UNKNOWN)
        role = roles.get(row["source"])
        row["spend_role"] = role["role"] if role else None
        row["counted_day_providers"] = role["counted_day_providers"] if role else 0
        row["day_providers"] = role["day_providers"] if role else 0
        row["week_cost_usd"] = _cost(
            row["week_cost_usd"], row["week_rows"], row.pop("week_unpriced_rows")
        )
        last = date.fromisoformat(row["last_usage_date"])
        # Days between the source's newest usage and the end of the report week (0 = up to date).
        row["days_behind"] = max((window.end - last).days, 0)
        row["status"] = "ok" if row["week_rows"] else "no usage this week"
        row["last_loaded_at"] = None
    return rows


def _data_health(
    con: duckdb.DuckDBPyConnection,
    window: _Window,
    basis: SpendBasis,
    totals: dict[str, Any],
    raw: list[dict[str, Any]],
) -> dict[str, Any]:
    """Freshness, the file ledger, failed checks, unpriced share and reconciliation gaps.

    ``sources``: per usage source its first/last usage day and last file load; ``raw_tables``:
    per ``raw.*`` table its rows and last load; the ledger's counts, this week's files and the
    quarantined files with reasons; ``failed_checks`` and ``reconciliation`` (see
    :mod:`reports.health`); ``unpriced_share_tokens`` / ``unpriced_share_requests``.
    """
    health: dict[str, Any] = {
        "sources": _sources(con, window, basis),
        "spend_basis": basis.as_dict(),
        "raw_tables": raw,
        "failed_checks": failed_checks(con),
        "reconciliation": reconciliation_gaps(con, window.start, window.end),
        "unpriced_share_tokens": totals["unpriced_share_tokens"],
        "unpriced_share_requests": totals["unpriced_share_requests"],
        "unpriced_tokens": totals["unpriced_tokens"],
        "unpriced_requests": totals["unpriced_requests"],
        "ledger_available": False,
        "week_files": {"loaded": 0, "duplicate": 0, "quarantined": 0, "rows_loaded": 0},
        "all_files": {"loaded": 0, "duplicate": 0, "quarantined": 0, "rows_loaded": 0},
        "recent_files": [],
        "quarantined": [],
        "quarantined_total": 0,
        "note": None,
    }
    if not table_exists(con, "meta", "ingested_files"):
        health["note"] = "No file ledger yet (meta.ingested_files does not exist)."
        return health
    try:
        ts = _timestamp_expr(con, "meta", "ingested_files", "ingested_at")
        in_week = f"{ts} >= $start_ts AND {ts} < $end_ts"
        params = {
            "start_ts": datetime.combine(window.start, datetime.min.time()),
            "end_ts": datetime.combine(window.end + timedelta(days=1), datetime.min.time()),
        }
        counts = """
        SELECT
            count(*) FILTER (WHERE status = 'loaded') AS loaded,
            count(*) FILTER (WHERE status = 'duplicate') AS duplicate,
            count(*) FILTER (WHERE status = 'quarantined') AS quarantined,
            coalesce(sum(row_count) FILTER (WHERE status = 'loaded'), 0) AS rows_loaded
        FROM meta.ingested_files
        """
        health["week_files"] = _one(con, counts + f" WHERE {in_week}", params)
        health["all_files"] = _one(con, counts)
        health["recent_files"] = _rows(
            con,
            f"""
            SELECT file_name, format, status, row_count, reason, {ts} AS ingested_at
            FROM meta.ingested_files WHERE {in_week}
            ORDER BY ingested_at DESC, file_name LIMIT {RECENT_FILES_LIMIT}
            """,
            params,
        )
        health["quarantined"] = _rows(
            con,
            f"""
            SELECT file_name, format, reason, {ts} AS ingested_at,
                   left(file_sha256, 12) AS sha256_prefix
            FROM meta.ingested_files WHERE status = 'quarantined'
            ORDER BY ingested_at DESC, file_name LIMIT {QUARANTINE_LIMIT}
            """,
        )
        health["quarantined_total"] = health["all_files"]["quarantined"]
        loads = last_file_loads(con)
        for source in health["sources"]:
            source["last_loaded_at"] = loads.get(source["source"])
        health["ledger_available"] = True
    except duckdb.Error as exc:
        log.warning("meta.ingested_files could not be read for the report: %s", exc)
        health["note"] = f"meta.ingested_files could not be read ({type(exc).__name__})."
    return health


def _optional(
    con: duckdb.DuckDBPyConnection,
    table: str,
    sql: str,
    params: dict[str, Any] | None = None,
) -> dict[str, Any]:
    """Rows of an optional mart, or ``available: False`` and a note if it is absent/unreadable."""
    schema, name = table.split(".")
    if not table_exists(con, schema, name):
        return {"available": False, "rows": [], "note": f"{table} has not been built yet."}
    try:
        return {"available": True, "rows": _rows(con, sql, params), "note": None}
    except duckdb.Error as exc:
        log.warning("%s could not be read for the report: %s", table, exc)
        note = f"{table} could not be read ({type(exc).__name__})."
        return {"available": False, "rows": [], "note": note}


def _anomalies(con: duckdb.DuckDBPyConnection, window: _Window) -> dict[str, Any]:
    """``marts.anomalies`` rows of the report week and the week before it.

    Highest severity first, then newest, then highest score. ``counts`` (per severity) and
    ``week_count`` cover the report week only; ``prev_week_count`` the week before; at most
    :data:`ANOMALY_LIMIT` rows are listed (``total`` counts all).
    """
    section = _optional(
        con,
        "marts.anomalies",
        f"""
        SELECT anomaly_id, usage_date, scope, scope_value, metric, observed, expected, score,
               severity, explanation
        FROM marts.anomalies
        WHERE usage_date BETWEEN $prev_start AND $end
        ORDER BY {_SEVERITY_ORDER}, usage_date DESC, score DESC NULLS LAST, anomaly_id
        """,
        {"prev_start": window.prev_start, "end": window.end},
    )
    rows = section["rows"]
    for row in rows:
        metric = str(row["metric"] or "").lower()
        row["is_money"] = "cost" in metric or "usd" in metric or "spend" in metric
        row["scope_label"] = _label(row["scope_value"], UNATTRIBUTED)
        row["in_report_week"] = row["usage_date"] >= window.start.isoformat()
        severity = str(row["severity"] or "").lower()
        row["severity_class"] = severity if severity in ("high", "medium", "low") else "other"
    this_week = [row for row in rows if row["in_report_week"]]
    section["counts"] = {
        level: sum(1 for row in this_week if row["severity_class"] == level)
        for level in ("high", "medium", "low")
    }
    section["week_count"] = len(this_week)
    section["prev_week_count"] = len(rows) - len(this_week)
    section["total"] = len(rows)
    section["rows"] = rows[:ANOMALY_LIMIT]
    return section


def _confidence_label(value: Any) -> str:
    """Confidence as the mart stores it: a 0..1 number becomes a percentage, text stays text."""
    if value is None:
        return "—"
    if isinstance(value, str):
        try:
            value = float(value)  # a number stored as text ('0.8') reads like a number
        except ValueError:
            return value
    if isinstance(value, int | float) and not isinstance(value, bool):
        return f"{value * 100:.0f}%" if 0 <= value <= 1 else f"{value:g}"
    return str(value)


def _savings(con: duckdb.DuckDBPyConnection) -> dict[str, Any]:
    """``marts.savings_opportunities``: every current opportunity, biggest savings first."""
    section = _optional(
        con,
        "marts.savings_opportunities",
        """
        SELECT opportunity_id, kind, scope, scope_value, current_monthly_cost_usd,
               estimated_monthly_savings_usd, confidence, action
        FROM marts.savings_opportunities
        ORDER BY estimated_monthly_savings_usd DESC NULLS LAST, opportunity_id
        """,
    )
    for rank, row in enumerate(section["rows"], start=1):
        row["rank"] = rank
        row["confidence_label"] = _confidence_label(row["confidence"])
        row["scope_label"] = _label(row["scope_value"], UNATTRIBUTED)
    section["total_monthly_savings_usd"] = sum(
        row["estimated_monthly_savings_usd"] or 0.0 for row in section["rows"]
    )
    section["total_basis"] = "sum"
    # Opportunities on the same traffic are alternatives (batch vs caching vs a cheaper model):
    # the headline is the best single option per workload, never their sum, when dbt provides it.
    if section["rows"] and table_exists(con, "marts", "savings_potential_by_scope"):
        best = con.execute(
            "SELECT sum(best_option_monthly_savings_usd) FROM marts.savings_potential_by_scope"
        ).fetchone()[0]
        if best is not None:
            section["total_monthly_savings_usd"] = float(best)
            section["total_basis"] = "best_option_per_workload"
    return section


def _monthly_statement(con: duckdb.DuckDBPyConnection, window: _Window) -> dict[str, Any]:
    """``marts.monthly_statement`` for the month(s) the report week falls in, per month."""
    months = sorted({window.start.strftime("%Y-%m"), window.end.strftime("%Y-%m")})
    # ``month`` may be a DATE (first of the month) or 'YYYY-MM' text: compare the text prefix.
    section = _optional(
        con,
        "marts.monthly_statement",
        """
        SELECT left(CAST(month AS VARCHAR), 7) AS month, user_id, integration_id, provider,
               provider_cost_usd, platform_fee_usd, total_usd
        FROM marts.monthly_statement
        WHERE left(CAST(month AS VARCHAR), 7) IN ($m1, $m2)
        ORDER BY month, total_usd DESC NULLS LAST, user_id, integration_id, provider
        """,
        {"m1": months[0], "m2": months[-1]},
    )
    grouped: list[dict[str, Any]] = []
    for month in months:
        rows = [row for row in section["rows"] if row["month"] == month]
        for row in rows:
            row["user_label"] = _label(row["user_id"], UNATTRIBUTED)
            row["integration_label"] = _label(row["integration_id"], "(none)")
            row["provider_label"] = _label(row["provider"], UNKNOWN)
        grouped.append(
            {
                "month": month,
                "provider_cost_usd": sum(r["provider_cost_usd"] or 0.0 for r in rows),
                "platform_fee_usd": sum(r["platform_fee_usd"] or 0.0 for r in rows),
                "total_usd": sum(r["total_usd"] or 0.0 for r in rows),
                "row_count": len(rows),
                "rows": rows[:STATEMENT_ROWS_PER_MONTH],
            }
        )
    section["months"] = [month for month in grouped if month["row_count"]]
    del section["rows"]
    return section


def _newest_sync(con: duckdb.DuckDBPyConnection) -> str | None:
    """The newest ``last_sync_at`` of any integration (``None`` without the registry)."""
    if not table_exists(con, "meta", "integrations"):
        return None
    try:
        ts = _timestamp_expr(con, "meta", "integrations", "last_sync_at")
        return _one(con, f"SELECT max({ts}) AS t FROM meta.integrations")["t"]
    except duckdb.Error as exc:
        log.warning("meta.integrations could not be read for the report: %s", exc)
        return None


def as_of(con: duckdb.DuckDBPyConnection, raw: list[dict[str, Any]] | None = None) -> dict:
    """When the data was current: the newest usage day and the newest load of any kind.

    ``usage_date``: the newest day in ``marts.fct_usage_daily``; ``ingested_at``: the newest file
    the ledger records as loaded (a duplicate or a quarantined file changed no data, so it does
    not make the data newer); ``loaded_at``: the newest of that, any ``raw.*`` table's
    ``_loaded_at`` and any integration's ``last_sync_at`` (the "as of" stamp on every section).
    ``raw`` is :func:`reports.health.raw_tables` when the caller has it already.
    """
    _require_usage(con)
    newest = _one(con, f"SELECT max(usage_date) AS usage_date FROM {USAGE_TABLE}")
    ingested_at = None
    if table_exists(con, "meta", "ingested_files"):
        try:
            ts = _timestamp_expr(con, "meta", "ingested_files", "ingested_at")
            ingested_at = _one(
                con, f"SELECT max({ts}) AS t FROM meta.ingested_files WHERE status = 'loaded'"
            )["t"]
        except duckdb.Error as exc:
            log.warning("meta.ingested_files could not be read for the report: %s", exc)
    raw = raw_tables(con) if raw is None else raw
    loaded_at = newest_timestamp([ingested_at, newest_raw_load(raw), _newest_sync(con)])
    return {
        "usage_date": newest.get("usage_date"),
        "ingested_at": ingested_at,
        "loaded_at": loaded_at,
    }


# --------------------------------------------------------------------------------------------
# Public API


def available_weeks(con: duckdb.DuckDBPyConnection) -> list[str]:
    """Every ISO week (``YYYY-Www``) with at least one usage row, oldest first."""
    _require_usage(con)
    mondays = con.execute(
        f"SELECT DISTINCT CAST(date_trunc('week', usage_date) AS DATE) AS monday"
        f" FROM {USAGE_TABLE} WHERE usage_date IS NOT NULL ORDER BY monday"
    ).fetchall()
    return [iso_week(row[0]) for row in mondays]


def weekly_report_data(
    con: duckdb.DuckDBPyConnection, week: str, *, now: datetime | None = None
) -> dict[str, Any]:
    """Everything the weekly report for ISO week ``week`` shows, as plain data.

    Top-level keys: ``week``, ``week_start``, ``week_end``, ``prev_week``, ``has_usage``,
    ``generated_at``, ``as_of``, ``nav``, ``spend_basis`` (which rows the money is summed from:
    :meth:`reports.spend.SpendBasis.as_dict`), ``totals``, ``by_provider``, ``by_model``,
    ``daily``, ``daily_history``, ``weekly_trend``, ``heatmap``, ``top_api_keys``, ``top_users``,
    ``top_projects``, ``silent_days`` (days of the week with no usage from any source that
    usually have some: :func:`_silent_days`), ``unpriced``, ``data_health``, ``anomalies``,
    ``savings``,
    ``monthly_statement``, ``my_integrations``.

    ``now`` fixes ``generated_at`` (default: the current UTC time).
    """
    start, end = parse_week(week)
    _require_usage(con)
    window = _Window(start, end)
    basis = spend_basis(con)
    totals = _totals(con, window, basis)
    total_cost = totals["cost_usd"]
    daily, history, trend = _daily(con, window, basis)
    weeks = available_weeks(con)
    raw = raw_tables(con)
    current = as_of(con, raw)
    generated = (now or datetime.now(UTC)).astimezone(UTC).replace(tzinfo=None, microsecond=0)
    return {
        "week": week,
        "week_start": start.isoformat(),
        "week_end": end.isoformat(),
        "prev_week": shift_week(week, -1),
        "has_usage": totals["row_count"] > 0,
        "generated_at": generated.isoformat(),
        "as_of": current,
        "nav": {
            "prev_week": max((w for w in weeks if w < week), default=None),
            "next_week": min((w for w in weeks if w > week), default=None),
            "latest_week": weeks[-1] if weeks else None,
        },
        "spend_basis": basis.as_dict(),
        "totals": totals,
        "by_provider": _by_provider(con, window, basis, total_cost),
        "by_model": _by_model(con, window, basis, total_cost),
        "daily": daily,
        "silent_days": _silent_days(history, current["usage_date"]),
        "daily_history": history,
        "weekly_trend": trend,
        "heatmap": _heatmap(history, window),
        "top_api_keys": _top(con, window, "api_key_id", basis, total_cost),
        "top_users": _top(con, window, "user_id", basis, total_cost),
        "top_projects": _top(con, window, "project_id", basis, total_cost),
        "unpriced": _unpriced(con, window, basis, totals),
        "data_health": _data_health(con, window, basis, totals, raw),
        "anomalies": _anomalies(con, window),
        "savings": _savings(con),
        "monthly_statement": _monthly_statement(con, window),
        # "This month" is the month of the report week's last day, through that day.
        "my_integrations": my_integrations(con, end.replace(day=1), end, basis=basis),
    }


def weekly_summaries(
    con: duckdb.DuckDBPyConnection,
    weeks: Iterable[str] | None = None,
    *,
    basis: SpendBasis | None = None,
) -> list[dict[str, Any]]:
    """One row per ISO week for the index, newest first: cost, change, requests, tokens.

    ``partial`` is true for a week that ends after the newest usage day in the warehouse.

    ``weeks`` defaults to :func:`available_weeks`; weeks without usage get zero rows. Money,
    requests and tokens are summed from ``basis`` (default: :func:`reports.spend.spend_basis`).
    """
    _require_usage(con)
    basis = basis or spend_basis(con)
    wanted = sorted(set(weeks) if weeks is not None else set(available_weeks(con)))
    if not wanted:
        return []
    for week in wanted:
        parse_week(week)
    sql = f"""
    SELECT
        CAST(date_trunc('week', usage_date) AS DATE) AS monday,
        count(*) AS row_count,
        count(*) FILTER (WHERE total_cost_usd IS NULL) AS unpriced_rows,
        sum(total_cost_usd) AS cost_usd,
        coalesce(sum(request_count), 0) AS requests,
        coalesce(sum({_TOKENS}), 0) AS tokens,
        coalesce(sum(unpriced_tokens), 0) AS unpriced_tokens
    FROM {basis.spend} AS basis
    WHERE usage_date BETWEEN $first AND $last
    GROUP BY monday
    """
    first, _ = parse_week(shift_week(wanted[0], -1))
    _, last = parse_week(wanted[-1])
    newest = _one(con, f"SELECT max(usage_date) AS d FROM {USAGE_TABLE}")["d"]
    found = {
        iso_week(date.fromisoformat(row["monday"])): row
        for row in _rows(con, sql, {"first": first, "last": last})
    }
    summaries: list[dict[str, Any]] = []
    for week in wanted:
        start, end = parse_week(week)
        row = found.get(week)
        prev = found.get(shift_week(week, -1))
        cost = _cost(row["cost_usd"], row["row_count"], row["unpriced_rows"]) if row else 0.0
        prev_cost = (
            _cost(prev["cost_usd"], prev["row_count"], prev["unpriced_rows"]) if prev else 0.0
        )
        change_usd, change_pct = _change(cost, prev_cost)
        summaries.append(
            {
                "week": week,
                "week_start": start.isoformat(),
                "week_end": end.isoformat(),
                "has_usage": row is not None,
                "cost_usd": cost,
                "prev_cost_usd": prev_cost,
                "wow_change_usd": change_usd,
                "wow_change_pct": change_pct,
                "requests": row["requests"] if row else 0,
                "tokens": row["tokens"] if row else 0,
                "unpriced_tokens": row["unpriced_tokens"] if row else 0,
                # The warehouse has no usage yet for the week's last days (still running, or late).
                "partial": newest is not None and newest < end.isoformat(),
            }
        )
    summaries.reverse()
    return summaries
