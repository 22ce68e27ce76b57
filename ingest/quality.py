"""The quality gate: great-expectations suites, built in code, decide on every row before a commit.

GX runs in a process of its own (:mod:`ingest.gx_process`); the suites here are plain data.

Every expectation in a suite is about single values (present, within a range, in a set), so a batch
passes exactly when its extremes do: no NULL where one is required, the smallest and largest value
of each checked column within its range, each distinct provider known. DuckDB computes those
extremes in one pass and GX validates them as a frame of a few rows. Only when that fails does GX
go over the rows themselves, in chunks of about a million pulled from DuckDB (GX's per-batch
overhead makes small chunks slow; a whole-file frame would not fit for multi-GB files), to say how
many rows are wrong and show some. Uniqueness of keys spans chunks, so it is checked in SQL where
the data is.
"""

from __future__ import annotations

import math
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

import duckdb

from ingest import gx_process
from ingest.formats.base import KNOWN_PROVIDERS, MAX_QUANTITY, RawTable
from ingest.formats.reading import sql_str
from ingest.gx_process import Expectation, Failed

CHUNK_ROWS = 1_000_000
# The column that numbers a batch's rows (file order, from 1): how a refusal says which rows.
ROW_ID = "_row_number"
# A refusal names at most this many rows per failed expectation (and says how many there are).
ROWS_NAMED = 10
# Usage before 2020 predates every API meterr reads; anything after "now" (plus clock skew) is bad.
EARLIEST = datetime(2020, 1, 1)
CLOCK_SKEW = timedelta(minutes=10)


@dataclass
class GateResult:
    """What the gate found for one batch (one file or one API partition)."""

    rows: int = 0
    failures: list[str] = field(default_factory=list)
    expectations: int = 0
    repeated_records: bool = False
    """Some key is held by several rows that are the same record, equal in every column: what an
    export paged by offset holds when requests arrived while it ran. Not a failure: the loader
    keeps one of each (:func:`ingest.loading.drop_repeated_records`)."""

    @property
    def passed(self) -> bool:
        return not self.failures

    def reason(self) -> str:
        return "failed the quality gate: " + "; ".join(self.failures)


def load_in_background() -> None:
    """Start great-expectations loading in its own process (:mod:`ingest.gx_process`), so it is
    ready when the first batch needs it; later calls do nothing while that process runs."""
    gx_process.start()


def _epoch_us(moment: datetime) -> int:
    """A naive UTC time as microseconds since 1970 (how the gate hands timestamps to GX)."""
    return int((moment - datetime(1970, 1, 1)).total_seconds() * 1_000_000)


def _from_epoch_us(value: Any) -> str:
    try:
        return (datetime(1970, 1, 1) + timedelta(microseconds=int(value))).isoformat(sep=" ")
    except (TypeError, ValueError, OverflowError):
        return str(value)


def build_expectations(fmt: RawTable, *, now: datetime | None = None) -> list[Expectation]:
    """The expectations of ``fmt``'s suite over the frame :func:`validation_select` builds:
    nulls, counts and costs from 0 to :data:`MAX_QUANTITY`, time range (as epoch microseconds)
    and provider names."""
    now = (now or datetime.now(UTC)).replace(tzinfo=None)
    exps = [Expectation("ExpectColumnValuesToNotBeNull", {"column": c}) for c in fmt.required]
    for col in fmt.non_negative:
        exps.append(
            Expectation(
                "ExpectColumnValuesToBeBetween",
                {"column": col, "min_value": 0, "max_value": MAX_QUANTITY},
            )
        )
    if fmt.timestamp_column:
        exps.append(
            Expectation(
                "ExpectColumnValuesToBeBetween",
                {
                    "column": fmt.timestamp_column,
                    "min_value": _epoch_us(EARLIEST),
                    "max_value": _epoch_us(now + CLOCK_SKEW),
                },
            )
        )
    if fmt.provider_column:
        exps.append(
            Expectation(
                "ExpectColumnValuesToBeInSet",
                {"column": fmt.provider_column, "value_set": list(KNOWN_PROVIDERS)},
            )
        )
    return exps


def _key(expectation_type: str, column: str | None) -> str:
    """How the gate tells failed expectations apart: their type and column."""
    return f"{expectation_type}:{column or ''}"


def _rows_text(rows: list[int], total: int) -> str:
    """``rows`` (ascending, some of ``total``) as a reason says them: ``rows 3, 7, 12, …``."""
    shown = ", ".join(str(r) for r in rows)
    more = ", …" if total > len(rows) else ""
    return f"{'row' if total == 1 else 'rows'} {shown}{more}"


def _describe(
    failed: Failed, fmt: RawTable, unexpected: int | None = None, rows: list[int] | None = None
) -> str:
    """What a failed expectation says in a quarantine reason: its call, how many rows
    (``unexpected``, else GX's count on the frame), which (``rows``) and example values."""
    column = failed.column
    # Times travel to GX as epoch microseconds; say them as times again.
    shown = _from_epoch_us if column and column == fmt.timestamp_column else str
    kwargs = {
        k: (shown(v) if k in ("min_value", "max_value") and v is not None else v)
        for k, v in failed.kwargs.items()
        if k not in ("batch_id", "value_set")
    }
    res = failed.result
    if unexpected is None:
        unexpected = res.get("unexpected_count")
    sample = res.get("partial_unexpected_list") or []
    text = f"{failed.type}({', '.join(f'{k}={v}' for k, v in kwargs.items())})"
    if unexpected:
        where = f" ({_rows_text(rows, unexpected)})" if rows else ""
        text += f": {unexpected} unexpected row(s){where}"
        # A missing value has nothing to show (GX hands it over as nan or <NA>).
        if not failed.type.endswith("_not_be_null"):
            examples = ["NULL" if _is_missing(s) else shown(s) for s in sample[:3]]
            text += f", e.g. {examples}"
    elif res.get("details"):
        text += f": {res['details']}"
    return text


def _is_missing(value: object) -> bool:
    """Whether a GX example value stands for a missing cell (None, NaN, pandas' NA or NaT)."""
    if value is None:
        return True
    if isinstance(value, float) and math.isnan(value):
        return True
    return str(value) in ("<NA>", "NaT", "nan")


def _checked_columns(fmt: RawTable) -> list[str]:
    """The columns the suite's value expectations look at, each once."""
    checked = [*fmt.required, *fmt.non_negative, fmt.timestamp_column, fmt.provider_column]
    return list(dict.fromkeys(c for c in checked if c))


def _checked_value(fmt: RawTable, name: str) -> str:
    """Column ``name`` in the form GX is handed (the provider column aside): numbers as numbers
    (decimals as doubles: sign checks need no cents), times as epoch microseconds, a required text
    as its length (NULL exactly where the text is NULL, which is all ExpectColumnValuesToNotBeNull
    looks at)."""
    dtype = fmt.all_columns[name].upper()
    quoted = f'"{name}"'
    if dtype.startswith("TIMESTAMP") or dtype == "DATE":
        return f"epoch_us(CAST({quoted} AS TIMESTAMP))"
    if dtype.startswith(("DECIMAL", "NUMERIC")):
        return f"CAST({quoted} AS DOUBLE)"
    if dtype.startswith(("VARCHAR", "TEXT", "STRING", "JSON")):
        return f"length({quoted})"
    return quoted


def validation_select(con: duckdb.DuckDBPyConnection, fmt: RawTable, table: str) -> str:
    """The rows GX validates when a batch's extremes failed: one column per checked column, in the
    cheapest faithful form, and the row number (:data:`ROW_ID`) that names each row.

    GX fingerprints every frame it is given (a hash over all its cells), which costs far more for
    Python strings and timestamps than for numbers, so each checked value is handed over as
    :func:`_checked_value` says, and the provider as a categorical of the batch's own values.
    """
    cols = []
    for name in _checked_columns(fmt):
        value = _checked_value(fmt, name)
        if name == fmt.provider_column:
            quoted = f'"{name}"'
            values = [
                row[0]
                for row in con.execute(
                    f"SELECT DISTINCT {quoted} FROM {table} WHERE {quoted} IS NOT NULL"
                ).fetchall()
            ]
            if values:
                labels = ", ".join("'" + str(v).replace("'", "''") + "'" for v in values)
                value = f"CAST({quoted} AS ENUM({labels}))"
        cols.append(f'{value} AS "{name}"')
    cols.append(f'"{ROW_ID}"')
    return f"SELECT {', '.join(cols)} FROM {table}"


def extremes_columns(
    con: duckdb.DuckDBPyConnection, fmt: RawTable, table: str
) -> dict[str, list]:
    """The batch as its suite sees it, in a few rows, as columns of plain values: per checked
    column its smallest and largest value (forms as in :func:`_checked_value`), a NULL if any row
    has one, and for the provider column every distinct value. Each column is padded to the
    frame's length with its own first value, which changes no verdict.

    Every value expectation of the suite (not null, between, in set) holds for all rows exactly
    when it holds for these values, so GX's verdict on this frame is its verdict on the batch.
    The GX process makes the frame, so this process need not load pandas.
    """
    parts = []
    columns = _checked_columns(fmt)
    for name in columns:
        value = _checked_value(fmt, name)
        if name == fmt.provider_column:
            parts.append(f'list(DISTINCT "{name}") FILTER (WHERE "{name}" IS NOT NULL)')
        else:
            parts.append(f"[min({value}), max({value})]")
        parts.append(f'bool_or("{name}" IS NULL)')
    row = con.execute(f"SELECT {', '.join(parts)} FROM {table}").fetchone()
    values: dict[str, list] = {}
    for i, name in enumerate(columns):
        found, has_null = row[2 * i] or [], row[2 * i + 1]
        values[name] = [v for v in found if v is not None] + ([None] if has_null else [])
    length = max((len(v) for v in values.values()), default=0)
    padded = {name: v + v[:1] * (length - len(v)) if v else [None] * length
              for name, v in values.items()}
    return padded


def validate(
    con: duckdb.DuckDBPyConnection,
    fmt: RawTable,
    table: str,
    *,
    now: datetime | None = None,
) -> GateResult:
    """Validate every row of ``table`` (shaped like ``fmt``'s raw table, its :data:`ROW_ID`
    filled: :func:`ingest.loading.numbered_rows`) and say what failed, naming the rows."""
    result = GateResult()
    result.rows = con.execute(f"SELECT count(*) FROM {table}").fetchone()[0]
    expectations = build_expectations(fmt, now=now)
    columns = Expectation("ExpectTableColumnsToMatchSet", {"column_set": list(fmt.all_columns)})
    result.expectations = len(expectations) + 1 + (1 if fmt.key else 0)
    failures: dict[str, str] = {}
    suite = f"{fmt.name}_gate"

    def check(frame: Any, suite_expectations: list[Expectation]) -> dict[str, str]:
        """The failed expectations, by type and column, with what GX said about each."""
        failed: dict[str, str] = {}
        for one in gx_process.check(frame, suite_expectations, suite):
            failed.setdefault(_key(one.type, one.column), _describe(one, fmt))
        return failed

    # The table's columns are a property of the table, not of its rows: checked on no rows.
    names = [column[0] for column in con.execute(f"SELECT * FROM {table} LIMIT 0").description]
    failures.update(check({name: [] for name in names}, [columns]))
    failed = {}
    if result.rows and expectations:
        failed = check(extremes_columns(con, fmt, table), expectations)
    if failed:
        # Say it over the rows, for the expectations that failed: how many rows, which rows,
        # which values. Counts and row numbers add up over the chunks; the values are the first
        # chunk's.
        again = [e for e in expectations if _key(e.type, e.column) in failed]
        first: dict[str, Failed] = {}
        counts: dict[str, int] = {}
        rows: dict[str, list[int]] = {}
        cursor = con.execute(validation_select(con, fmt, table))
        while True:
            frame = cursor.fetch_df_chunk(CHUNK_ROWS // 2048)
            if frame is None or frame.empty:
                break
            for one in gx_process.check(frame, again, suite, ROW_ID):
                key = _key(one.type, one.column)
                first.setdefault(key, one)
                counts[key] = counts.get(key, 0) + (one.result.get("unexpected_count") or 0)
                named = one.result.get("partial_unexpected_index_list") or []
                rows.setdefault(key, []).extend(
                    item[ROW_ID] for item in named if isinstance(item, dict)
                )
        for key, one in first.items():
            named = sorted(rows[key])[:ROWS_NAMED]
            failures.setdefault(key, _describe(one, fmt, counts[key], named))
        # An expectation the extremes failed stays failed, as the extremes said it, even if
        # the rows somehow did not show it again.
        for key, text in failed.items():
            failures.setdefault(key, text)
    if fmt.key:
        keys = ", ".join(f'"{k}"' for k in fmt.key)
        not_null = " AND ".join(f'"{k}" IS NOT NULL' for k in fmt.key)
        repeated = (
            f"SELECT {keys} FROM {table} WHERE {not_null} "
            f"GROUP BY ALL HAVING count(*) > 1 LIMIT 3"
        )
        conflicting = None
        if con.execute(f"SELECT count(*) FROM ({repeated})").fetchone()[0]:
            # Only now, since it reads every column of every row: the keys whose rows differ.
            # Rows equal in every column are one record exported twice, not a conflict.
            data = ", ".join(f'"{c}"' for c in fmt.columns)
            conflicting = (
                f"SELECT {keys} FROM (SELECT DISTINCT {data} FROM {table} WHERE {not_null}) "
                f"GROUP BY ALL HAVING count(*) > 1 LIMIT 3"
            )
            if not con.execute(f"SELECT count(*) FROM ({conflicting})").fetchone()[0]:
                result.repeated_records = True
                conflicting = None
        if conflicting:
            # Then the rows that hold those keys, as the other refusals name rows: only now,
            # since listing rows for every key of a first load of millions would cost seconds.
            dupes = con.execute(
                f"SELECT {keys}, count(*), list({ROW_ID} ORDER BY {ROW_ID})[:{ROWS_NAMED}] "
                f"FROM {table} WHERE ({keys}) IN ({conflicting}) GROUP BY ALL "
                f"ORDER BY min({ROW_ID})"
            ).fetchall()
            shown = ", ".join(
                f"{row[0] if len(row) == 3 else row[:-2]} ({_rows_text(row[-1], row[-2])})"
                for row in dupes
            )
            failures["unique"] = (
                f"duplicate key ({', '.join(fmt.key)}) with different values: {shown}"
            )
    result.failures = list(failures.values())
    return result


def _row_counts(con: duckdb.DuckDBPyConnection, table: str, recent: str) -> tuple[int, int]:
    """How many rows ``table`` holds, and how many of them are inside ``recent``."""
    total, fresh = con.execute(
        f"SELECT count(*), count(*) FILTER (WHERE {recent}) FROM {table}"
    ).fetchone()
    return total, fresh


def raw_invariant_violations(
    con: duckdb.DuckDBPyConnection,
    spec: RawTable,
    *,
    now: datetime | None = None,
    since: datetime | None = None,
    gated: Iterable[tuple[str, datetime]] = (),
) -> list[str]:
    """Invariants re-checked in SQL over rows committed to ``raw.<table>``: a violation here means
    bad rows got past the gate and must block the marts.

    ``since`` (UTC, naive) limits the value checks to rows loaded from then on (rows without a load
    time too) and the key check to *their* keys, counted over the whole table; ``None`` checks
    every row. Callers pass the time the check last passed, so the work grows with the new rows,
    not with history, and rows that broke it stay inside the window until they are gone.

    ``gated`` lists batches this run committed right after the gate passed them, as
    ``(_file_sha256, _loaded_at)`` pairs: their rows are left out of the window, because the gate
    has just checked those very rows and their commit removed every older row with their keys.
    Their keys are still counted when another new row's key is looked up, and a row added behind
    the gate's back carries another load time, so it is still checked.
    """
    table = spec.qualified_table
    now = (now or datetime.now(UTC)).replace(tzinfo=None) + CLOCK_SKEW
    recent = "TRUE"
    if since is not None:
        # Rows of the run that passed were loaded (their transaction began) before it passed.
        loaded = '"_loaded_at"'
        recent = f"({loaded} IS NULL OR {loaded} >= TIMESTAMP '{since:%Y-%m-%d %H:%M:%S.%f}')"
    batches = [
        f"(_file_sha256 = {sql_str(digest)} AND _loaded_at = TIMESTAMP '{at:%Y-%m-%d %H:%M:%S.%f}')"
        for digest, at in gated
    ]
    if batches:
        # coalesce: a row without a load time is never one of the batches.
        recent = f"({recent} AND NOT coalesce({' OR '.join(batches)}, false))"
    mostly_older = False
    if since is not None or batches:
        total, fresh = _row_counts(con, table, recent)
        if not fresh:
            # Nothing outside the window can have broken, and no key can be repeated without a
            # recent row holding it: a first load of millions of rows, gated just now, is not
            # read again.
            return []
        # Then looking up the recent rows' keys is cheaper than grouping every key (and slower
        # when nearly all rows are recent).
        mostly_older = fresh * 2 < total
    checks: list[tuple[str, str]] = []
    for col in spec.non_negative:
        checks.append((f"{col} < 0", f'"{col}" < 0'))
        checks.append((f"{col} > {MAX_QUANTITY:,}", f'"{col}" > {MAX_QUANTITY}'))
    for col in spec.required:
        checks.append((f"{col} is null", f'"{col}" IS NULL'))
    if spec.timestamp_column:
        ts = f'"{spec.timestamp_column}"'
        checks.append(
            (
                f"{spec.timestamp_column} out of range",
                f"{ts} < TIMESTAMP '{EARLIEST:%Y-%m-%d}' "
                f"OR {ts} > TIMESTAMP '{now:%Y-%m-%d %H:%M:%S}'",
            )
        )
    if spec.provider_column:
        known = ", ".join(f"'{p}'" for p in KNOWN_PROVIDERS)
        checks.append(
            (f"unknown {spec.provider_column}", f'"{spec.provider_column}" NOT IN ({known})')
        )
    violations = []
    if checks:
        counts = con.execute(
            "SELECT "
            + ", ".join(f"count(*) FILTER (WHERE {cond})" for _, cond in checks)
            + f" FROM {table} WHERE {recent}"
        ).fetchone()
        violations = [
            f"{n} row(s): {label}" for (label, _), n in zip(checks, counts, strict=True) if n
        ]
    if spec.key:
        keys = ", ".join(f'"{k}"' for k in spec.key)
        not_null = " AND ".join(f'"{k}" IS NOT NULL' for k in spec.key)
        scope = table
        if mostly_older:
            # Only keys of recent rows can be repeated now (older ones were unique when the
            # check passed); a semi join finds every row holding them.
            scope = (
                f"(SELECT * FROM {table} SEMI JOIN (SELECT DISTINCT {keys} FROM {table} "
                f"WHERE {recent} AND {not_null}) USING ({keys}))"
            )
        dupes = con.execute(
            f"SELECT count(*) FROM (SELECT {keys} FROM {scope} WHERE {not_null} "
            f"GROUP BY ALL HAVING count(*) > 1)"
        ).fetchone()[0]
        if dupes:
            violations.append(f"{dupes} duplicate key(s) on ({', '.join(spec.key)})")
    return violations
