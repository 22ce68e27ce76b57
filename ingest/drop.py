"""Processing the drop folder: each file is detected, loaded, gated and committed on its own.

For every pending file: unpack it (gz/zip/encodings), hash each member, skip content already
loaded, detect the format from content, stream it into a pending table (or, for a well-formed
request-level export, straight into its raw table inside an open transaction), validate every row
with the great-expectations gate, and commit rows plus ledger entry in one transaction. The file
then moves to ``archive/``; a file that fails anywhere moves to ``quarantine/`` with
``NAME.error.json`` beside it. One bad file never stops the batch.
"""

from __future__ import annotations

import gzip
import json
import logging
import os
import shutil
import time
import zipfile
from collections.abc import Callable, Iterable
from dataclasses import asdict, dataclass, field, replace
from datetime import UTC, datetime
from pathlib import Path

import duckdb

from ingest import ledger, quality
from ingest.formats import FORMATS, CellTypeError, ExportFormat, FormatError, detect_format
from ingest.loading import (
    commit_batch,
    create_pending,
    drop_repeated_records,
    ensure_table,
    find_older_copies,
    in_place_batch,
    in_place_rows,
    merge_known_values,
    number_rows,
    numbered_rows,
    settle_in_place,
)
from ingest.paths import MeterrHome
from ingest.providers import anthropic_api, openai_api
from ingest.unpack import UnsafeFileError, iter_members, read_sample, unwrap_envelope
from ingest.warehouse import connect

log = logging.getLogger(__name__)

# Names the sensor and the processor never pick up: hidden files and writes still in progress.
IGNORED_PREFIXES = (".", "~")
IGNORED_SUFFIXES = (".part", ".tmp", ".crdownload", ".error.json")
# The provider APIs' raw tables: created empty with the formats' so their dbt sources resolve even
# for a provider that has no key configured (and so is never pulled).
API_TABLES = tuple(ep.table for ep in (*openai_api.ENDPOINTS, *anthropic_api.ENDPOINTS))


@dataclass
class FileOutcome:
    """What happened to one dropped file or archive member."""

    name: str
    status: str
    row_count: int = 0
    reason: str | None = None
    format: str | None = None
    file_sha256: str | None = None
    raw_table: str | None = None
    gate_failures: list[str] = field(default_factory=list)
    gated_at: datetime | None = None
    """For a file loaded in place: the ``_loaded_at`` its rows were committed with (UTC, naive),
    after the gate checked exactly those rows in the same transaction (see
    :func:`ingest.quality.raw_invariant_violations`)."""

    def line(self) -> str:
        """The CLI's one line: ``loaded N rows``, ``duplicate``, ``waiting: REASON``,
        ``skipped: REASON`` (a folder in ``drop/`` whose files meterr cannot reach) or
        ``quarantined: REASON``."""
        if self.status == "loaded":
            return f"{self.name}: loaded {self.row_count} rows"
        if self.status == "duplicate":
            return f"{self.name}: duplicate"
        if self.status in ("waiting", "skipped"):
            return f"{self.name}: {self.status}: {self.reason}"
        return f"{self.name}: quarantined: {self.reason}"


# A file that changed while it was read is still being written (copied in place rather than
# renamed from a .part name): what was read is not committed, and the file stays in drop/.
STILL_BEING_WRITTEN = "the file changed while it was read (still being written?); left in drop/"
# A whole-folder run (the sensor, `meterr ingest` and `meterr run`) leaves a file modified this
# recently for the next run: it may still be being written in place (a writer that appends now
# and then would otherwise have what it wrote so far loaded, and the rest land in the archive).
SETTLE_SECONDS = 2.0


def _file_state(path: Path) -> tuple[int, int, int] | None:
    """Size, modification time and inode of ``path``: what changes while a file is written."""
    try:
        st = path.stat()
    except OSError:
        return None
    return (st.st_size, st.st_mtime_ns, st.st_ino)


# Whole-file contents that are a valid, empty export in any JSON format.
EMPTY_JSON = ("[]", "[\n]", "{}")


def unknown_format_reason(sample) -> str:
    """Why no format matched, naming only column names or JSON keys: never a value from the file
    (an unknown file may hold prompt text, which must not reach the ledger or the error file)."""
    if not sample.text.strip():
        return "no known format: the file is empty"
    header = sample.csv_header()
    if header is not None:
        if any("\x00" in h for h in header):
            # A tar archive or another binary file: its header bytes say nothing to anyone.
            return "no known format: binary content, not a CSV or JSON export"
        shown = ", ".join(_printable(h[:40]) for h in header[:12])
        return f"no known format: CSV columns [{shown}] match no supported export"
    record = sample.first_json_object()
    if record is not None:
        shown = ", ".join(_printable(str(k)[:40]) for k in list(record)[:12])
        # A failed export call saved as the export ({"data": null, "error": "Unauthorized"}):
        # said as such, still without its text.
        hint = (
            " (it looks like an API error response, not an export)"
            if {"error", "errors"} & set(record)
            else ""
        )
        return f"no known format: JSON keys [{shown}] match no supported export{hint}"
    return "no known format: neither a CSV with a known header nor JSON records"


def _printable(text: str) -> str:
    """``text`` with control characters escaped (``\\x07``), for a one-line reason."""
    return "".join(c if c.isprintable() else repr(c)[1:-1] for c in text)


def is_dangling_link(path: Path) -> bool:
    """True for a symbolic link whose target does not exist."""
    return path.is_symlink() and not path.exists()


def is_candidate(path: Path) -> bool:
    """True for a file the drop folder should process (not hidden, not a partial write); a
    symbolic link to nothing too, so that it is quarantined with its reason, not passed over."""
    name = path.name
    return (
        (path.is_file() or is_dangling_link(path))
        and not name.startswith(IGNORED_PREFIXES)
        and not name.endswith(IGNORED_SUFFIXES)
    )


# Why a folder under drop/ is passed over: meterr reads only what is inside drop/ itself.
FOLDER_LINK = (
    "a symbolic link to a folder: not followed (meterr reads only what is inside drop/); "
    "move or copy its files into drop/"
)


def scan_drop_folder(home: MeterrHome) -> tuple[list[Path], list[FileOutcome]]:
    """One walk of ``drop/``: every candidate file (subfolders included), in a stable order, and
    each folder whose files cannot be listed, as a ``skipped`` outcome with its reason: a folder
    meterr may not read, or a symbolic link to a folder (not followed, as the sensor does not
    follow it). Nothing in a skipped folder is touched; it is named so that a file there is not
    silently never loaded."""
    files: list[Path] = []
    skipped: list[FileOutcome] = []

    def skip(folder: Path, reason: str) -> None:
        # Named as walked (not resolved: a link's target lies outside drop/).
        skipped.append(FileOutcome(f"{folder.relative_to(home.drop)}/", "skipped", reason=reason))

    def unreadable(error: OSError) -> None:
        if Path(error.filename) != home.drop:
            skip(Path(error.filename), f"cannot read this folder: {error.strerror or error}")

    if not home.drop.exists():
        return [], []
    for folder, subfolders, names in os.walk(home.drop, onerror=unreadable):
        for sub in subfolders:
            if (Path(folder) / sub).is_symlink():
                skip(Path(folder) / sub, FOLDER_LINK)
        files.extend(p for p in (Path(folder) / n for n in names) if is_candidate(p))
    return sorted(files), sorted(skipped, key=lambda o: o.name)


def pending_files(home: MeterrHome) -> list[Path]:
    """Every candidate file under ``drop/`` (subfolders included), in a stable order."""
    return scan_drop_folder(home)[0]


def origin_of(home: MeterrHome, path: Path) -> str:
    """'webhook' for payloads the receiver wrote under ``drop/webhooks/``, else 'drop'."""
    try:
        relative = path.resolve().relative_to(home.drop)
    except ValueError:
        return "drop"
    return "webhook" if relative.parts[:1] == ("webhooks",) else "drop"


def ensure_raw_tables(con: duckdb.DuckDBPyConnection, tables: Iterable = ()) -> None:
    """Create every registered raw table (empty if never loaded) and the ledger, so dbt sources
    always resolve: the drop-folder formats' tables and the provider APIs' tables (an API with no
    key configured is never pulled, yet its staging views read its table)."""
    ledger.ensure(con)
    for spec in (*FORMATS, *API_TABLES, *tables):
        ensure_table(con, spec)


def _unique_destination(folder: Path, relative: Path) -> Path:
    target = folder / relative
    if not target.exists() and not target.with_name(target.name + ".error.json").exists():
        return target
    stamp = datetime.now(UTC).strftime("%Y%m%dT%H%M%S%f")
    return target.with_name(f"{stamp}-{target.name}")


def _relative_to_drop(home: MeterrHome, path: Path) -> Path:
    try:
        return path.resolve().relative_to(home.drop)
    except ValueError:
        return Path(path.name)


def archive_file(home: MeterrHome, path: Path) -> Path:
    """Move a processed file into ``archive/YYYY-MM-DD/`` (keeping its drop subfolder)."""
    day = datetime.now(UTC).strftime("%Y-%m-%d")
    target = _unique_destination(home.archive / day, _relative_to_drop(home, path))
    target.parent.mkdir(parents=True, exist_ok=True)
    _move_content(path, target)
    return target


def _move_content(path: Path, target: Path) -> None:
    """Move ``path`` to ``target``. A symbolic link is replaced by a copy of the bytes it points
    at (the linked file itself is left where it is): archive/ and quarantine/ must keep what was
    read, not a link whose target can change or vanish. A dangling link is moved as it is."""
    if path.is_symlink() and not is_dangling_link(path):
        shutil.copy2(path, target)
        path.unlink()
    else:
        shutil.move(str(path), target)


def _stored_digest(stored: Path) -> str:
    """The ledger's identity of a quarantined file: the SHA-256 of its bytes, or, for a file
    that cannot be read at all (no permission), a marker naming where it was stored."""
    try:
        return ledger.sha256_of(stored)
    except OSError:
        return f"unreadable:{stored}"


def quarantine_file(
    home: MeterrHome, path: Path, reason: str, fmt: str | None, members: list[dict] | None = None
) -> Path:
    """Move a failed file into ``quarantine/`` with ``NAME.error.json`` (reason, format, time)."""
    target = _unique_destination(home.quarantine, _relative_to_drop(home, path))
    target.parent.mkdir(parents=True, exist_ok=True)
    _move_content(path, target)
    error = {
        "file": path.name,
        "reason": reason,
        "detected_format": fmt,
        "quarantined_at": datetime.now(UTC).isoformat(timespec="seconds"),
    }
    if members:
        error["members"] = members
    target.with_name(target.name + ".error.json").write_text(
        json.dumps(error, indent=2, default=str) + "\n"
    )
    return target


def _process_member(
    con: duckdb.DuckDBPyConnection,
    name: str,
    path: Path,
    digest: str,
    origin: str,
    now: datetime,
    workdir: Path,
    unchanged: Callable[[], bool],
) -> FileOutcome:
    if ledger.already_loaded(con, digest):
        return FileOutcome(name, "duplicate", file_sha256=digest)
    sample = read_sample(path, name)
    fmt = detect_format(sample)
    records = None
    if fmt is None:
        # A saved API response: its records are an export like any other (the ledger keeps the
        # digest of the file as dropped).
        records = unwrap_envelope(path, sample, workdir / "envelopes")
        if records is not None:
            path, sample = records, read_sample(records, name)
            fmt = detect_format(sample)
    if fmt is None:
        # An envelope with no records unwraps to an empty file.
        if sample.text.strip() in EMPTY_JSON or (records is not None and not sample.text.strip()):
            # A valid export of nothing (e.g. a JSON array with no records): 0 rows, not an error.
            ledger_row = ledger.row_params(
                digest, name, "empty", "loaded", 0, None, origin=origin, at=now
            )
            con.execute(ledger.INSERT, ledger_row)
            return FileOutcome(name, "loaded", 0, None, "empty", digest)
        return FileOutcome(
            name,
            "quarantined",
            file_sha256=digest,
            reason=(sample.oversized if records is None else None)
            or unknown_format_reason(sample),
        )
    # The gate's library loads while the rows are read (the insert leaves the interpreter free).
    quality.load_in_background()
    if fmt.load_in_place is not None:
        outcome = _load_in_place(con, fmt, name, path, digest, origin, now, unchanged)
        if outcome is not None:
            return outcome
    pending = create_pending(con, fmt, origin=origin)
    try:
        rows = fmt.load(con, path, pending, digest)
    except FormatError as exc:
        reason = str(exc)
        if isinstance(exc, CellTypeError):
            # The rows that did read are checked too, so the reason names every problem.
            merge_known_values(con, fmt, pending)
            gate = quality.validate(con, fmt, numbered_rows(pending), now=now)
            if not gate.passed:
                reason += "; and the other rows " + gate.reason()
        # Named with its table, so that table's gate check lists it among the rejected files.
        return FileOutcome(
            name,
            "quarantined",
            reason=reason,
            format=fmt.name,
            file_sha256=digest,
            raw_table=fmt.qualified_table,
        )
    merge_known_values(con, fmt, pending)
    gate = quality.validate(con, fmt, numbered_rows(pending), now=now)
    if not gate.passed:
        return _gate_failed(name, gate, fmt, digest)
    if gate.repeated_records:
        rows -= _keep_one_copy(con, fmt, name, pending)
    if not unchanged():
        return FileOutcome(name, "waiting", rows, STILL_BEING_WRITTEN, fmt.name, digest)
    ledger_row = _loaded_ledger_row(name, rows, fmt, digest, origin, now)
    commit_batch(con, fmt, pending, extra_statements=((ledger.INSERT, ledger_row),))
    return _loaded(name, rows, fmt, digest)


def _load_in_place(
    con: duckdb.DuckDBPyConnection,
    fmt: ExportFormat,
    name: str,
    path: Path,
    digest: str,
    origin: str,
    now: datetime,
    unchanged: Callable[[], bool],
) -> FileOutcome | None:
    """Load a request-level export straight into its raw table in one transaction: insert, gate,
    replace older copies, ledger row, commit. Returns None when the file is not exactly readable
    by the typed pass (nothing is kept; the caller loads it the checked way, which says why), and
    a ``waiting`` outcome, nothing kept, when the file changed while it was read."""
    ensure_table(con, fmt)
    con.execute("BEGIN TRANSACTION")
    try:
        try:
            rows = fmt.load_in_place(con, path, fmt.qualified_table, digest, origin)
        except (duckdb.Error, FormatError):
            con.execute("ROLLBACK")
            return None
        older_copies = find_older_copies(con, fmt, digest)
        if older_copies:
            merge_known_values(con, fmt, fmt.qualified_table, file_sha256=digest)
        gate = quality.validate(con, fmt, in_place_rows(fmt, digest), now=now)
        if not gate.passed:
            con.execute("ROLLBACK")
            return _gate_failed(name, gate, fmt, digest)
        if gate.repeated_records:
            rows -= _keep_one_copy(con, fmt, name, fmt.qualified_table, in_place_batch(digest))
        if not unchanged():
            con.execute("ROLLBACK")
            return FileOutcome(name, "waiting", rows, STILL_BEING_WRITTEN, fmt.name, digest)
        # The insert's now(): DuckDB's time of this transaction's start, in the same time zone.
        loaded_at = con.execute("SELECT now()::TIMESTAMP").fetchone()[0]
        ledger_row = _loaded_ledger_row(name, rows, fmt, digest, origin, now)
        settle_in_place(
            con,
            fmt,
            older_copies=older_copies,
            extra_statements=((ledger.INSERT, ledger_row),),
        )
    except BaseException:
        _rollback(con)
        raise
    try:
        number_rows(con, fmt)
    except duckdb.Error as exc:
        # The rows and their ledger entry are committed: a missing row number is lineage left
        # for the next load of this table to fill, not a reason to quarantine the file.
        log.warning("%s: rows loaded but not yet numbered: %s", name, exc)
    outcome = _loaded(name, rows, fmt, digest)
    outcome.gated_at = loaded_at
    return outcome


def _keep_one_copy(
    con: duckdb.DuckDBPyConnection, fmt: ExportFormat, name: str, target: str, where: str = "true"
) -> int:
    """Drop the repeated copies of records in a batch the gate passed with repeats, and say so
    in the log (the file's line counts the rows kept)."""
    dropped = drop_repeated_records(con, fmt, target, where)
    log.info("%s: %d repeated record(s) kept once", name, dropped)
    return dropped


def _gate_failed(
    name: str, gate: quality.GateResult, fmt: ExportFormat, digest: str
) -> FileOutcome:
    """A file whose rows the gate rejected: nothing of it was committed, so its row count is 0,
    as for any quarantined file (the count is of rows put into raw, not of rows read)."""
    return FileOutcome(
        name,
        "quarantined",
        0,
        gate.reason(),
        fmt.name,
        digest,
        fmt.qualified_table,
        gate.failures,
    )


def _loaded_ledger_row(
    name: str, rows: int, fmt: ExportFormat, digest: str, origin: str, now: datetime
) -> list:
    """The ledger row committed in the same transaction as a file's rows."""
    return ledger.row_params(
        digest,
        name,
        fmt.name,
        "loaded",
        rows,
        None,
        raw_table=fmt.qualified_table,
        origin=origin,
        at=now,
    )


def _loaded(name: str, rows: int, fmt: ExportFormat, digest: str) -> FileOutcome:
    return FileOutcome(name, "loaded", rows, None, fmt.name, digest, fmt.qualified_table)


def _rollback(con: duckdb.DuckDBPyConnection) -> None:
    """Roll back the open transaction, if any (a failed COMMIT may already have ended it)."""
    try:
        con.execute("ROLLBACK")
    except duckdb.Error:
        pass


def process_file(
    con: duckdb.DuckDBPyConnection, home: MeterrHome, path: Path, *, now: datetime | None = None
) -> list[FileOutcome]:
    """Load one dropped file (all its members), then archive or quarantine it. Never raises for
    bad input: every failure becomes a quarantined outcome with a reason."""
    now = now or datetime.now(UTC)
    origin = origin_of(home, path)
    workdir = home.work / "current"
    outcomes: list[FileOutcome] = []
    # Taken before the file is first read (its digest included), compared before each commit.
    state = _file_state(path)

    def unchanged() -> bool:
        return _file_state(path) == state

    try:
        if is_dangling_link(path):
            raise FileNotFoundError(f"a symbolic link to nothing: {path.readlink()} does not exist")
        for member in iter_members(path, workdir):
            try:
                outcome = _process_member(
                    con,
                    member.name,
                    member.path,
                    member.sha256,
                    origin,
                    now,
                    workdir,
                    unchanged,
                )
                if member.name != path.name:  # a member of an archive
                    outcome = _documentation_passed_over(outcome, member.name)
                outcomes.append(outcome)
            except (duckdb.Error, UnicodeError, OSError) as exc:
                outcomes.append(
                    FileOutcome(member.name, "quarantined", reason=f"could not read: {exc}")
                )
            except RecursionError:
                # Python's JSON parser (sniffing the first record) recurses per nesting level.
                outcomes.append(
                    FileOutcome(
                        member.name, "quarantined", reason="could not read: JSON nested too deeply"
                    )
                )
        if not outcomes:
            outcomes.append(FileOutcome(path.name, "quarantined", reason="archive has no files"))
        elif all(o.status == "skipped" for o in outcomes):
            outcomes.append(
                FileOutcome(
                    path.name, "quarantined", reason="archive holds documentation only, no export"
                )
            )
    except (UnsafeFileError, zipfile.BadZipFile, gzip.BadGzipFile, EOFError, OSError) as exc:
        outcomes.append(
            FileOutcome(path.name, "quarantined", reason=str(exc) or type(exc).__name__)
        )
    finally:
        shutil.rmtree(workdir, ignore_errors=True)

    if not unchanged() or any(o.status == "waiting" for o in outcomes):
        # Still being written: nothing is archived or quarantined; the next run reads it again
        # (rows committed before it changed are replaced then: they are keyed like any reload).
        log.warning("%s: %s", path.name, STILL_BEING_WRITTEN)
        return [
            o
            if o.status in ("loaded", "duplicate")
            else replace(o, status="waiting", reason=STILL_BEING_WRITTEN)
            for o in outcomes
        ]
    bad = [o for o in outcomes if o.status == "quarantined"]
    if bad:
        reason = (
            bad[0].reason if len(outcomes) == 1 else "; ".join(f"{o.name}: {o.reason}" for o in bad)
        )
        stored = quarantine_file(
            home,
            path,
            reason or "unknown",
            bad[0].format,
            [asdict(o) for o in outcomes] if len(outcomes) > 1 else None,
        )
        for outcome in bad:
            ledger.record(
                con,
                outcome.file_sha256 or _stored_digest(stored),
                outcome.name,
                outcome.format,
                "quarantined",
                outcome.row_count,
                outcome.reason,
                raw_table=outcome.raw_table,
                origin=origin,
                stored_path=str(stored),
                at=now,
            )
    else:
        stored = archive_file(home, path)
        after = _file_state(stored)
        if state is not None and after is not None and after[:2] != state[:2]:
            # Written to between the last check and the move (a writer holding the file open):
            # what it wrote since is in the archived copy, not in raw. Never silent.
            log.error(
                "%s: written to after it was read: the rows loaded are those it held then, and "
                "what came after is only in %s; drop the complete file again",
                path.name,
                stored,
            )
    for outcome in outcomes:
        if outcome.status == "duplicate":
            ledger.record(
                con,
                outcome.file_sha256,
                outcome.name,
                None,
                "duplicate",
                0,
                None,
                origin=origin,
                stored_path=str(stored),
                at=now,
            )
    return outcomes


# Names of the files an export archive may carry beside its data (a read-me, a licence, a PDF
# of the invoice): inside a zip, such a member of no known format is passed over, not a reason
# to quarantine the archive whose data loaded.
DOCUMENTATION_SUFFIXES = (".txt", ".md", ".pdf", ".html", ".htm", ".rtf", ".doc", ".docx")
DOCUMENTATION_STEMS = ("README", "LICENSE", "LICENCE", "NOTICE", "CHANGELOG")


def _documentation_passed_over(outcome: FileOutcome, member: str) -> FileOutcome:
    """An archive member (``member``: ``archive.zip:inner/name``) named like documentation that
    no format recognised: ``skipped``, with why; any other outcome as it is."""
    if outcome.status != "quarantined" or outcome.format is not None:
        return outcome
    if not (outcome.reason or "").startswith("no known format"):
        return outcome
    base = Path(member.partition(":")[2] or member).name
    if not (
        base.lower().endswith(DOCUMENTATION_SUFFIXES)
        or base.upper().startswith(DOCUMENTATION_STEMS)
    ):
        return outcome
    return replace(
        outcome,
        status="skipped",
        reason="documentation beside the data (no known export format); not loaded",
    )


def process_drop_folder(
    home: MeterrHome,
    files: Iterable[Path] | None = None,
    *,
    extra_tables: Iterable = (),
    on_file: Callable[[FileOutcome], None] | None = None,
    settle_seconds: float = 0.0,
) -> list[FileOutcome]:
    """Process ``files`` (default: everything pending in ``drop/``) under the writer lock.

    With ``settle_seconds``, a pending file modified less than that long ago is left in ``drop/``
    with a ``waiting`` outcome (named files are always processed)."""
    home.ensure()
    outcomes: list[FileOutcome] = []

    def report(outcome: FileOutcome) -> None:
        outcomes.append(outcome)
        if on_file:
            on_file(outcome)

    if files is not None:
        chosen = list(files)
    else:
        chosen, skipped = scan_drop_folder(home)
        for outcome in skipped:
            log.warning(outcome.line())
            report(outcome)
        if settle_seconds > 0:
            settled = []
            for path in chosen:
                age = _age_seconds(path)
                if age is not None and age < settle_seconds:
                    report(_settling(path, age, settle_seconds))
                else:
                    settled.append(path)
            chosen = settled
    with connect(home) as con:
        ensure_raw_tables(con, extra_tables)
        for path in chosen:
            if not (path.exists() or is_dangling_link(path)):
                log.info("skipping %s: no longer in the drop folder", path)
                continue
            for outcome in process_file(con, home, path):
                log.info(outcome.line())
                report(outcome)
    return outcomes


def _age_seconds(path: Path) -> float | None:
    """Seconds since ``path`` was last modified (None when it cannot be read)."""
    try:
        return time.time() - path.stat().st_mtime
    except OSError:
        return None


def _settling(path: Path, age: float, settle_seconds: float) -> FileOutcome:
    """The outcome of a file too recently modified to be taken: left for the next run."""
    return FileOutcome(
        path.name,
        "waiting",
        reason=(
            f"modified {max(age, 0):.1f} s ago, less than {settle_seconds:g} s (still being "
            "written?); left in drop/ for the next run"
        ),
    )
