"""Bad drop files: each is quarantined with a precise reason in ``NAME.error.json`` while the
warehouse's raw rows stay exactly as they were, and the rest of the batch still loads.

The corpus: hand-written broken exports under ``tests/fixtures/exports/bad/`` (bad cells, broken
rows, malformed JSON, gate failures, unknown format) and hostile files generated here (zip slip,
symlink members, nested archives, decompression bombs, absurd lines, undecodable text).
"""

from __future__ import annotations

import codecs
import csv
import gzip
import io
import json
import shutil
import stat
import tarfile
import zipfile
from collections.abc import Callable
from pathlib import Path

import duckdb
import pytest

from ingest.drop import process_drop_folder
from ingest.formats import FORMATS
from ingest.formats.reading import MAX_RECORD_BYTES
from ingest.paths import MeterrHome, meterr_home
from ingest.unpack import COPY_CHUNK

FIXTURES = Path(__file__).parent / "fixtures" / "exports"
BAD = FIXTURES / "bad"
GOOD = (
    "openai/cost_2026-09-25_2026-09-27.csv",
    "anthropic/claude_api_tokens_2026_10.csv",
    "helicone/output.jsonl",
    "langfuse/1760256000000-lf-observations-export-proj_lf_1.csv",
    "litellm/LiteLLM_SpendLogs.csv",
)
NUMERIC = ("BIGINT", "INTEGER", "DECIMAL", "DOUBLE")


def _snapshot(home: MeterrHome) -> dict[str, tuple]:
    """Row count and the sum of every numeric column of every raw table."""
    shot: dict[str, tuple] = {}
    with duckdb.connect(str(home.warehouse), read_only=True) as con:
        for fmt in FORMATS:
            numeric = [c for c, t in fmt.columns.items() if t.upper().startswith(NUMERIC)]
            sums = "".join(f', sum("{c}")' for c in numeric)
            shot[fmt.raw_table] = con.execute(
                f"SELECT count(*){sums} FROM {fmt.qualified_table}"
            ).fetchone()
    return shot


@pytest.fixture(scope="module")
def baseline_warehouse(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A warehouse holding a good file of most formats, built once for the module."""
    template = meterr_home(tmp_path_factory.mktemp("baseline")).ensure()
    paths = []
    for index, fixture in enumerate(GOOD):
        target = template.drop / f"good{index}.dat"
        shutil.copyfile(FIXTURES / fixture, target)
        paths.append(target)
    assert all(o.status == "loaded" for o in process_drop_folder(template, paths))
    return template.warehouse


@pytest.fixture
def loaded(home: MeterrHome, baseline_warehouse: Path) -> MeterrHome:
    """A fresh copy of the baseline warehouse in this test's home."""
    shutil.copyfile(baseline_warehouse, home.warehouse)
    return home


def _quarantined(home: MeterrHome, path: Path) -> tuple[str, dict]:
    """Process one file; it must be quarantined. Returns its reason and its error.json."""
    outcomes = process_drop_folder(home, [path])
    assert outcomes and all(o.status != "loaded" for o in outcomes), [o.line() for o in outcomes]
    assert not path.exists()
    error = json.loads((home.quarantine / (path.name + ".error.json")).read_text())
    assert (home.quarantine / path.name).exists()
    assert error["file"] == path.name and error["quarantined_at"]
    with duckdb.connect(str(home.warehouse), read_only=True) as con:
        ledger = con.execute(
            "SELECT DISTINCT status, row_count FROM meta.ingested_files WHERE stored_path LIKE ?",
            [f"%{path.name}"],
        ).fetchall()
    # row_count is what the file put into raw: nothing, however far it was read.
    assert ledger == [("quarantined", 0)]
    return error["reason"], error


# --- hand-written broken exports ----------------------------------------------------------------

BROKEN: list[tuple[str, str | None, str]] = [
    ("unknown_format.csv", None, "no known format: CSV columns [date, amount, category]"),
    ("empty.csv", None, "no known format"),
    ("helicone_error_response.json", None,
     "no known format: JSON keys [data, error] match no supported export (it looks like an API "
     "error response, not an export)"),
    ("helicone_bad_tokens.jsonl", "helicone",
     "2 row(s) with values of the wrong type: row 2: prompt_tokens='not an integer: 12.5'; "
     "row 3: prompt_tokens='not an integer: lots'"),
    ("helicone_malformed.jsonl", "helicone", "Malformed JSON"),
    ("anthropic_cost_short_row.csv", "anthropic_cost_csv",
     "CSV line 3: Expected Number of Columns: 12 Found: 8"),
    ("openai_cost_bad_amount.csv", "openai_cost_csv", "row 2: amount_value='1.2.3'"),
    ("openai_usage_fractional_tokens.csv", "openai_usage_csv",
     "row 2: input_tokens='not an integer: 100.5'"),
    ("langfuse_bad_usage_json.csv", "langfuse",
     "row 2: usageDetails (total_tokens)='invalid JSON in usageDetails'"),
    ("langfuse_duplicate_ids.jsonl", "langfuse",
     "duplicate key (id) with different values: obs-dup (rows 1, 2)"),
    ("litellm_negative_spend.csv", "litellm",
     "failed the quality gate: expect_column_values_to_be_between(column=spend, min_value=0.0, "
     "max_value=100000000000.0): 1 unexpected row(s) (row 2), e.g. ['-0.5']"),
    ("litellm_year_2019.csv", "litellm",
     "column=start_time, min_value=2020-01-01 00:00:00, max_value="),
    ("litellm_year_2019.csv", "litellm",
     "1 unexpected row(s) (row 1), e.g. ['2019-03-01 10:00:00']"),
    ("litellm_unterminated_quote.csv", "litellm",
     "CSV line 2: Value with unterminated quote found"),
    ("litellm_bad_metadata.csv", "litellm",
     "row 2: metadata (cache_creation_input_tokens)='invalid JSON in metadata'"),
]


@pytest.mark.parametrize(("name", "fmt", "reason"), BROKEN, ids=[b[0] for b in BROKEN])
def test_broken_export_is_quarantined_and_changes_nothing(
    name: str, fmt: str | None, reason: str, loaded: MeterrHome
) -> None:
    before = _snapshot(loaded)
    path = loaded.drop / name
    shutil.copyfile(BAD / name, path)
    got, error = _quarantined(loaded, path)
    assert reason in got
    assert "Unauthorized" not in got, "a reason names keys, never a file's values"
    assert error["detected_format"] == fmt
    assert _snapshot(loaded) == before


def test_a_gate_refusal_names_the_rows_it_refuses(loaded: MeterrHome) -> None:
    # Checked-way loading (custom CSV: a pending table, numbered in file order) and the in-place
    # path (Helicone JSON Lines: rows inserted into the raw table inside the open transaction)
    # both say which data rows broke which rule, counted from 1 as the cast errors count them.
    header = "timestamp,provider,model,input_tokens,output_tokens,cost_usd,request_id\n"
    rows = [
        f"2026-10-0{1 + i % 9} 12:00:00,openai,gpt-4o,{100 + i},20,0.01,c-{i}" for i in range(12)
    ]
    for bad in (3, 8, 11):  # data rows 4, 9, 12
        rows[bad] = rows[bad].replace(f",{100 + bad},", ",-5,")
    rows[5] = rows[5].replace(",openai,", ",acme-llm,")  # data row 6
    path = loaded.drop / "custom.csv"
    path.write_text(header + "\n".join(rows) + "\n")
    reason, _ = _quarantined(loaded, path)
    assert "column=input_tokens, min_value=0.0, max_value=100000000000.0): 3 unexpected row(s) " \
        "(rows 4, 9, 12), e.g. ['-5', '-5', '-5']" in reason, reason
    assert "column=provider): 1 unexpected row(s) (row 6), e.g. ['acme-llm']" in reason, reason

    lines = _good_bytes("helicone/output.jsonl").decode().splitlines()
    spoiled = json.loads(lines[2])
    spoiled["prompt_tokens"] = -1
    lines[2] = json.dumps(spoiled)
    path = loaded.drop / "requests.jsonl"
    path.write_text("\n".join(lines) + "\n")
    reason, error = _quarantined(loaded, path)
    assert error["detected_format"] == "helicone"
    assert "1 unexpected row(s) (row 3)" in reason, reason


def test_a_cast_error_names_the_files_own_column(loaded: MeterrHome) -> None:
    # Langfuse's startTime is meterr's start_time: the reason says the name the user's file has.
    source = FIXTURES / "langfuse/1760256000000-lf-observations-export-proj_lf_1.csv"
    rows = list(csv.reader(io.StringIO(source.read_text())))
    rows[2][rows[0].index("startTime")] = "yesterday"
    out = io.StringIO()
    csv.writer(out, quoting=csv.QUOTE_ALL, lineterminator="\n").writerows(rows)
    path = loaded.drop / "observations.csv"
    path.write_text(out.getvalue())
    reason, error = _quarantined(loaded, path)
    assert error["detected_format"] == "langfuse"
    assert "1 row(s) with values of the wrong type: row 2: startTime (start_time)='yesterday'" \
        in reason, reason


def test_one_quarantine_names_bad_cells_and_what_the_gate_finds_in_the_other_rows(
    loaded: MeterrHome,
) -> None:
    # A cell that is not a number (data row 2) and a negative count (data row 4): both are named
    # at once, so one fix-and-drop is enough.
    header = "timestamp,provider,model,input_tokens,output_tokens,cost_usd,request_id\n"
    rows = [f"2026-10-0{1 + i} 12:00:00,openai,gpt-4o,{100 + i},20,0.01,c-{i}" for i in range(5)]
    rows[1] = rows[1].replace(",101,", ",12.5,")
    rows[3] = rows[3].replace(",103,", ",-7,")
    path = loaded.drop / "custom.csv"
    path.write_text(header + "\n".join(rows) + "\n")
    before = _snapshot(loaded)
    reason, _ = _quarantined(loaded, path)
    assert reason.startswith(
        "1 row(s) with values of the wrong type: row 2: input_tokens='not an integer: 12.5'; "
        "and the other rows failed the quality gate: "
    ), reason
    assert "column=input_tokens, min_value=0.0, max_value=100000000000.0): 1 unexpected row(s) " \
        "(row 4), e.g. ['-7']" in reason, reason
    assert _snapshot(loaded) == before


# --- hostile files, generated ---------------------------------------------------------------


def _zip(path: Path, members: list[tuple[str | zipfile.ZipInfo, bytes]]) -> Path:
    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as archive:
        for name, data in members:
            archive.writestr(name, data)
    return path


def _good_bytes(fixture: str = "anthropic/claude_api_tokens_2026_10.csv") -> bytes:
    return (FIXTURES / fixture).read_bytes()


def test_an_archive_with_a_bad_member_beside_a_loaded_one_says_what_each_did(
    home: MeterrHome,
) -> None:
    # The Helicone member loads in place (its outcome carries its rows' load time); the archive
    # is still quarantined for the other member, and its error.json lists both members.
    path = _zip(
        home.drop / "mixed.zip",
        [("requests.jsonl", _good_bytes("helicone/output.jsonl")),
         ("notes.csv", (BAD / "unknown_format.csv").read_bytes())],
    )
    outcomes = {o.name: o for o in process_drop_folder(home, [path])}
    loaded = outcomes["mixed.zip:requests.jsonl"]
    assert loaded.status == "loaded" and loaded.gated_at is not None
    error = json.loads((home.quarantine / "mixed.zip.error.json").read_text())
    members = {m["name"]: m for m in error["members"]}
    assert members["mixed.zip:requests.jsonl"]["status"] == "loaded"
    assert members["mixed.zip:requests.jsonl"]["gated_at"] == str(loaded.gated_at)
    assert members["mixed.zip:notes.csv"]["status"] == "quarantined"


def test_documentation_beside_the_data_in_a_zip_is_passed_over(home: MeterrHome) -> None:
    # An export bundled with a read-me: the read-me is not a reason to quarantine the archive
    # whose data loaded (an acceptance probe's zip went to quarantine with its rows counted).
    # A member of no known format that is not named like documentation still quarantines.
    bundled = _zip(
        home.drop / "bundled.zip",
        [("requests.jsonl", _good_bytes("helicone/output.jsonl")),
         ("README.txt", b"Exported from Helicone, last 30 days.\n"),
         ("docs/LICENSE", b"MIT, or whatever the tool says.\n")],
    )
    only_docs = _zip(home.drop / "docs.zip", [("notes.md", b"# nothing, but, commas\n")])
    outcomes = {o.name: o for o in process_drop_folder(home, [bundled, only_docs])}
    assert outcomes["bundled.zip:requests.jsonl"].status == "loaded"
    for name in ("bundled.zip:README.txt", "bundled.zip:docs/LICENSE"):
        assert outcomes[name].line() == (
            f"{name}: skipped: documentation beside the data (no known export format); not loaded"
        )
    assert list(home.archive.rglob("bundled.zip")) and not list(home.quarantine.rglob("bundled*"))
    assert outcomes["docs.zip"].reason == "archive holds documentation only, no export"
    assert list(home.quarantine.rglob("docs.zip"))


def test_a_csv_of_ragged_rows_names_the_line_not_a_working_path(home: MeterrHome) -> None:
    # DuckDB's sniffer says only "Error when sniffing file <working path>": the reason names the
    # row that breaks the layout instead (found by an acceptance probe).
    path = home.drop / "cut.csv"
    path.write_text(
        "timestamp,provider,model,input_tokens,output_tokens,request_id\n"
        "2026-11-01T10:00:00Z,openai,gpt-4o,100,20,r1\n"
        "2026-11-01T10:00:01Z,openai,gpt-4o,100,20,r2\n"
        "2026-11-01T10:00:02Z,openai,gpt-4o"
    )
    # And text in another encoding than UTF-8 (or UTF-16): said so, without the row's text.
    latin = home.drop / "latin.csv"
    latin.write_bytes(
        "timestamp,provider,model,input_tokens,output_tokens,request_id,user_id\n"
        "2026-11-01T10:00:00Z,openai,gpt-4o,100,20,r1,Jos\xe9\n".encode("latin-1")
    )
    outcomes = {o.name: o for o in process_drop_folder(home, [path, latin])}
    assert outcomes["cut.csv"].reason == (
        "not a readable CSV: CSV line 4 has 3 fields where the header has 6"
    ), outcomes["cut.csv"].reason
    assert outcomes["latin.csv"].reason == (
        "not a readable CSV: CSV line 2 is not UTF-8 text (Latin-1 or Windows-1252?); save the "
        "file as UTF-8 or UTF-16"
    ), outcomes["latin.csv"].reason
    assert all(str(home.root) not in o.reason for o in outcomes.values())


def test_a_tar_archive_is_named_binary_not_by_its_header_bytes(home: MeterrHome) -> None:
    # A .tar.gz is not a format meterr opens: its tar header used to be quoted as CSV columns,
    # NUL bytes and all, into the ledger and error.json (found by an acceptance probe).
    data = _good_bytes()
    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode="w") as archive:
        info = tarfile.TarInfo("usage.csv")
        info.size = len(data)
        archive.addfile(info, io.BytesIO(data))
    path = home.drop / "export.tar.gz"
    path.write_bytes(gzip.compress(buffer.getvalue()))
    # Other archive kinds meterr does not open (README): of no known format too.
    seven = home.drop / "export.7z"
    seven.write_bytes(b"7z\xbc\xaf\x27\x1c\x00\x04" + bytes(range(256)) * 4)
    rar = home.drop / "export.rar"
    rar.write_bytes(b"Rar!\x1a\x07\x01\x00" + bytes(range(256)) * 4)
    outcomes = {o.name: o for o in process_drop_folder(home, [path, seven, rar])}
    assert outcomes["export.tar.gz"].reason == (
        "no known format: binary content, not a CSV or JSON export"
    )
    for name in ("export.7z", "export.rar"):
        assert outcomes[name].status == "quarantined"
        assert outcomes[name].reason.startswith("no known format"), outcomes[name].reason
    error = (home.quarantine / "export.tar.gz.error.json").read_text()
    assert "\\u0000" not in error and "\x00" not in error


def _zip_slip(drop: Path) -> Path:
    # A good member first: an unsafe archive must load nothing at all.
    return _zip(drop / "slip.zip", [("ok.csv", _good_bytes()), ("../../outside.csv", b"a,b\n")])


def _absolute_member(drop: Path) -> Path:
    return _zip(drop / "abs.zip", [("/etc/cron.d/x.csv", _good_bytes())])


def _windows_member(drop: Path) -> Path:
    return _zip(drop / "win.zip", [("C:\\Users\\x\\..\\evil.csv", _good_bytes())])


def _symlink_member(drop: Path) -> Path:
    link = zipfile.ZipInfo("link.csv")
    link.external_attr = (stat.S_IFLNK | 0o777) << 16
    return _zip(drop / "symlink.zip", [("ok.csv", _good_bytes()), (link, b"/etc/passwd")])


def _nested_archive(drop: Path) -> Path:
    inner = io.BytesIO()
    with zipfile.ZipFile(inner, "w") as archive:
        archive.writestr("a.csv", _good_bytes())
    return _zip(drop / "nested.zip", [("inner.zip", inner.getvalue())])


def _gzip_twice_in_zip(drop: Path) -> Path:
    # One gzip level inside a zip is read through; a second is an archive inside an archive.
    twice = gzip.compress(gzip.compress(_good_bytes()))
    return _zip(drop / "twice.zip", [("ok.csv", _good_bytes()), ("inner.csv.gz", twice)])


def _gzip_bomb_in_zip(drop: Path) -> Path:
    # 300 MB of zeros, gzipped (300 KB), deflated again in the zip (to a few KB). The ratio
    # counts from the bytes in the zip: from the gzip's own size it would pass (300 KB x 200 +
    # 256 MiB allowance), so the two ratios would multiply.
    return _zip(drop / "gzbomb.zip", [("ok.csv", _good_bytes()),
                                      ("zeros.csv.gz", gzip.compress(b"\0" * (300 << 20)))])


def _too_many_members(drop: Path) -> Path:
    return _zip(drop / "many.zip", [(f"m{i}.csv", b"a,b\n") for i in range(1001)])


def _empty_zip(drop: Path) -> Path:
    return _zip(drop / "empty.zip", [])


def _truncated_zip(drop: Path) -> Path:
    data = _zip(drop / "t.zip", [("ok.csv", _good_bytes())]).read_bytes()
    (drop / "t.zip").unlink()
    (drop / "truncated.zip").write_bytes(data[: len(data) // 2])
    return drop / "truncated.zip"


def _corrupt_gzip(drop: Path) -> Path:
    path = drop / "corrupt.csv.gz"
    path.write_bytes(gzip.compress(_good_bytes())[:60])
    return path


def _bad_utf16(drop: Path) -> Path:
    path = drop / "bad16.csv"
    # A lone high surrogate, then the end of the file.
    path.write_bytes(codecs.BOM_UTF16_LE + "usage_date,model".encode("utf-16-le") + b"\x00\xd8A")
    return path


def _long_csv_line(drop: Path) -> Path:
    path = drop / "long.csv"
    header, first = _good_bytes().decode().splitlines()[:2]
    with open(path, "w", encoding="utf-8") as handle:
        handle.write(f"{header}\n{first}\n")
        handle.write("2026-10-05,m,k,w,standard," + "x" * (MAX_RECORD_BYTES + 10) + ",1,2\n")
    return path


def _long_jsonl_line(drop: Path) -> Path:
    path = drop / "long.jsonl"
    first = _good_bytes("helicone/output.jsonl").splitlines()[0]
    with open(path, "wb") as handle:
        handle.write(first + b"\n")
        handle.write(b'{"response_id": "' + b"r" * (MAX_RECORD_BYTES + 10) + b'"}\n')
    return path


# Enough short lines before the long one that it starts several read chunks into the file.
_LINES_BEFORE_LONG = 3 * COPY_CHUNK // 500


def _long_line_deep_in_file(drop: Path) -> Path:
    path = drop / "deep.jsonl"
    line = b'{"response_id": "r", "pad": "' + b"p" * 468 + b'"}\n'
    assert len(line) == 500
    with open(path, "wb") as handle:
        handle.write(line * _LINES_BEFORE_LONG)
        handle.write(b'{"response_id": "' + b"r" * (MAX_RECORD_BYTES + 10) + b'"}\n')
    return path


def _deeply_nested_json(drop: Path) -> Path:
    path = drop / "nested.json"
    path.write_bytes(b"[" * 100_000 + b"]" * 100_000)
    return path


def _deeply_nested_jsonl_record(drop: Path) -> Path:
    path = drop / "nested.jsonl"
    record = b'{"id": "o1", "traceId": "t1", "usageDetails": ' + b'{"a": ' * 50_000 + b"1"
    path.write_bytes(record + b"}" * 50_001 + b"\n")
    return path


def _deeply_nested_envelope(drop: Path) -> Path:
    path = drop / "envelope.json"
    path.write_bytes(b'{"data": ' + b"[" * 100_000 + b"]" * 100_000 + b"}")
    return path


HOSTILE: list[tuple[Callable[[Path], Path], str]] = [
    (_deeply_nested_json, "no known format"),
    (_deeply_nested_jsonl_record, "could not read: JSON nested too deeply"),
    (_deeply_nested_envelope, "could not read: JSON nested too deeply"),
    (_zip_slip, "zip member '../../outside.csv' escapes the folder; refused (zip slip)"),
    (_absolute_member, "escapes the folder"),
    (_windows_member, "escapes the folder"),
    (_symlink_member, "zip member 'link.csv' is a symlink; refused"),
    (_nested_archive, "nested.zip:inner.zip: an archive inside an archive is not supported"),
    (_gzip_twice_in_zip, "twice.zip:inner.csv.gz: an archive inside an archive is not supported"),
    (_gzip_bomb_in_zip, "gzbomb.zip:zeros.csv.gz: inflates beyond"),
    (_too_many_members, "zip has 1001 members (limit 1000)"),
    (_empty_zip, "archive has no files"),
    (_truncated_zip, "File is not a zip file"),
    (_corrupt_gzip, "corrupt.csv.gz: cannot be decompressed"),
    (_bad_utf16, "bad16.csv: not valid utf-16 text"),
    (_long_csv_line, f"long.csv: line 3 is longer than {MAX_RECORD_BYTES:,} bytes"),
    (_long_jsonl_line, f"long.jsonl: line 2 is longer than {MAX_RECORD_BYTES:,} bytes"),
    (
        _long_line_deep_in_file,
        f"deep.jsonl: line {_LINES_BEFORE_LONG + 1} is longer than {MAX_RECORD_BYTES:,} bytes",
    ),
]


@pytest.mark.parametrize(("make", "reason"), HOSTILE, ids=[h[0].__name__[1:] for h in HOSTILE])
def test_hostile_file_is_refused_with_its_reason_and_loads_nothing(
    make: Callable[[Path], Path], reason: str, loaded: MeterrHome
) -> None:
    before = _snapshot(loaded)
    path = make(loaded.drop)
    got, _error = _quarantined(loaded, path)
    assert reason in got
    assert _snapshot(loaded) == before
    assert not list(loaded.work.glob("*")), "scratch files are removed"
    assert not (loaded.root / "outside.csv").exists() and not (loaded.drop / "outside.csv").exists()


@pytest.mark.slow
def test_gzip_bomb_is_refused_while_inflating(loaded: MeterrHome, tmp_path: Path) -> None:
    before = _snapshot(loaded)
    path = loaded.drop / "zeros.csv.gz"
    # 400 MB of zeros, compressed while streaming (about 400 KB on disk).
    with gzip.open(path, "wb", compresslevel=9) as writer:
        chunk = b"\0" * (1 << 20)
        for _ in range(400):
            writer.write(chunk)
    got, _error = _quarantined(loaded, path)
    assert "zeros.csv.gz: inflates beyond" in got and "decompression bomb" in got
    assert _snapshot(loaded) == before
    assert not list(loaded.work.glob("*"))


@pytest.mark.slow
def test_a_highly_compressible_real_export_is_not_taken_for_a_bomb(home: MeterrHome) -> None:
    # Request logs that repeat one long system prompt in every record compress about 300:1 (an
    # acceptance probe's 88 MB Helicone export gzipped to 300 KB was refused as a bomb).
    prompt = "You are a careful assistant. " * 1000  # 29 KB, the same in every request
    lines = []
    for i in range(1400):
        record = {
            "response_id": f"resp-{i}",
            "request_id": f"req-{i}",
            "request_created_at": f"2026-10-{1 + i % 28:02d} 12:00:00.000",
            "provider": "OPENAI",
            "request_model": "gpt-4o-mini",
            "prompt_tokens": 900,
            "completion_tokens": 100,
            "cost": 0.0002,
            "request_body": {"messages": [{"role": "system", "content": prompt}]},
        }
        lines.append(json.dumps(record))
    path = home.drop / "helicone-with-bodies.jsonl.gz"
    path.write_bytes(gzip.compress(("\n".join(lines) + "\n").encode(), compresslevel=9))
    inflated = len("\n".join(lines)) + 1
    assert inflated > 200 * path.stat().st_size + (10 << 20), "beyond the old 200:1 + 10 MiB"
    assert [o.line() for o in process_drop_folder(home, [path])] == [
        "helicone-with-bodies.jsonl.gz: loaded 1400 rows"
    ]


@pytest.mark.slow
def test_zip_bomb_is_refused_before_inflating(loaded: MeterrHome) -> None:
    before = _snapshot(loaded)
    path = loaded.drop / "zeros.zip"
    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as archive:
        with archive.open("zeros.csv", "w") as writer:
            for _ in range(400):
                writer.write(b"0" * (1 << 20))
    got, _error = _quarantined(loaded, path)
    assert "zip member 'zeros.csv' declares 419,430,400 bytes" in got
    assert "decompression bomb" in got
    assert _snapshot(loaded) == before


def test_batch_continues_past_bad_files(loaded: MeterrHome) -> None:
    before = _snapshot(loaded)
    for name in ("unknown_format.csv", "helicone_bad_tokens.jsonl", "litellm_negative_spend.csv"):
        shutil.copyfile(BAD / name, loaded.drop / name)
    _zip_slip(loaded.drop)
    shutil.copyfile(FIXTURES / "helicone/data.csv", loaded.drop / "zz-good.csv")
    outcomes = {o.name: o.status for o in process_drop_folder(loaded)}
    assert outcomes == {
        "helicone_bad_tokens.jsonl": "quarantined",
        "litellm_negative_spend.csv": "quarantined",
        "slip.zip": "quarantined",
        "unknown_format.csv": "quarantined",
        "zz-good.csv": "loaded",
    }
    after = _snapshot(loaded)
    assert after["helicone_requests"][0] == before["helicone_requests"][0] + 2
    assert {k: v for k, v in after.items() if k != "helicone_requests"} == {
        k: v for k, v in before.items() if k != "helicone_requests"
    }
    assert sorted(p.name for p in loaded.quarantine.glob("*.error.json")) == [
        "helicone_bad_tokens.jsonl.error.json",
        "litellm_negative_spend.csv.error.json",
        "slip.zip.error.json",
        "unknown_format.csv.error.json",
    ]


def test_fixed_file_loads_after_quarantine(loaded: MeterrHome) -> None:
    """A quarantined file is not a 'duplicate': once fixed and dropped again it loads."""
    path = loaded.drop / "costs.csv"
    shutil.copyfile(BAD / "openai_cost_bad_amount.csv", path)
    _quarantined(loaded, path)
    fixed = (BAD / "openai_cost_bad_amount.csv").read_text().replace("1.2.3", "1.23")
    path.write_text(fixed)
    [outcome] = process_drop_folder(loaded, [path])
    assert (outcome.status, outcome.row_count) == ("loaded", 2)
