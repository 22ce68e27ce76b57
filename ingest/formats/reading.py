"""Shared DuckDB readers for loaders: pinned-dialect CSV, JSON Lines / arrays, and typed inserts.

Everything is read as text first and cast in one INSERT, so that a bad cell is reported with its
row number instead of DuckDB's sniffer silently guessing a type (see ../shared pitfalls: a damaged
CSV can sniff as one column).

The second half holds what the export formats share: detection helpers over a :class:`Sample`, a
header-pinned CSV reader that selects only the columns a format needs, and SQL *text* expressions
(``int_text``, ``ts_text``, ``json_int_text`` ...) that normalise a cell but leave anything they
cannot normalise as visible text, so ``insert_typed`` still reports it with its row number instead
of it turning silently into NULL.
"""

from __future__ import annotations

import csv
import io
import re
import shutil
import tempfile
from collections.abc import Callable, Iterable, Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import duckdb

from ingest.formats.base import CellTypeError, FormatError, Sample
from ingest.warehouse import streaming_insert

# A single JSON record or CSV line longer than this is refused (an absurd line is not usage data).
MAX_RECORD_BYTES = 16 * 1024 * 1024


def sql_str(value: str) -> str:
    """A SQL string literal."""
    return "'" + value.replace("'", "''") + "'"


def csv_relation(path: Path) -> str:
    """A ``read_csv`` over ``path`` with the dialect pinned and every column as text."""
    return (
        f"read_csv({sql_str(str(path))}, header=true, delim=',', quote='\"', escape='\"', "
        f"all_varchar=true, strict_mode=true, null_padding=false, "
        f"max_line_size={MAX_RECORD_BYTES}, encoding='utf-8', auto_detect=false)"
    )


def csv_columns(con: duckdb.DuckDBPyConnection, path: Path) -> list[str]:
    """The header of a CSV as DuckDB reads it (pinned dialect)."""
    try:
        rel = con.sql(
            f"SELECT * FROM read_csv({sql_str(str(path))}, header=true, delim=',', quote='\"', "
            f"escape='\"', all_varchar=true, max_line_size={MAX_RECORD_BYTES}) LIMIT 0"
        )
    except duckdb.Error as exc:
        raise FormatError(f"not a readable CSV: {csv_error(exc, path)}") from exc
    return list(rel.columns)


def csv_error(exc: BaseException, path: Path) -> str:
    """DuckDB's CSV error in one line for a quarantine reason, without the file's working path
    (gone by the time anyone reads the reason), and said plainly where DuckDB's first line says
    too little: a layout it could not sniff, text that is not UTF-8."""
    text = str(exc).replace(f' "{path}"', "").replace(str(path), "the file")
    if "sniffing" in text:
        # DuckDB says only that it found no consistent layout: find the row that breaks it.
        return _field_count_problem(path) or "no consistent CSV layout (rows differ in shape)"
    line = re.search(r"\bLine: (\d+)", text)
    if line and "not utf-8 encoded" in text:
        # (DuckDB's "Original Line" beside it may hold the row's text: never quoted.)
        return (
            f"CSV line {line.group(1)} is not UTF-8 text (Latin-1 or Windows-1252?); save the "
            "file as UTF-8 or UTF-16"
        )
    return " ".join((text.strip().splitlines() or [type(exc).__name__])[0].split())


def csv_relation_auto(path: Path) -> str:
    """``read_csv`` with the dialect pinned but the header taken from the file (all text)."""
    return (
        f"read_csv({sql_str(str(path))}, header=true, delim=',', quote='\"', escape='\"', "
        f"all_varchar=true, strict_mode=true, max_line_size={MAX_RECORD_BYTES})"
    )


def json_relation(path: Path, columns: dict[str, str], *, array: bool) -> str:
    """A ``read_json`` over JSON Lines (or one JSON array) that extracts only ``columns``.

    Keys not listed (prompt bodies, metadata blobs) are never materialised.
    """
    spec = "{" + ", ".join(f"{sql_str(k)}: {sql_str(v)}" for k, v in columns.items()) + "}"
    fmt = "array" if array else "newline_delimited"
    return (
        f"read_json({sql_str(str(path))}, format='{fmt}', records=true, columns={spec}, "
        f"maximum_object_size={MAX_RECORD_BYTES}, ignore_errors=false)"
    )


def _field_count_problem(path: Path) -> str | None:
    """The first row whose number of fields differs from the header's, as a reason."""
    try:
        with open(path, newline="", encoding="utf-8", errors="replace") as handle:
            reader = csv.reader(handle)
            header = next(reader, None)
            for row in reader:
                if header and row and len(row) != len(header):
                    return (
                        f"CSV line {reader.line_num} has {len(row)} fields where the header "
                        f"has {len(header)}"
                    )
    except (OSError, csv.Error):
        return None
    return None


def first_line(exc: BaseException) -> str:
    """The first line of an exception's message, for a short quarantine reason."""
    text = str(exc).strip()
    return text.splitlines()[0] if text else type(exc).__name__


def insert_typed(
    con: duckdb.DuckDBPyConnection,
    pending: str,
    file_sha256: str,
    relation: str,
    exprs: dict[str, tuple[str, str]],
) -> int:
    """Insert ``relation`` into ``pending`` with each target column cast from a text expression.

    ``exprs`` maps target column -> (text expression over the relation, SQL type). A cell whose text
    is present but does not cast makes the whole file fail with the first row numbers and columns.
    Returns the number of rows inserted.

    A well-formed file takes one streaming pass with strict casts: a bad cell makes that pass fail
    as a whole, and only then is the file read again, numbered, to say which rows are wrong (the
    numbering and the text copy cost more than the load itself, so they are paid only on failure).
    ``_row_number`` is left NULL by the fast pass: :func:`ingest.loading.commit_batch` numbers the
    rows in file order.
    """
    try:
        return _insert_strict(con, pending, file_sha256, relation, exprs)
    except duckdb.Error:
        pass
    return _insert_typed_exact(con, pending, file_sha256, relation, exprs)


def _insert_strict(
    con: duckdb.DuckDBPyConnection,
    pending: str,
    file_sha256: str,
    relation: str,
    exprs: dict[str, tuple[str, str]],
    *,
    origin: str | None = None,
) -> int:
    """One streaming INSERT with strict casts; raises ``duckdb.Error`` (inserting nothing: it is
    one statement) if any cell does not convert. ``origin`` sets ``_origin`` (a pending table has
    it as its default)."""
    if not exprs:
        raise ValueError("a load needs at least one column")
    lineage = {"_file_sha256": sql_str(file_sha256), "_loaded_at": "now()::TIMESTAMP"}
    if origin is not None:
        lineage["_origin"] = sql_str(origin)
    cols = ", ".join(ident(c) for c in [*lineage, *exprs])
    strict = ", ".join(
        [*lineage.values()] + [f"CAST(({expr}) AS {dtype})" for expr, dtype in exprs.values()]
    )
    sql = f"INSERT INTO {pending} ({cols}) SELECT {strict} FROM {relation}"
    with streaming_insert(con):
        return con.execute(sql).fetchone()[0]


def load_usage(
    con: duckdb.DuckDBPyConnection,
    path: Path,
    pending: str,
    file_sha256: str,
    wanted: Iterable[str],
    build_exprs: Callable[[Present], dict[str, tuple[str, str]]],
    *,
    numeric: Iterable[str] = (),
    times: Iterable[str] = (),
) -> int:
    """Load a request-level export (CSV, JSON Lines or JSON array) into ``pending``.

    ``build_exprs(present)`` gives the format's ``insert_typed`` expressions for the fields the file
    holds. When the format names ``numeric`` fields (token counts), a typed pass goes first: those
    counts are checked against the shapes the text pass accepts and cast directly, skipping the
    text clean-up, which is most of the load's cost on large files. Anything that pass cannot take
    exactly (a fraction, ``1e3``, ``true``, an empty cell) makes it fail as a whole, and the file
    is loaded by the text pass like every other, with its bad rows reported by number.
    """
    names = list(dict.fromkeys(wanted))
    if numeric:
        try:
            with usage_relation(path, names, numeric=numeric, times=times) as (
                relation,
                present,
            ):
                return _insert_strict(con, pending, file_sha256, relation, build_exprs(present))
        except duckdb.Error:
            pass
    with usage_relation(path, names) as (relation, present):
        return insert_typed(con, pending, file_sha256, relation, build_exprs(present))


@dataclass(frozen=True)
class UsageReader:
    """How a request-level export is read: the export fields selected, the raw columns built
    from the fields a file holds, and the count fields the typed pass casts directly."""

    wanted: tuple[str, ...]
    build_exprs: Callable[[Present], dict[str, tuple[str, str]]]
    numeric: tuple[str, ...]
    times: tuple[str, ...] = ()
    """The time fields the typed pass of a JSON file has the reader parse (see usage_relation)."""

    def load(
        self, con: duckdb.DuckDBPyConnection, path: Path, pending: str, file_sha256: str
    ) -> int:
        """:func:`load_usage` into ``pending``: typed pass, else the text pass that reports rows."""
        ensure_utc(con)
        return load_usage(
            con,
            path,
            pending,
            file_sha256,
            self.wanted,
            self.build_exprs,
            numeric=self.numeric,
            times=self.times,
        )

    def load_in_place(
        self,
        con: duckdb.DuckDBPyConnection,
        path: Path,
        table: str,
        file_sha256: str,
        origin: str,
    ) -> int:
        """The typed pass alone, straight into ``table`` (the raw table, inside the caller's
        transaction). Raises ``duckdb.Error`` or :class:`FormatError` for anything it cannot take
        exactly; the caller then rolls back and uses :meth:`load`, which says which rows are bad.
        """
        ensure_utc(con)
        relation_of = usage_relation(path, self.wanted, numeric=self.numeric, times=self.times)
        with relation_of as (relation, present):
            return _insert_strict(
                con, table, file_sha256, relation, self.build_exprs(present), origin=origin
            )


def _cell_label(column: str, expr: str, file_columns: list[str]) -> str:
    """How a cast error names the cell: by the file's own column when ``column`` (meterr's raw
    column) is read from exactly one column of the file under another name (Langfuse's
    ``startTime`` (start_time)), else by meterr's column (its value then says which source, e.g.
    ``invalid JSON in usageDetails``)."""
    referenced = {
        name.replace('""', '"') for name in re.findall(r'"((?:[^"]|"")+)"', expr)
    } & set(file_columns)
    if len(referenced) == 1:
        (source,) = referenced
        if source != column:
            return f"{source} ({column})"
    return column


def _insert_typed_exact(
    con: duckdb.DuckDBPyConnection,
    pending: str,
    file_sha256: str,
    relation: str,
    exprs: dict[str, tuple[str, str]],
) -> int:
    """The slow, exact load: numbered text copy, every bad cell reported with its row number."""
    numbered = f"(SELECT row_number() OVER () AS __row, * FROM {relation})"
    casts = {col: f"TRY_CAST(({expr}) AS {dtype})" for col, (expr, dtype) in exprs.items()}
    problems = " UNION ALL ".join(
        f"SELECT __row, {sql_str(col)} AS col, CAST(({expr}) AS VARCHAR) AS val FROM src "
        f"WHERE ({expr}) IS NOT NULL AND trim(CAST(({expr}) AS VARCHAR)) <> '' "
        f"AND {casts[col]} IS NULL"
        for col, (expr, _dtype) in exprs.items()
    )
    try:
        con.execute(f"CREATE OR REPLACE TEMP TABLE __src AS SELECT * FROM {numbered}")
        bad = con.execute(
            f"WITH src AS (SELECT * FROM __src) SELECT __row, col, val FROM ({problems}) "
            f"ORDER BY __row LIMIT 20"
        ).fetchall()
        if bad:
            src_columns = [d[0] for d in con.execute("SELECT * FROM __src LIMIT 0").description]
            label = {col: _cell_label(col, expr, src_columns) for col, (expr, _) in exprs.items()}
            detail = "; ".join(f"row {r}: {label[c]}={v[:40]!r}" for r, c, v in bad[:5])
            total = con.execute(
                f"WITH src AS (SELECT * FROM __src) SELECT count(DISTINCT __row) FROM ({problems})"
            ).fetchone()[0]
        cols = ", ".join(f'"{c}"' for c in ["_file_sha256", "_row_number", "_loaded_at", *exprs])
        selects = ", ".join(
            [sql_str(file_sha256), "__row", "now()::TIMESTAMP"]
            + [casts[c] for c in exprs]
        )
        # With bad cells, the other rows still go in, for the gate to check (CellTypeError).
        others = (
            f"WHERE __row NOT IN (WITH src AS (SELECT * FROM __src) SELECT __row FROM ({problems}))"
            if bad
            else ""
        )
        con.execute(f"INSERT INTO {pending} ({cols}) SELECT {selects} FROM __src {others}")
        if bad:
            raise CellTypeError(f"{total} row(s) with values of the wrong type: {detail}")
        return con.execute("SELECT count(*) FROM __src").fetchone()[0]
    except duckdb.Error as exc:
        raise FormatError(f"could not read the file: {describe_error(exc)}") from exc
    finally:
        con.execute("DROP TABLE IF EXISTS __src")


# --- errors ---------------------------------------------------------------------------------

# What DuckDB's CSV errors say about the row, without the "Original Line:" that follows (it would
# copy a prompt into the quarantine reason and the ledger).
_CSV_PROBLEMS = (
    re.compile(r"Expected Number of Columns: \d+ Found: \d+"),
    re.compile(r"Maximum line size of \d+ bytes exceeded"),
    re.compile(r"Value with unterminated quote found"),
    re.compile(r"Invalid unicode \(byte sequence mismatch\) detected"),
)
_CSV_LINE = re.compile(r"CSV Error on Line: (\d+)")


def describe_error(exc: BaseException) -> str:
    """A short, content-free reason for a DuckDB read error (CSV errors keep line and problem)."""
    text = str(exc)
    line = _CSV_LINE.search(text)
    if line:
        for pattern in _CSV_PROBLEMS:
            found = pattern.search(text)
            if found:
                return f"CSV line {line.group(1)}: {found.group(0)}"
        return f"CSV line {line.group(1)}: malformed row"
    return first_line(exc)[:300]


# --- detection ------------------------------------------------------------------------------


def sample_fields(sample: Sample) -> set[str] | None:
    """The CSV header names or the first JSON record's keys of a sample (None if neither)."""
    header = sample.csv_header()
    if header is not None:
        return set(header)
    obj = sample.first_json_object()
    return set(obj) if obj is not None else None


def input_kind(path: Path) -> str:
    """'json' (one array), 'jsonl' (one object per line) or 'csv', from the first bytes."""
    with open(path, "rb") as handle:
        head = handle.read(4096).lstrip(b"\xef\xbb\xbf \t\r\n")
    if head.startswith(b"["):
        return "json"
    if head.startswith(b"{"):
        return "jsonl"
    return "csv"


def ensure_utc(con: duckdb.DuckDBPyConnection) -> None:
    """Offset-less times in exports are UTC; DuckDB reads them in the session time zone."""
    con.execute("SET TimeZone = 'UTC'")


# --- CSV with the header pinned -------------------------------------------------------------


def ident(name: str) -> str:
    """A quoted SQL identifier."""
    return '"' + name.replace('"', '""') + '"'


def read_csv_header(path: Path) -> list[str]:
    """The header row of a CSV (names stripped; blank and repeated names made unique)."""
    # utf-8-sig: a BOM (when called on a file unpack did not normalise) is not part of a name.
    with open(path, encoding="utf-8-sig", errors="replace", newline="") as handle:
        line = handle.readline(MAX_RECORD_BYTES + 1)
    if len(line) > MAX_RECORD_BYTES:
        raise FormatError(f"CSV header line is longer than {MAX_RECORD_BYTES} bytes")
    row = next(csv.reader(io.StringIO(line)), [])
    names: list[str] = []
    for index, raw in enumerate(row, start=1):
        base = raw.strip() or f"column{index}"
        name, n = base, 2
        while name in names:
            name, n = f"{base}__{n}", n + 1
        names.append(name)
    return names


def csv_select(path: Path, header: list[str], wanted: Iterable[str]) -> str:
    """A relation over a CSV that reads every column as text but keeps only ``wanted`` ones.

    The dialect and the column list are pinned (no sniffing), so a short or long row, an
    unterminated quote or an over-long line fails with its line number.
    """
    spec = "{" + ", ".join(f"{sql_str(n)}: 'VARCHAR'" for n in header) + "}"
    keep = set(wanted)
    cols = ", ".join(ident(n) for n in header if n in keep) or "NULL AS __nothing"
    return (
        f"(SELECT {cols} FROM read_csv({sql_str(str(path))}, header=true, delim=',', quote='\"', "
        f"escape='\"', columns={spec}, auto_detect=false, strict_mode=true, null_padding=false, "
        f"max_line_size={MAX_RECORD_BYTES}, encoding='utf-8'))"
    )


# --- JSON arrays ----------------------------------------------------------------------------


@contextmanager
def json_array_readable(path: Path) -> Iterator[Path]:
    """``path``, or a copy without the trailing comma before the closing ``]``.

    The Helicone export CLI writes ``,`` after every record of a JSON array, the last one too;
    DuckDB refuses that. The copy is streamed to a temp folder and removed afterwards.
    """
    size = path.stat().st_size
    with open(path, "rb") as handle:
        handle.seek(max(0, size - 65536))
        tail = handle.read()
    body = tail.rstrip()
    if not body.endswith(b"]") or not body[:-1].rstrip().endswith(b","):
        yield path
        return
    comma_at = size - len(tail) + len(body[:-1].rstrip()) - 1
    scratch = Path(tempfile.mkdtemp(prefix="meterr-json-"))
    try:
        fixed = scratch / "fixed.json"
        with open(path, "rb") as reader, open(fixed, "wb") as writer:
            remaining = comma_at
            while remaining > 0:
                chunk = reader.read(min(remaining, 1024 * 1024))
                if not chunk:
                    break
                writer.write(chunk)
                remaining -= len(chunk)
            writer.write(b"\n]\n")
        yield fixed
    finally:
        shutil.rmtree(scratch, ignore_errors=True)


class Present(set):
    """The wanted fields a file holds. In the typed pass (``typed``, on when ``numeric`` is given)
    ``numeric`` are counts checked and cast directly (see :func:`int_text`) and times are cast
    directly (see :func:`ts_text`) instead of going through the text clean-up; ``times`` are the
    time fields the reader itself already parsed as TIMESTAMPTZ (JSON files)."""

    def __init__(
        self, names: Iterable[str], numeric: Iterable[str] = (), times: Iterable[str] = ()
    ) -> None:
        super().__init__(names)
        numeric = frozenset(numeric)
        self.typed = bool(numeric)
        self.numeric = numeric & frozenset(self)
        self.times = frozenset(times) & frozenset(self) if self.typed else frozenset()
        self.trimmed: frozenset[str] = frozenset()
        """The fields the relation hands over trimmed already (see :func:`trimmed_relation`)."""


def trimmed_relation(relation: str, present: Present, columns: Iterable[str]) -> str:
    """``relation`` with each text field of ``columns`` trimmed once, as :func:`first_of` then
    takes it (recorded in ``present.trimmed``).

    Trimming in a layer of its own keeps the insert's expressions small: each field is referred to
    many times over (fallbacks, JSON documents, keys), and :func:`trimmed` spelled out at every
    reference would cost DuckDB's planner more than a small file's load. The typed pass's counts
    and reader-parsed times are left as read (their casts take what the text pass takes).
    """
    as_read = present.numeric | present.times if present.typed else frozenset()
    chosen = [c for c in columns if c in present]
    cols = [ident(c) if c in as_read else f"{trimmed(ident(c))} AS {ident(c)}" for c in chosen]
    present.trimmed = frozenset(chosen) - as_read
    return f"(SELECT {', '.join(cols) or 'NULL AS __nothing'} FROM {relation})"


class SqlNumber(str):
    """SQL for a count field in the typed pass: raw text as read, or (from :func:`int_text`) a
    BIGINT (see :func:`first_of`)."""


class SqlTime(str):
    """SQL for a time field in the typed pass: raw text as read, or (from :func:`ts_text`) a UTC
    TIMESTAMP (see :func:`first_time`)."""


class SqlTimestamp(SqlTime):
    """SQL for a time field the typed pass read as a TIMESTAMPTZ (see :attr:`Present.times`)."""


@contextmanager
def usage_relation(
    path: Path, wanted: Iterable[str], *, numeric: Iterable[str] = (), times: Iterable[str] = ()
) -> Iterator[tuple[str, Present]]:
    """A relation over a CSV, JSON Lines or JSON array file holding only the ``wanted`` fields.

    Yields ``(relation, present)``: ``present`` is the subset of ``wanted`` the file can hold
    (a CSV's header; for JSON every wanted key, missing ones read as NULL); its ``numeric`` are the
    count fields the typed pass casts directly. Counts and every other field are read as text (a
    JSON ``true`` or a CSV ``1e3`` must not turn into a count). In the typed pass (``numeric``
    given) of a JSON file, the ``times`` fields are read as TIMESTAMPTZ by the reader itself: its
    parse is the cast the text pass makes of the same text, and a value it cannot parse (literal
    quotes, Unix seconds, an empty string, a zone name) stops the typed pass, so the text pass
    takes the file. Parsing while reading spares a text copy of every time, a third of a large
    file's load. Prompt and response bodies, metadata blobs and every other field are never
    materialised.
    """
    names = list(dict.fromkeys(wanted))
    numbers = set(numeric)
    kind = input_kind(path)
    if kind == "csv":
        header = read_csv_header(path)
        present = Present(set(header) & set(names), numbers)
        yield trimmed_relation(csv_select(path, header, names), present, header), present
        return
    present = Present(names, numbers, times)
    columns = {name: "TIMESTAMPTZ" if name in present.times else "VARCHAR" for name in names}
    if kind == "jsonl":
        yield trimmed_relation(json_relation(path, columns, array=False), present, names), present
        return
    with json_array_readable(path) as readable:
        relation = json_relation(readable, columns, array=True)
        yield trimmed_relation(relation, present, names), present


# --- text expressions for insert_typed ------------------------------------------------------
# Each returns SQL text; what it cannot normalise stays visible text, so the final cast in
# insert_typed fails on it and reports the row (a TRY_CAST here would hide it as NULL).


def trimmed(expr: str) -> str:
    """``trim(expr)``, computed only where it can change the text.

    DuckDB's ``trim`` removes the Unicode space separators (U+0020, U+00A0, U+1680, U+2000-U+200A,
    U+202F, U+205F, U+3000) and decodes every string to find them: on a multi-million-row export
    that is most of a text column's load. A text that starts with a printable ASCII character (or
    U+0080-U+009F), does not end with a space and is all ASCII has none at either end, and three
    byte-level tests say so without decoding; every other text (empty, padded, non-ASCII) is
    trimmed as before.
    """
    value = f"CAST({expr} AS VARCHAR)"
    # Byte order: a text below '!' starts with a space or control character (or is empty); one at
    # or above U+00A0 starts with a non-ASCII character.
    plain = (
        f"{value} >= '!' AND {value} < '\u00a0' AND NOT ends_with({value}, ' ') "
        f"AND strlen({value}) = length({value})"
    )
    return f"CASE WHEN {plain} THEN {value} ELSE trim({value}) END"


def not_applicable(value: str, nulls: tuple[str, ...] = ("",)) -> str:
    """``value`` (text already trimmed), NULL for the format's not-applicable markers (always
    includes '')."""
    markers = ", ".join(sql_str(m) for m in dict.fromkeys(("", *nulls)))
    return f"CASE WHEN {value} IN ({markers}) THEN NULL ELSE {value} END"


def clean(expr: str, nulls: tuple[str, ...] = ("",)) -> str:
    """Trimmed text, NULL for the format's not-applicable markers (always includes '')."""
    return not_applicable(f"trim(CAST({expr} AS VARCHAR))", nulls)


def first_of(sources: Iterable[str], present: set[str], nulls: tuple[str, ...] = ("",)) -> str:
    """The first non-empty value among the ``sources`` columns the file has, else NULL.

    When every one of them is a count of the typed pass (``Present.numeric``) the result is the
    raw value for :func:`int_text` (a :class:`SqlNumber`), without the text clean-up.
    """
    chosen = [s for s in sources if s in present]
    if not chosen:
        return "NULL"
    numeric = getattr(present, "numeric", frozenset())
    if all(s in numeric for s in chosen):
        parts = [ident(s) for s in chosen]
        return SqlNumber(parts[0] if len(parts) == 1 else f"COALESCE({', '.join(parts)})")
    trimmed_already = getattr(present, "trimmed", frozenset())
    parts = [
        not_applicable(ident(s), nulls) if s in trimmed_already else clean(ident(s), nulls)
        for s in chosen
    ]
    return parts[0] if len(parts) == 1 else f"COALESCE({', '.join(parts)})"


def first_time(sources: Iterable[str], present: set[str], nulls: tuple[str, ...] = ("",)) -> str:
    """:func:`first_of` for a time field; in the typed pass the raw value (a :class:`SqlTime`, or
    a :class:`SqlTimestamp` when the reader parsed every source already)."""
    chosen = [s for s in sources if s in present]
    if chosen and getattr(present, "typed", False):
        quoted = [ident(s) for s in chosen]
        raw = quoted[0] if len(quoted) == 1 else f"COALESCE({', '.join(quoted)})"
        return SqlTimestamp(raw) if set(chosen) <= present.times else SqlTime(raw)
    return first_of(sources, present, nulls)


def time_or(time: str, text: str) -> str:
    """:func:`first_time`'s ``time``, else (where NULL) the time given as ``text``, in the form
    ``time`` has: a reader-parsed time takes ``text`` by the same strict cast (a value it cannot
    take stops the typed pass), a typed-pass or text-pass time takes it as text."""
    if isinstance(time, SqlTimestamp):
        return SqlTimestamp(f"COALESCE({time}, CAST({text} AS TIMESTAMPTZ))")
    combined = f"COALESCE({time}, {text})"
    return SqlTime(combined) if isinstance(time, SqlTime) else combined


def int_text(expr: str) -> str:
    """An integer count as text; '12.0' is fine, '12.5' or '1,234' stays visibly wrong.

    In the typed pass (a :class:`SqlNumber`) the count becomes a BIGINT at once; a value of any
    other shape stops the typed pass with an error (the text pass then reports the row).
    """
    if isinstance(expr, SqlNumber):
        # The same shapes the text pass accepts (a fraction of zeros, spaces around), cast
        # straight away; anything else stops the typed pass for the text pass to report.
        # A count written as BIGINT writes it is taken by a cast and a comparison, without the
        # pattern match (a third of the cost, on millions of counts).
        return SqlNumber(
            f"CASE WHEN {expr} IS NULL THEN NULL "
            f"WHEN CAST(TRY_CAST({expr} AS BIGINT) AS VARCHAR) = {expr} "
            f"THEN CAST({expr} AS BIGINT) "
            f"WHEN regexp_full_match({expr}, ' *[+-]?[0-9]+(\\.0*)? *') "
            f"THEN CAST({expr} AS BIGINT) ELSE error('not a whole number') END"
        )
    return (
        f"CASE WHEN regexp_full_match({expr}, '[+-]?[0-9]+(\\.0*)?') "
        f"THEN regexp_replace({expr}, '\\.0*$', '') ELSE 'not an integer: ' || {expr} END"
    )


def first_count(*parts: str) -> str:
    """The first non-NULL of several count expressions (``int_text``-style text, or BIGINTs).

    Where one of them is a typed-pass BIGINT, the text ones are cast to BIGINT strictly, so text
    that is not a whole number stops the typed pass instead of mixing types.
    """
    if not any(isinstance(p, SqlNumber) for p in parts):
        return f"COALESCE({', '.join(parts)})"
    typed = [p if isinstance(p, SqlNumber) else f"CAST({p} AS BIGINT)" for p in parts]
    return SqlNumber(f"COALESCE({', '.join(typed)})")


def ts_text(expr: str) -> str:
    """A time as ISO text: literal quotes stripped (Langfuse CSV), Unix seconds converted to UTC.

    Offsets are kept (the TIMESTAMPTZ cast honours them); offset-less text is UTC.

    In the typed pass (a :class:`SqlTime`) the value is cast at once to a UTC TIMESTAMP, literal
    quotes stripped. A value it cannot take as the text pass would (an empty cell, Unix seconds,
    spaces outside the quotes) makes the cast fail, and the text pass takes the file; a value it
    takes becomes what the text pass makes of it.
    """
    if isinstance(expr, SqlTimestamp):
        return SqlTime(f"make_timestamp(epoch_us({expr}))")
    if isinstance(expr, SqlTime):
        unquoted = f"CASE WHEN contains({expr}, '\"') THEN trim({expr}, '\"') ELSE {expr} END"
        # epoch_us of a TIMESTAMPTZ is UTC: the same instant as a plain TIMESTAMP, without the
        # time zone conversion a cast would do (a third of this column's load time).
        return SqlTime(f"make_timestamp(epoch_us(CAST({unquoted} AS TIMESTAMPTZ)))")
    value = f"trim({expr}, '\"')"
    return (
        f"CASE WHEN regexp_full_match({value}, '[0-9]{{1,11}}(\\.0+)?') THEN "
        f"strftime(make_timestamp(CAST({value} AS BIGINT) * 1000000), '%Y-%m-%dT%H:%M:%S') || 'Z' "
        f"ELSE {value} END"
    )


def ts_field(expr: str) -> tuple[str, str]:
    """``insert_typed``'s (expression, type) for a time from :func:`first_time`'s ``expr``."""
    value = ts_text(expr)
    return value, "TIMESTAMP" if isinstance(value, SqlTime) else "TIMESTAMPTZ"


def bool_text(expr: str) -> str:
    """A boolean as text; Python's 'None' (LiteLLM) is NULL."""
    return f"CASE WHEN lower({expr}) IN ('none', 'null') THEN NULL ELSE {expr} END"


def json_doc(expr: str) -> str:
    """A JSON document column; a JSON *string* holding JSON (double-encoded) is unwrapped."""
    return (
        f"CASE WHEN json_valid({expr}) AND json_type(CAST({expr} AS JSON)) = 'VARCHAR' "
        f"THEN json_extract_string({expr}, '$') ELSE {expr} END"
    )


def json_text(doc: str, paths: Iterable[str]) -> str:
    """The first non-empty value at ``paths`` of a JSON document, as text (NULL if not JSON)."""
    values = [
        f"NULLIF(trim(json_extract_string({doc}, {sql_str(p)})), '')" for p in paths
    ]
    picked = values[0] if len(values) == 1 else f"COALESCE({', '.join(values)})"
    return f"CASE WHEN json_valid({doc}) THEN {picked} END"


def json_int_text(doc: str, paths: Iterable[str], label: str) -> str:
    """An integer at the first present JSON ``path``; a document that is not JSON is reported."""
    values = [f"json_extract_string({doc}, {sql_str(p)})" for p in paths]
    picked = values[0] if len(values) == 1 else f"COALESCE({', '.join(values)})"
    return (
        f"CASE WHEN {doc} IS NULL THEN NULL "
        f"WHEN NOT json_valid({doc}) THEN {sql_str('invalid JSON in ' + label)} "
        f"ELSE {int_text(picked)} END"
    )


def json_key_sum_text(doc: str, include: str, exclude: str | None, label: str) -> str:
    """Sum of a JSON object's integer values whose (lower-cased) key matches ``include`` and not
    ``exclude`` (regexes); 0 when none match, NULL when the document is empty.

    Used for free-form usage maps (Langfuse ``usageDetails``) where only the counts are kept.
    """
    entries = f"map_entries(TRY_CAST(CAST({doc} AS JSON) AS MAP(VARCHAR, VARCHAR)))"
    cond = f"regexp_matches(lower(e.key), {sql_str(include)})"
    if exclude:
        cond += f" AND NOT regexp_matches(lower(e.key), {sql_str(exclude)})"
    chosen = f"list_filter({entries}, lambda e: {cond})"
    bad = (
        f"list_bool_or(list_transform({chosen}, lambda e: e.value IS NOT NULL AND NOT "
        f"regexp_full_match(e.value, '[0-9]+(\\.0*)?')))"
    )
    total = f"list_sum(list_transform({chosen}, lambda e: CAST(e.value AS HUGEINT)))"
    return (
        f"CASE WHEN {doc} IS NULL THEN NULL "
        f"WHEN NOT json_valid({doc}) OR json_type(CAST({doc} AS JSON)) <> 'OBJECT' "
        f"THEN {sql_str('not a JSON object: ' + label)} "
        f"WHEN {bad} THEN {sql_str('non-integer count in ' + label)} "
        f"ELSE CAST(COALESCE({total}, 0) AS VARCHAR) END"
    )


# --- provider names -------------------------------------------------------------------------

# Provider names used by gateways (LiteLLM's custom_llm_provider, Helicone's provider enum) that
# mean a provider meterr knows under another name. Anything else becomes NULL in ``provider``
# (kept verbatim in ``provider_raw``) rather than failing the gate for the whole file.
PROVIDER_ALIASES: dict[str, str] = {
    "text-completion-openai": "openai",
    "chatgpt": "openai",
    "openai_responses": "openai",
    "azure_ai": "azure",
    "azure_openai": "azure",
    "azure_text": "azure",
    "anthropic_text": "anthropic",
    "bedrock": "aws",
    "bedrock_converse": "aws",
    "sagemaker": "aws",
    "sagemaker_chat": "aws",
    "vertex_ai": "google",
    "vertex_ai_beta": "google",
    "vertex": "google",
    "gemini": "google",
    "google_ai_studio": "google",
    "palm": "google",
    "codestral": "mistral",
    "text-completion-codestral": "mistral",
    "cohere_chat": "cohere",
    "together_ai": "together",
    "togetherai": "together",
    "fireworks_ai": "fireworks",
    "x": "xai",
    "grok": "xai",
    "meta_llama": "meta",
    "llama": "meta",
}


def provider_sql(expr: str, known: Iterable[str]) -> str:
    """Lower-cased provider name mapped onto ``known`` names; NULL when it maps to none."""
    value = f"lower({expr})"
    known_list = ", ".join(sql_str(k) for k in known)
    whens = " ".join(f"WHEN {sql_str(a)} THEN {sql_str(p)}" for a, p in PROVIDER_ALIASES.items())
    return f"CASE WHEN {value} IN ({known_list}) THEN {value} ELSE CASE {value} {whens} END END"


# --- declarative columns --------------------------------------------------------------------


@dataclass(frozen=True)
class Field:
    """One raw-table column: its type, the export fields it is read from, and how.

    ``kind``: ``text`` (trimmed), ``lower``, ``int`` (a count), ``money`` (decimal from text),
    ``ts`` (a time, stored as UTC TIMESTAMP), ``bool``. A field with no ``sources`` is filled by
    the format itself.
    """

    sql_type: str
    sources: tuple[str, ...] = ()
    kind: str = "text"


def field_exprs(
    fields: Mapping[str, Field], present: set[str], nulls: tuple[str, ...] = ("",)
) -> dict[str, tuple[str, str]]:
    """``insert_typed`` expressions for every field with sources."""
    exprs: dict[str, tuple[str, str]] = {}
    for name, field in fields.items():
        if not field.sources:
            continue
        if field.kind == "ts":
            exprs[name] = ts_field(first_time(field.sources, present, nulls))
            continue
        value = first_of(field.sources, present, nulls)
        if field.kind == "int":
            exprs[name] = (int_text(value), field.sql_type)
        elif field.kind == "bool":
            exprs[name] = (bool_text(value), field.sql_type)
        elif field.kind == "lower":
            exprs[name] = (f"lower({value})", field.sql_type)
        elif field.kind in ("text", "money"):
            exprs[name] = (value, field.sql_type)
        else:
            raise ValueError(f"unknown field kind {field.kind!r}")
    return exprs


def field_sources(fields: Mapping[str, Field]) -> list[str]:
    """Every export field name the columns read (the only ones a loader selects)."""
    return list(dict.fromkeys(s for f in fields.values() for s in f.sources))


def time_sources(fields: Mapping[str, Field]) -> list[str]:
    """The export fields that hold times (parsed by the reader in :func:`load_usage`'s typed pass
    of a JSON file)."""
    return list(dict.fromkeys(s for f in fields.values() if f.kind == "ts" for s in f.sources))


def numeric_sources(fields: Mapping[str, Field]) -> list[str]:
    """The export fields that hold counts (cast directly by :func:`load_usage`'s typed pass)."""
    return list(dict.fromkeys(s for f in fields.values() if f.kind == "int" for s in f.sources))


def raw_columns(fields: Mapping[str, Field]) -> dict[str, str]:
    """The raw table's columns and types."""
    return {name: field.sql_type for name, field in fields.items()}

