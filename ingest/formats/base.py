"""What every drop-folder format provides: detection from content, a raw table, a streaming loader.

A format module builds one :class:`ExportFormat`. The registry in ``ingest.formats`` tries each
format's ``detect`` on a decoded sample of the file's head, in order, and the first that says yes
loads the file. Loaders stream with DuckDB (``read_csv`` / ``read_json``) into a *pending* table
that has the raw table's columns; the gate validates it and only then is it committed to
``raw.<table>``. Request-level formats also offer ``load_in_place``: the same rows inserted
straight into ``raw.<table>`` inside a transaction the gate runs in (see ``ingest.loading``).
"""

from __future__ import annotations

import csv
import io
import json
from collections.abc import Callable
from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path

import duckdb

# Columns every raw table carries besides the format's own: which file (or API pull) a row came
# from, where in it, and when meterr loaded it.
# ``_origin`` says how the batch arrived: 'drop' (a dropped file), 'webhook' (a pushed payload) or
# 'api' (a provider API pull); loaders never set it, the pending table's default does.
LINEAGE_COLUMNS: dict[str, str] = {
    "_file_sha256": "VARCHAR",
    "_row_number": "BIGINT",
    "_loaded_at": "TIMESTAMP",
    "_origin": "VARCHAR",
}
ORIGINS = ("drop", "webhook", "api")

# Providers meterr knows by name (lower case). Anything else fails the gate's "known provider" rule.
KNOWN_PROVIDERS: tuple[str, ...] = (
    "openai",
    "anthropic",
    "google",
    "azure",
    "aws",
    "mistral",
    "cohere",
    "groq",
    "deepseek",
    "xai",
    "together",
    "fireworks",
    "perplexity",
    "openrouter",
    "stability",
    "meta",
)


class FormatError(ValueError):
    """The file looked like a format but could not be read as one; the message is the reason."""


class CellTypeError(FormatError):
    """Cells of the wrong type, named by row. The file's other rows are in the pending table, so
    the gate can still say what else is wrong with them (one quarantine names every problem,
    rather than one per fix)."""


@dataclass(frozen=True)
class Sample:
    """The decoded head of a file (BOM stripped), for content detection."""

    text: str
    name: str
    oversized: str | None = None
    """Why the first JSON record could not be sampled (longer than the record limit): the file
    can still be a saved API response (one document, parsed whole), else this is its reason."""

    @property
    def first_line(self) -> str:
        return self.text.split("\n", 1)[0].strip("\r")

    def csv_header(self) -> list[str] | None:
        """The first row parsed as CSV (names stripped of quotes and spaces); None if not CSV."""
        line = self.first_line
        if "," not in line or line.lstrip().startswith(("{", "[")):
            return None
        try:
            row = next(csv.reader(io.StringIO(line)))
        except (csv.Error, StopIteration):
            return None
        return [cell.strip().strip('"').strip() for cell in row]

    def first_json_object(self) -> dict | None:
        """The first JSON object of a JSON Lines file or a JSON array, if the sample holds it."""
        stripped = self.text.lstrip()
        if stripped.startswith("{"):
            line = stripped.split("\n", 1)[0]
            try:
                obj = json.loads(line)
            except json.JSONDecodeError:
                return None
            return obj if isinstance(obj, dict) else None
        if stripped.startswith("["):
            decoder = json.JSONDecoder()
            body = stripped[1:].lstrip()
            if not body.startswith("{"):
                return None
            try:
                obj, _ = decoder.raw_decode(body)
            except json.JSONDecodeError:
                return None
            return obj if isinstance(obj, dict) else None
        return None


# The most a single row may count (tokens, requests) or cost (dollars, cents): 100 billion, far
# beyond any account's day for one model, key and project. A larger value is a broken export or
# response, and the marts' money arithmetic (DECIMAL(18, 6), tokens times a per-million price)
# would overflow on it and stop every later build; the gate refuses it instead.
MAX_QUANTITY = 10**11


# How far apart two exports can put the same instant: one may write local time without an offset
# (read as UTC), and UTC offsets run from -12 to +14 hours.
EXPORTED_TIME_SPREAD = timedelta(days=1)


@dataclass(frozen=True, kw_only=True)
class RawTable:
    """A table in the ``raw`` schema and the rules its rows must pass before they are committed.

    Export formats and API endpoints both describe their landing table with one of these; the gate
    (``ingest.quality``) and the commit (``ingest.loading``) work from it alone.
    """

    raw_table: str
    """Bare table name in the ``raw`` schema."""
    columns: dict[str, str]
    """The raw table's own columns and DuckDB types (lineage columns are added)."""
    key: tuple[str, ...] = ()
    """Columns that identify a record across files; a newer copy replaces an older one."""
    also_keyed_by: str | None = None
    """A second id a record may carry: a newer row with the same (non-empty) value replaces the
    older row even when their keys differ. When the newer row's key is only this id (it had no
    key of its own), it takes the older row's key, so later copies keyed either way still match."""
    replace_by: tuple[str, ...] = ()
    """For day-level exports: columns whose value set a new file replaces (e.g. day and account)."""
    replace_grouped_by: tuple[str, ...] = ()
    """Of ``replace_by``, the dimensions an export may or may not be grouped by (the dashboard's
    group-by choice changes the header). A data row that leaves one empty was not grouped by it
    and covers every value of it, and an older row that leaves it empty is covered by any value:
    so the same days exported grouped by model and then by API key replace each other instead of
    adding up. Exports filtered to different values of a dimension they are grouped by still add
    up (both rows carry a value, and the values differ)."""
    replace_data_rows: str = "TRUE"
    """A SQL condition over a new row, its columns written ``{row}."name"``: true when the row
    carries data. Only such rows cover the values of dimensions they leave empty; a row that only
    says "nothing on this day" (an export's empty bucket) replaces just the rows that match it
    exactly, as it may come from a filtered export."""
    keep_known: tuple[str, ...] = ()
    """Columns a newer copy of a record (same ``key``) may leave empty: they keep the older
    copy's value (see :func:`ingest.loading.merge_known_values`)."""
    timestamp_column: str = ""
    """The column the gate checks for a sane time range."""
    copies_within: timedelta | None = None
    """For records whose ``key`` and time the tool that exported them assigned (a request's id and
    when it was made): how far apart in ``timestamp_column`` two copies of one record can be, as
    two exports may render the same instant in different time zones. Older copies are looked for
    only that far around the new file's times, so the look-up reads the stored rows of those days
    instead of every key in the table. None (a record's time may be corrected in a later file):
    every stored row is looked at."""
    non_negative: tuple[str, ...] = ()
    """Counts and costs the gate requires to be >= 0 and at most :data:`MAX_QUANTITY`."""
    required: tuple[str, ...] = ()
    """Columns that may not be NULL."""
    provider_column: str | None = None
    """The column the gate checks against :data:`KNOWN_PROVIDERS`, if the table carries one."""
    retired: tuple[str, ...] = ()
    """Columns an earlier meterr created in this table and this one no longer writes: dropped
    from an existing table before the next load (see :func:`ingest.loading.ensure_table`)."""

    @property
    def name(self) -> str:
        return self.raw_table

    @property
    def all_columns(self) -> dict[str, str]:
        return {**LINEAGE_COLUMNS, **self.columns}

    @property
    def qualified_table(self) -> str:
        return f"raw.{self.raw_table}"

    def create_sql(self, table: str, *, temp: bool = False, origin: str = "drop") -> str:
        """DDL for a table with this spec's columns; ``origin`` is the ``_origin`` default."""
        if origin not in ORIGINS:
            raise ValueError(f"unknown origin {origin!r}")
        cols = ", ".join(
            f'"{name}" {dtype}' + (f" DEFAULT '{origin}'" if name == "_origin" else "")
            for name, dtype in self.all_columns.items()
        )
        kind = "TEMP TABLE" if temp else "TABLE"
        return f"CREATE {kind} IF NOT EXISTS {table} ({cols})"


@dataclass(frozen=True, kw_only=True)
class ExportFormat(RawTable):
    """One drop-folder format: how to recognise it and where its rows land."""

    format_name: str
    """Format name recorded in ``meta.ingested_files.format`` (e.g. ``custom``)."""
    source: str
    """The contract's ``source`` value its rows get in ``marts.fct_usage_daily``."""
    detect: Callable[[Sample], bool]
    load: Callable[[duckdb.DuckDBPyConnection, Path, str, str], int]
    """``load(con, path, pending_table, file_sha256)`` inserts every row and returns the count.

    Raises :class:`FormatError` with a precise reason (row numbers for bad cells)."""
    load_in_place: Callable[[duckdb.DuckDBPyConnection, Path, str, str, str], int] | None = None
    """For request-level exports: ``load_in_place(con, path, raw_table, file_sha256, origin)``
    inserts a well-formed file straight into its raw table, in one statement inside the caller's
    transaction, skipping the pending copy. It raises (``duckdb.Error`` or :class:`FormatError`)
    for anything it cannot take exactly; the caller then rolls back and uses ``load``."""

    @property
    def name(self) -> str:
        return self.format_name
