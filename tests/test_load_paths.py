"""The loader's fast passes give exactly what the slow, row-numbered text pass gives (real DuckDB).

A well-formed export is loaded in one streaming pass (counts read as numbers where the format
allows it); only a file that pass cannot take exactly is read again as numbered text, which
reports bad rows. These tests pin that the shortcut changes nothing but the time: same rows, same
values, and bad values still reported by row.
"""

from __future__ import annotations

import dataclasses
import json
import shutil
from contextlib import contextmanager
from pathlib import Path

import duckdb
import pytest

from benchmarks.run import generate_helicone_jsonl
from ingest import drop, loading
from ingest.formats import by_name, reading
from ingest.formats.base import FormatError
from ingest.loading import create_pending
from ingest.paths import MeterrHome
from ingest.warehouse import (
    BULK_INSERT_MEMORY_LIMIT,
    MEMORY_LIMIT,
    connect,
    streaming_insert,
)
from tests.conftest import usage_row, write_custom_csv
from tests.test_formats import _helicone_ui_csv_without_response_ids

FIXTURES = Path(__file__).parent / "fixtures" / "exports"
REQUEST_LEVEL = [
    ("helicone", "helicone/data.csv"),
    ("helicone", "helicone/data.jsonl"),
    ("helicone", "helicone/output.csv"),
    ("helicone", "helicone/output.json"),
    ("helicone", "helicone/output.jsonl"),
    ("langfuse", "langfuse/1760256000000-lf-observations-export-proj_lf_1.csv"),
    ("langfuse", "langfuse/1760342400000-lf-observations-export-proj_lf_1.jsonl"),
    ("langfuse", "langfuse/1760428800000-lf-observations-export-proj_lf_2.json"),
    ("litellm", "litellm/LiteLLM_SpendLogs.csv"),
    ("litellm", "litellm/spend_logs.json"),
]


def _rows(path: Path, format_name: str) -> list[tuple]:
    """The pending rows a format's loader makes of ``path``, in file order (load time left out)."""
    fmt = by_name(format_name)
    with duckdb.connect() as con:
        pending = create_pending(con, fmt)
        fmt.load(con, path, pending, "sha")
        columns = [c for c in fmt.all_columns if c not in ("_loaded_at", "_row_number")]
        names = ", ".join(f'"{c}"' for c in columns)
        return con.execute(f"SELECT {names} FROM {pending} ORDER BY rowid").fetchall()


def _helicone_records() -> list[dict]:
    """The Helicone JSONL fixture's records (prompt bodies included, as exported)."""
    return [
        json.loads(line)
        for line in (FIXTURES / "helicone/output.jsonl").read_text().splitlines()
        if line.strip()
    ]


def _write_jsonl(path: Path, records: list[dict]) -> Path:
    path.write_text("".join(json.dumps(r) + "\n" for r in records))
    return path


def _without_typed_pass(monkeypatch: pytest.MonkeyPatch) -> None:
    original = reading.load_usage

    def text_only(*args, numeric=(), **kwargs):
        return original(*args, **kwargs)

    monkeypatch.setattr(reading, "load_usage", text_only)


def _without_text_pass(monkeypatch: pytest.MonkeyPatch) -> None:
    def refuse(*args, **kwargs):
        raise AssertionError("the text pass ran")

    monkeypatch.setattr(reading, "insert_typed", refuse)


@pytest.mark.parametrize(("format_name", "fixture"), REQUEST_LEVEL)
def test_typed_pass_loads_the_same_rows_as_the_text_pass(
    format_name: str, fixture: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    fast = _rows(FIXTURES / fixture, format_name)
    assert fast, "the fixture has rows"
    with monkeypatch.context() as patch:
        _without_typed_pass(patch)
        slow = _rows(FIXTURES / fixture, format_name)
    assert fast == slow


@pytest.mark.parametrize(("format_name", "fixture"), REQUEST_LEVEL)
def test_plain_exports_take_the_typed_pass(
    format_name: str, fixture: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The typed pass really carries ordinary files (else the test above compares text to text)."""
    _without_text_pass(monkeypatch)
    assert _rows(FIXTURES / fixture, format_name)


@pytest.mark.parametrize(
    "times",
    [
        ["2026-10-10T12:00:01+02:00", "2026-10-10T12:00:02.123456789Z", "2026-10-10 12:00:03"],
        ['"2026-10-10 12:00:00"', " 2026-10-10T12:00:00Z ", "2026-10-10T07:00:00-05:00"],
        [1760097600, "1760097601", "2026-10-10"],
        ['"2026-10-10 12:00:00" ', "", "2026-10-10 12:00:00"],
        ["2026-10-10 12:00:00 America/New_York", "2026-10-10T12:00:00+0530", "2026-10-10"],
        ["2026-10-10 12:00:00 UTC", "2026-10-10T12:00:00.000+00:00", "2026-10-10T12:00:00"],
    ],
)
def test_times_load_the_same_in_both_passes(
    times: list, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Offsets, literal quotes, spaces, Unix seconds, empty cells: whichever pass takes the file,
    each time becomes the same UTC instant (or the same NULL)."""
    records = _helicone_records()
    for record, value in zip(records, times, strict=False):
        record["request_created_at"] = value
        record["response_created_at"] = value
    path = tmp_path / "export.jsonl"
    _write_jsonl(path, records)
    fast = _rows(path, "helicone")
    with monkeypatch.context() as patch:
        _without_typed_pass(patch)
        slow = _rows(path, "helicone")
    assert fast == slow


@pytest.mark.parametrize(("format_name", "fixture"), REQUEST_LEVEL)
def test_typed_pass_has_the_reader_parse_json_times(
    format_name: str, fixture: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Times in a JSON export are parsed while reading (no text copy of each), and the text pass
    is never needed for the fixture; CSV exports read every field as text."""
    seen: list[tuple[str, frozenset]] = []
    original = reading.usage_relation

    @contextmanager
    def watching(path, wanted, **kwargs):
        with original(path, wanted, **kwargs) as (relation, present):
            seen.append((relation, present.times))
            yield relation, present

    monkeypatch.setattr(reading, "usage_relation", watching)
    _without_text_pass(monkeypatch)
    assert _rows(FIXTURES / fixture, format_name)
    [(relation, times)] = seen
    if reading.input_kind(FIXTURES / fixture) == "csv":
        assert not times and "TIMESTAMPTZ" not in relation
    else:
        assert times and all(f"'{name}': 'TIMESTAMPTZ'" in relation for name in times)


@pytest.mark.parametrize("value", [12.5, True, "1e3", "12 tokens"])
def test_a_count_that_is_not_a_whole_number_is_reported_by_row(
    value: object, tmp_path: Path
) -> None:
    """What the text pass rejects, the typed pass must not quietly accept (JSON ``true`` would
    cast to 1, ``1e3`` to 1000)."""
    records = _helicone_records()
    records[1]["prompt_tokens"] = value
    path = tmp_path / "export.jsonl"
    _write_jsonl(path, records)
    with pytest.raises(FormatError) as err:
        _rows(path, "helicone")
    assert "row 2: prompt_tokens" in str(err.value)


# Every character DuckDB's trim removes (the Unicode space separators), and some it keeps.
_SPACES = [" ", "\u00a0", "\u1680", *map(chr, range(0x2000, 0x200B)), "\u202f", "\u205f", "\u3000"]
_TEXTS = [
    "gpt-4o", "", " ", "  gpt-4o  ", "\tgpt-4o\n", "claude\u00e9", "\u00e9claude", "mod\u00e8le ",
    "\u0085x", "!", "~", "\x7f", "a b", "\u65e5\u672c", *(f"{s}x" for s in _SPACES),
    *(f"x{s}" for s in _SPACES), *(f"{s}x{s}" for s in _SPACES), *_SPACES,
]


def test_text_is_trimmed_exactly_as_duckdb_trims() -> None:
    """:func:`reading.trimmed` skips ``trim`` only where it cannot change the text: on every
    Unicode space at either end, non-ASCII text, tabs and empty text it agrees with ``trim``."""
    with duckdb.connect() as con:
        con.execute("CREATE TABLE t (x VARCHAR)")
        con.executemany("INSERT INTO t VALUES (?)", [[t] for t in _TEXTS])
        rows = con.execute(f"SELECT x, {reading.trimmed('x')}, trim(x) FROM t").fetchall()
        cleaned = con.execute(f"SELECT {reading.clean('x')} FROM t ORDER BY rowid").fetchall()
    assert len(rows) == len(_TEXTS)
    assert [(x, ours) for x, ours, _ in rows] == [(x, theirs) for x, _, theirs in rows]
    assert [c for (c,) in cleaned] == [t.strip("".join(_SPACES)) or None for t in _TEXTS]


def test_padded_and_unicode_text_loads_the_same_in_both_passes(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Models and users padded with (non-breaking, ideographic) spaces or written in non-ASCII
    letters become the same text whichever pass takes the file."""
    records = _helicone_records()
    padded = ["\u00a0gpt-4o-mini\u3000", " claude-sonnet-4-5 ", "mod\u00e8le\u2009", "\u3000"]
    for record, text in zip(records, padded, strict=False):
        record["request_model"] = text
        record["request_user_id"] = text
    path = _write_jsonl(tmp_path / "export.jsonl", records)
    fast = _rows(path, "helicone")
    with monkeypatch.context() as patch:
        _without_typed_pass(patch)
        slow = _rows(path, "helicone")
    assert fast == slow
    model = [c for c in by_name("helicone").all_columns if c not in ("_loaded_at", "_row_number")]
    models = [row[model.index("model")] for row in fast[: len(padded)]]
    assert models[:3] == ["gpt-4o-mini", "claude-sonnet-4-5", "mod\u00e8le"]


def test_counts_written_as_text_still_load(tmp_path: Path) -> None:
    """A count given as a JSON string ("12") or as "12.0" is fine, as in the text pass."""
    records = _helicone_records()
    expected = _rows(FIXTURES / "helicone/output.jsonl", "helicone")
    records[0]["prompt_tokens"] = f"{records[0]['prompt_tokens']}.0"
    records[1]["completion_tokens"] = str(records[1]["completion_tokens"])
    records[2]["reasoning_tokens"] = f" {records[2]['reasoning_tokens']} "
    path = tmp_path / "export.jsonl"
    _write_jsonl(path, records)
    assert _rows(path, "helicone") == expected


def test_fast_pass_keeps_file_order_for_row_numbers(tmp_path: Path) -> None:
    path = tmp_path / "logs.json"
    shutil.copyfile(FIXTURES / "litellm/spend_logs.json", path)
    fmt = by_name("litellm")
    with duckdb.connect() as con:
        pending = create_pending(con, fmt)
        fmt.load(con, path, pending, "sha")
        query = f"SELECT request_id FROM {pending} ORDER BY rowid"
        ids = [r[0] for r in con.execute(query).fetchall()]
    in_file = [r["request_id"] for r in json.loads(path.read_text())]
    assert ids == in_file


def _warehouse_rows(home: MeterrHome, format_name: str) -> list[tuple]:
    """Every committed row of a format's raw table (load time left out), in file order."""
    fmt = by_name(format_name)
    columns = ", ".join(f'"{c}"' for c in fmt.all_columns if c != "_loaded_at")
    with connect(home, write=False) as con:
        return con.execute(
            f"SELECT {columns} FROM {fmt.qualified_table} ORDER BY _row_number"
        ).fetchall()


def _drop_and_process(root: Path, files: list[Path]) -> tuple[MeterrHome, list]:
    home = MeterrHome(root).ensure()
    for path in files:
        shutil.copyfile(path, home.drop / path.name)
    return home, drop.process_drop_folder(home)


def _load_in_turn(root: Path, older: Path, newer: Path) -> tuple[MeterrHome, list]:
    """Drop and load ``older``, then ``newer`` into the same home; both must load."""
    home, outcomes = _drop_and_process(root, [older])
    shutil.copyfile(newer, home.drop / newer.name)
    outcomes += drop.process_drop_folder(home)
    assert [o.status for o in outcomes] == ["loaded", "loaded"]
    return home, outcomes


def _detect_as(monkeypatch: pytest.MonkeyPatch, fmt) -> None:
    """Make the drop folder use ``fmt`` (a variant of a registered format) for every file."""
    monkeypatch.setattr(drop, "detect_format", lambda sample: fmt)


@pytest.mark.parametrize(("format_name", "fixture"), REQUEST_LEVEL)
def test_in_place_load_commits_what_the_pending_copy_commits(
    format_name: str, fixture: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Straight into the raw table or through a pending copy: the same rows, row numbers and
    origin land."""
    calls: list[str] = []
    fmt = by_name(format_name)

    def counted(*args, **kwargs):
        calls.append("in place")
        return fmt.load_in_place(*args, **kwargs)

    with monkeypatch.context() as patch:
        _detect_as(patch, dataclasses.replace(fmt, load_in_place=counted))
        home, outcomes = _drop_and_process(tmp_path / "fast", [FIXTURES / fixture])
    assert [o.status for o in outcomes] == ["loaded"] and calls == ["in place"]
    fast = _warehouse_rows(home, format_name)
    with monkeypatch.context() as patch:
        _detect_as(patch, dataclasses.replace(fmt, load_in_place=None))
        home, outcomes = _drop_and_process(tmp_path / "checked", [FIXTURES / fixture])
    assert [o.status for o in outcomes] == ["loaded"]
    slow = _warehouse_rows(home, format_name)
    assert fast and fast == slow
    row_numbers = [row[1] for row in fast]
    assert row_numbers == list(range(1, len(fast) + 1))


def test_in_place_batch_that_fails_the_gate_leaves_nothing(tmp_path: Path) -> None:
    """A negative count reads fine but fails the gate: the open transaction is rolled back, the
    earlier file's rows stay as they were, and the ledger has no 'loaded' row for it."""
    home, first = _drop_and_process(tmp_path, [FIXTURES / "helicone/output.jsonl"])
    assert first[0].status == "loaded"
    before = _warehouse_rows(home, "helicone")
    records = _helicone_records()
    records[0]["prompt_tokens"] = -5
    bad = tmp_path / "negative.jsonl"
    _write_jsonl(bad, records)
    home, outcomes = _drop_and_process(tmp_path, [bad])
    assert outcomes[0].status == "quarantined"
    assert "prompt_tokens" in outcomes[0].reason
    assert _warehouse_rows(home, "helicone") == before
    with connect(home, write=False) as con:
        statuses = con.execute(
            "SELECT status FROM meta.ingested_files WHERE file_name = 'negative.jsonl'"
        ).fetchall()
    assert statuses == [("quarantined",)]


def test_in_place_load_falls_back_to_the_checked_load_for_bad_cells(tmp_path: Path) -> None:
    """A cell the typed pass cannot take rolls the in-place insert back; the checked load then
    names the row, and nothing of the file is committed."""
    records = _helicone_records()
    records[2]["completion_tokens"] = "many"
    bad = tmp_path / "bad.jsonl"
    _write_jsonl(bad, records)
    home, outcomes = _drop_and_process(tmp_path, [bad])
    assert outcomes[0].status == "quarantined"
    assert "row 3: completion_tokens" in outcomes[0].reason
    assert _warehouse_rows(home, "helicone") == []


def test_in_place_load_replaces_older_copies_of_the_same_requests(tmp_path: Path) -> None:
    """A newer export overlapping an older one: each request once, the newer copy's values."""
    records = _helicone_records()
    older = tmp_path / "older.jsonl"
    _write_jsonl(older, records)
    for record in records:
        record["completion_tokens"] = int(record["completion_tokens"] or 0) + 1
    newer = tmp_path / "newer.jsonl"
    _write_jsonl(newer, records[1:])
    home, outcomes = _load_in_turn(tmp_path / "home", older, newer)
    with connect(home, write=False) as con:
        rows = con.execute(
            "SELECT helicone_id, completion_tokens, _row_number FROM raw.helicone_requests "
            "ORDER BY _file_sha256 = ? DESC, _row_number",
            [outcomes[0].file_sha256],
        ).fetchall()
    assert len(rows) == len(records)
    assert len({r[0] for r in rows}) == len(records)
    # The first request only the older file holds; the others come from the newer file, which
    # numbers them from 1 in its own order.
    assert rows[0][2] == 1
    assert [r[2] for r in rows[1:]] == list(range(1, len(records)))
    assert [r[1] for r in rows[1:]] == [int(r["completion_tokens"]) for r in records[1:]]


def test_a_copy_written_in_local_time_is_still_the_same_request(tmp_path: Path) -> None:
    """An export that writes the request time in local time without an offset (read as UTC, 13
    hours off) still replaces the older copy: copies are looked for a day around the file's
    times (RawTable.copies_within), not only at the same instant."""
    records = _helicone_records()
    older = _write_jsonl(tmp_path / "older.jsonl", records)
    for record in records:
        record["request_created_at"] = record["request_created_at"].replace("T12:", "T23:")
        record["request_created_at"] = record["request_created_at"].replace("Z", "")
        record["completion_tokens"] = int(record["completion_tokens"] or 0) + 1
    assert any("T23:" in r["request_created_at"] for r in records)
    newer = _write_jsonl(tmp_path / "newer.jsonl", records)
    home, outcomes = _load_in_turn(tmp_path / "home", older, newer)
    with connect(home, write=False) as con:
        files = con.execute(
            "SELECT DISTINCT _file_sha256 FROM raw.helicone_requests"
        ).fetchall()
    assert files == [(outcomes[1].file_sha256,)]


def test_a_same_id_days_away_is_a_record_of_its_own(tmp_path: Path) -> None:
    """A Helicone id seen again a week away from any stored copy is not that copy: the older row
    stays, and the newer row does not take the older row's model, even when the same file does
    replace other requests (known values are filled only from the copies a file replaces)."""
    first, second, *_ = _helicone_records()
    second["request_created_at"] = "2026-10-17T11:00:00.000Z"
    older = _write_jsonl(tmp_path / "older.jsonl", [first, second])
    assert first["request_created_at"].startswith("2026-10-10")
    later = dict(first, request_created_at="2026-10-17T12:00:00.000Z")
    del later["request_model"]
    newer = _write_jsonl(tmp_path / "newer.jsonl", [second, later])
    home, outcomes = _load_in_turn(tmp_path / "home", older, newer)
    with connect(home, write=False) as con:
        rows = con.execute(
            "SELECT _file_sha256, request_id, model FROM raw.helicone_requests "
            "ORDER BY request_created_at"
        ).fetchall()
    old_sha, new_sha = (o.file_sha256 for o in outcomes)
    assert rows == [
        (old_sha, first["request_id"], first["request_model"]),
        (new_sha, second["request_id"], second["request_model"]),
        (new_sha, first["request_id"], None),
    ]


def test_older_copies_are_looked_for_only_near_the_new_files_times() -> None:
    """A file of request-level exports is compared with the stored rows of its own days (and a
    day either side), so the look-up does not grow with history."""
    helicone = by_name("helicone")
    with duckdb.connect() as con:
        con.execute("CREATE SCHEMA raw")
        con.execute(helicone.create_sql(helicone.qualified_table))
        stored = [
            ("older", "2026-10-01 00:00:00"),
            ("older", "2026-10-08 23:00:00"),  # within a day of the new file's first row
            ("older", "2026-10-09 12:00:00"),
            ("older", "2026-10-11 12:00:00"),  # within a day of its last
            ("older", "2026-10-12 12:00:01"),  # a day and a second after it
            ("newer", "2026-10-09 12:00:00"),
            ("newer", "2026-10-11 12:00:00"),
        ]
        for n, (sha, at) in enumerate(stored):
            con.execute(
                f"INSERT INTO {helicone.qualified_table} (_file_sha256, helicone_id, "
                "request_created_at) VALUES (?, ?, ?)",
                [sha, f"id-{n}", at],
            )
        near = loading._near_in_time(con, helicone, reading.sql_str("newer"))
        kept = con.execute(
            f"SELECT strftime(request_created_at, '%m-%d %H') FROM {helicone.qualified_table} "
            f"WHERE _file_sha256 = 'older' {near} ORDER BY 1"
        ).fetchall()
        assert kept == [("10-08 23",), ("10-09 12",), ("10-11 12",)]


def test_a_custom_record_moved_in_time_replaces_its_older_copy(tmp_path: Path) -> None:
    """A custom record sent again with its time corrected by days is still the same record
    (custom times may be corrected, so every stored row is compared)."""
    older = write_custom_csv(tmp_path / "older.csv", [usage_row(1)])
    moved = usage_row(1, timestamp="2026-10-20T09:00:00Z", output_tokens=999)
    newer = write_custom_csv(tmp_path / "newer.csv", [moved])
    home, outcomes = _load_in_turn(tmp_path / "home", older, newer)
    with connect(home, write=False) as con:
        rows = con.execute(
            "SELECT _file_sha256, request_id, output_tokens FROM raw.custom_usage"
        ).fetchall()
    assert rows == [(outcomes[1].file_sha256, moved["request_id"], 999)]


def test_rows_left_unnumbered_are_numbered_by_the_next_load(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Row numbers are written just after the commit; if a run stops in between, the next
    in-place load of the table numbers the earlier file's rows too, each file from 1."""
    records = _helicone_records()
    first = tmp_path / "first.jsonl"
    _write_jsonl(first, records[:3])
    second = tmp_path / "second.jsonl"
    _write_jsonl(second, records[3:])
    with monkeypatch.context() as patch:
        patch.setattr(drop, "number_rows", lambda con, table: None)
        home, outcomes = _drop_and_process(tmp_path / "home", [first])
    assert [row[1] for row in _warehouse_rows(home, "helicone")] == [None] * 3
    shutil.copyfile(second, home.drop / second.name)
    outcomes += drop.process_drop_folder(home)
    assert [o.status for o in outcomes] == ["loaded", "loaded"]
    with connect(home, write=False) as con:
        numbered = con.execute(
            "SELECT _file_sha256, request_id, _row_number FROM raw.helicone_requests "
            "ORDER BY _file_sha256, _row_number"
        ).fetchall()
    by_file = {o.file_sha256: [] for o in outcomes}
    for sha, request_id, number in numbered:
        by_file[sha].append((request_id, number))
    expected_first = [(r["request_id"], n) for n, r in enumerate(records[:3], start=1)]
    expected_second = [(r["request_id"], n) for n, r in enumerate(records[3:], start=1)]
    assert by_file[outcomes[0].file_sha256] == expected_first
    assert by_file[outcomes[1].file_sha256] == expected_second


def test_a_large_export_keeps_file_order(tmp_path: Path) -> None:
    """A file of several read batches lands in file order: each row's number is its line.
    (DuckDB's rewrite of the provider IN-list into a join shuffled such a file's rows; small
    fixtures are one batch and never showed it.)"""
    rows = 150_000  # several of DuckDB's read batches and more than one row group
    source = generate_helicone_jsonl(tmp_path / "large.jsonl", rows)
    home, outcomes = _drop_and_process(tmp_path / "home", [source])
    assert [(o.status, o.row_count) for o in outcomes] == [("loaded", rows)]
    with connect(home, write=False) as con:
        out_of_order = con.execute(
            "SELECT count(*) FROM raw.helicone_requests "
            "WHERE _row_number <> CAST(substr(request_id, 5) AS BIGINT) + 1"
        ).fetchone()[0]
    assert out_of_order == 0


def test_streaming_insert_settings_hold_only_for_the_insert() -> None:
    """Inside: the larger memory budget and no IN-list rewrite; after, also when the insert
    fails: meterr's limit and every optimizer, as before."""

    def settings(con: duckdb.DuckDBPyConnection) -> tuple:
        return con.execute(
            "SELECT current_setting('memory_limit'), current_setting('disabled_optimizers')"
        ).fetchone()

    with duckdb.connect() as con:
        con.execute(f"SET memory_limit = '{BULK_INSERT_MEMORY_LIMIT}'")
        (bulk_limit, _) = settings(con)
        con.execute(f"SET memory_limit = '{MEMORY_LIMIT}'")
        before = settings(con)
        con.execute("CREATE TABLE t (a INTEGER)")
        with streaming_insert(con):
            during = settings(con)
        with pytest.raises(duckdb.Error), streaming_insert(con):
            con.execute("INSERT INTO t SELECT error('a bad cell')")
        after = settings(con)
    assert during == (bulk_limit, "in_clause") and bulk_limit != before[0]
    assert after == before and before[1] == ""


def test_checked_load_replaces_requests_known_by_their_request_id_only(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A file loaded the checked way (through a pending copy) whose requests carry response ids
    replaces the older rows of the same requests, keyed by request id alone (a web UI CSV has no
    response ids): each request once, keyed by its response id."""
    records = _helicone_records()
    ui_csv = tmp_path / "requests-ui.csv"
    ui_csv.write_bytes(_helicone_ui_csv_without_response_ids())
    with monkeypatch.context() as patch:
        _detect_as(patch, dataclasses.replace(by_name("helicone"), load_in_place=None))
        home, outcomes = _drop_and_process(tmp_path / "home", [ui_csv])
        shutil.copyfile(FIXTURES / "helicone/output.jsonl", home.drop / "requests.jsonl")
        outcomes += drop.process_drop_folder(home)
    assert [(o.status, o.row_count) for o in outcomes] == [("loaded", len(records))] * 2
    with connect(home, write=False) as con:
        keys = con.execute("SELECT helicone_id, request_id FROM raw.helicone_requests").fetchall()
    assert sorted(keys) == sorted((r["response_id"], r["request_id"]) for r in records)


@pytest.mark.parametrize("in_place", [True, False], ids=["in place", "checked"])
def test_a_record_an_export_repeats_is_kept_once(
    in_place: bool, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """An export paged by offset repeats a record when requests arrive while it runs: the copy,
    equal in every column, is dropped and the file loads (its other rows keep their numbers);
    a key held by rows that differ still quarantines the file, naming the rows."""
    records = _helicone_records()
    assert len(records) >= 2
    repeated = [*records, records[0]]
    fmt = by_name("helicone")
    with monkeypatch.context() as patch:
        if not in_place:
            _detect_as(patch, dataclasses.replace(fmt, load_in_place=None))
        home, outcomes = _drop_and_process(
            tmp_path / "repeated", [_write_jsonl(tmp_path / "paged.jsonl", repeated)]
        )
    assert [o.line() for o in outcomes] == [f"paged.jsonl: loaded {len(records)} rows"]
    rows = _warehouse_rows(home, "helicone")
    assert [row[1] for row in rows] == list(range(1, len(records) + 1))
    with connect(home, write=False) as con:
        ledger = con.execute("SELECT status, row_count FROM meta.ingested_files").fetchall()
    assert ledger == [("loaded", len(records))]

    changed = dict(records[0], completion_tokens=int(records[0]["completion_tokens"] or 0) + 1)
    with monkeypatch.context() as patch:
        if not in_place:
            _detect_as(patch, dataclasses.replace(fmt, load_in_place=None))
        home, outcomes = _drop_and_process(
            tmp_path / "conflict", [_write_jsonl(tmp_path / "conflict.jsonl", [*records, changed])]
        )
    [outcome] = outcomes
    assert outcome.status == "quarantined"
    key = records[0].get("response_id") or records[0]["request_id"]
    last = len(records) + 1
    assert f"duplicate key (helicone_id) with different values: {key} (rows 1, {last})" in (
        outcome.reason
    )
