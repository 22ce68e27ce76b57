"""The drop folder without Dagster: ledger, duplicates, quarantine, gate, archive (real DuckDB)."""

from __future__ import annotations

import gzip
import json
import os
import shutil
import subprocess
import sys
import threading
import time
from pathlib import Path

import duckdb
import pytest

from ingest import drop
from ingest.drop import FOLDER_LINK, pending_files, process_drop_folder
from ingest.paths import MeterrHome
from ingest.warehouse import writer_lock
from tests.conftest import CUSTOM_HEADER, usage_row, write_custom_csv


def _raw_totals(home: MeterrHome) -> tuple:
    with duckdb.connect(str(home.warehouse), read_only=True) as con:
        return con.execute(
            "SELECT count(*), sum(input_tokens), sum(output_tokens) FROM raw.custom_usage"
        ).fetchone()


def _ledger(home: MeterrHome) -> list[tuple]:
    with duckdb.connect(str(home.warehouse), read_only=True) as con:
        return con.execute(
            "SELECT file_name, status, row_count, format FROM meta.ingested_files "
            "ORDER BY ingested_at, file_name"
        ).fetchall()


def test_a_whole_folder_run_leaves_a_file_modified_just_now_for_the_next(home: MeterrHome) -> None:
    # A writer appending to a file in place (found by an acceptance probe: 26 of 150 rows loaded,
    # the rest written on into the archive) is not read until the file has been quiet a while.
    path = write_custom_csv(home.drop / "usage.csv", [usage_row(i) for i in range(5)])
    [outcome] = process_drop_folder(home, settle_seconds=30)
    assert outcome.status == "waiting" and outcome.name == "usage.csv"
    assert "less than 30 s (still being written?); left in drop/" in outcome.line()
    assert path.is_file() and not any(home.archive.rglob("*"))
    # Quiet long enough: taken. Named files are taken at once, settled or not.
    old = time.time() - 60
    os.utime(path, (old, old))
    assert [o.line() for o in process_drop_folder(home, settle_seconds=30)] == [
        "usage.csv: loaded 5 rows"
    ]
    fresh = write_custom_csv(home.drop / "fresh.csv", [usage_row(i) for i in range(5, 7)])
    assert [o.status for o in process_drop_folder(home, [fresh], settle_seconds=30)] == ["loaded"]


def test_a_file_written_to_after_it_was_read_is_said_so(
    home: MeterrHome, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    # A writer holding the file open can still append between the last check and the move into
    # the archive: the loaded rows are those read, and the log must say the rest is not loaded.
    path = write_custom_csv(home.drop / "usage.csv", [usage_row(i) for i in range(3)])
    original = drop.archive_file

    def archive_while_written(home_: MeterrHome, dropped: Path) -> Path:
        stored = original(home_, dropped)
        with open(stored, "a", encoding="utf-8") as handle:
            handle.write("2026-11-02T00:00:00Z,openai,gpt-4o,1,0,0,1,1,,late\n")
        return stored

    monkeypatch.setattr(drop, "archive_file", archive_while_written)
    assert [o.line() for o in process_drop_folder(home)] == ["usage.csv: loaded 3 rows"]
    assert "usage.csv: written to after it was read" in caplog.text
    assert "drop the complete file again" in caplog.text
    assert not path.exists()


def test_good_file_loads_and_is_archived(home: MeterrHome) -> None:
    rows = [usage_row(i) for i in range(10)]
    write_custom_csv(home.drop / "team" / "usage.csv", rows)
    outcomes = process_drop_folder(home)
    assert [o.line() for o in outcomes] == ["usage.csv: loaded 10 rows"]
    assert _raw_totals(home) == (
        10,
        sum(r["input_tokens"] for r in rows),
        sum(r["output_tokens"] for r in rows),
    )
    assert pending_files(home) == []
    archived = list(home.archive.rglob("usage.csv"))
    assert len(archived) == 1 and archived[0].parent.name == "team"


def test_raw_rows_keep_their_line_in_the_file(home: MeterrHome) -> None:
    """Lineage: each raw row says which data row of which file it came from, in file order."""
    rows = [usage_row(i, input_tokens=100 + i) for i in range(5)]
    write_custom_csv(home.drop / "usage.csv", rows)
    process_drop_folder(home)
    with duckdb.connect(str(home.warehouse), read_only=True) as con:
        got = con.execute(
            "SELECT _row_number, input_tokens, _file_sha256 IS NOT NULL FROM raw.custom_usage "
            "ORDER BY _row_number"
        ).fetchall()
    assert got == [(i + 1, 100 + i, True) for i in range(5)]


def test_same_bytes_again_is_a_duplicate_and_changes_nothing(home: MeterrHome) -> None:
    path = write_custom_csv(home.drop / "a.csv", [usage_row(i) for i in range(4)])
    data = path.read_bytes()
    process_drop_folder(home)
    before = _raw_totals(home)
    (home.drop / "renamed.csv").write_bytes(data)
    (home.drop / "zipped.csv.gz").write_bytes(gzip.compress(data))
    outcomes = process_drop_folder(home)
    assert sorted(o.status for o in outcomes) == ["duplicate", "duplicate"]
    assert _raw_totals(home) == before
    assert [r[1] for r in _ledger(home)].count("loaded") == 1


def test_corrupt_file_is_quarantined_while_good_file_in_same_batch_loads(home: MeterrHome) -> None:
    write_custom_csv(home.drop / "good.csv", [usage_row(i) for i in range(3)])
    corrupt = home.drop / "corrupt.csv"
    corrupt.write_bytes(b'timestamp,provider,model,input_tokens\n2026-10-01,openai,"gpt\n\x00\xff')
    outcomes = {o.name: o for o in process_drop_folder(home)}
    assert outcomes["good.csv"].status == "loaded"
    assert outcomes["corrupt.csv"].status == "quarantined"
    kept = home.quarantine / "corrupt.csv"
    assert kept.read_bytes().endswith(b"\x00\xff"), "quarantine keeps the bytes"
    error = json.loads((home.quarantine / "corrupt.csv.error.json").read_text())
    assert error["reason"] and error["detected_format"] == "custom" and error["quarantined_at"]
    assert _raw_totals(home)[0] == 3


def test_gate_failure_is_quarantined_with_the_failing_expectations(home: MeterrHome) -> None:
    write_custom_csv(home.drop / "ok.csv", [usage_row(i) for i in range(2)])
    process_drop_folder(home)
    before = _raw_totals(home)
    write_custom_csv(
        home.drop / "bad.csv",
        [
            usage_row(10, input_tokens=-5),
            usage_row(11, provider="acme-llm"),
            usage_row(12, timestamp="2019-06-01T00:00:00Z"),
            usage_row(13, request_id="req-00013"),
            usage_row(14, request_id="req-00013"),
        ],
    )
    [outcome] = process_drop_folder(home)
    assert outcome.status == "quarantined"
    reason = json.loads((home.quarantine / "bad.csv.error.json").read_text())["reason"]
    for expected in ("input_tokens", "provider", "timestamp"):
        assert expected in reason
    # The duplicate key with the rows that share it (rows 4 and 5 of the file).
    assert "duplicate key (request_id) with different values: req-00013 (rows 4, 5)" in reason
    assert _raw_totals(home) == before
    assert _ledger(home)[-1][:2] == ("bad.csv", "quarantined")


def test_unknown_format_and_empty_file(home: MeterrHome) -> None:
    (home.drop / "notes.txt").write_text("just some notes\n")
    (home.drop / "empty.csv").write_text("")
    outcomes = {o.name: o for o in process_drop_folder(home)}
    assert outcomes["notes.txt"].status == "quarantined"
    assert "no known format" in outcomes["notes.txt"].reason
    assert outcomes["empty.csv"].status == "quarantined"


# Run as root, a file's mode bits do not stop reading; setpriv drops the two capabilities that
# override them, so the process meets the file as any other user would.
_AS_AN_ORDINARY_USER = (
    ["setpriv", "--bounding-set=-dac_override,-dac_read_search"] if os.geteuid() == 0 else []
)


def _drop_folder_as_an_ordinary_user(outcome: str) -> list:
    """Process the drop folder in a process that file modes bind; returns ``[outcome, ...]``
    (``outcome``: a Python expression over an outcome ``o``), one per outcome."""
    program = (
        "import json; from ingest.drop import process_drop_folder; "
        "from ingest.paths import meterr_home; "
        f"print(json.dumps([{outcome} for o in process_drop_folder(meterr_home())]))"
    )
    done = subprocess.run(
        [*_AS_AN_ORDINARY_USER, sys.executable, "-c", program],
        capture_output=True,
        text=True,
        timeout=120,
        cwd=Path(__file__).resolve().parents[1],
    )
    assert done.returncode == 0, done.stderr[-2000:]
    return json.loads(done.stdout.strip().splitlines()[-1])


@pytest.mark.skipif(
    bool(_AS_AN_ORDINARY_USER) and not shutil.which("setpriv"),
    reason="running as root without setpriv: no file is unreadable",
)
def test_an_unreadable_file_is_quarantined_and_the_rest_loads(home: MeterrHome) -> None:
    write_custom_csv(home.drop / "readable.csv", [usage_row(i) for i in range(3)])
    locked = write_custom_csv(home.drop / "locked.csv", [usage_row(i + 10) for i in range(2)])
    locked.chmod(0)
    outcomes = dict(_drop_folder_as_an_ordinary_user("[o.name, [o.status, o.reason]]"))
    assert outcomes["readable.csv"] == ["loaded", None]
    status, reason = outcomes["locked.csv"]
    assert status == "quarantined" and "Permission denied" in reason
    assert _raw_totals(home)[0] == 3
    kept = home.quarantine / "locked.csv"
    kept.chmod(0o644)
    assert kept.read_bytes().startswith(b"timestamp,"), "quarantine keeps the bytes"
    error = json.loads((home.quarantine / "locked.csv.error.json").read_text())
    assert "Permission denied" in error["reason"]
    assert ("locked.csv", "quarantined", 0, None) in _ledger(home)


@pytest.mark.skipif(
    bool(_AS_AN_ORDINARY_USER) and not shutil.which("setpriv"),
    reason="running as root without setpriv: no folder is unreadable",
)
def test_an_unreadable_folder_is_named_and_the_rest_loads(home: MeterrHome) -> None:
    write_custom_csv(home.drop / "readable.csv", [usage_row(i) for i in range(3)])
    locked = home.drop / "team" / "locked"
    write_custom_csv(locked / "usage.csv", [usage_row(i + 10) for i in range(2)])
    locked.chmod(0)
    try:
        lines = _drop_folder_as_an_ordinary_user("o.line()")
    finally:
        locked.chmod(0o755)
    assert lines == [
        "team/locked/: skipped: cannot read this folder: Permission denied",
        "readable.csv: loaded 3 rows",
    ]
    assert (locked / "usage.csv").exists(), "a skipped folder's files stay where they are"


def test_a_symlinked_folder_is_named_not_followed(home: MeterrHome, tmp_path: Path) -> None:
    outside = write_custom_csv(tmp_path / "exports" / "usage.csv", [usage_row(i) for i in range(2)])
    (home.drop / "exports").symlink_to(outside.parent)
    write_custom_csv(home.drop / "inside.csv", [usage_row(i + 5) for i in range(3)])
    outcomes = process_drop_folder(home)
    assert [o.line() for o in outcomes] == [
        f"exports/: skipped: {FOLDER_LINK}",
        "inside.csv: loaded 3 rows",
    ]
    assert outside.exists() and (home.drop / "exports").is_symlink()
    assert _raw_totals(home)[0] == 3
    # Files given by name (the sensor's runs) are processed without the folder listing.
    assert process_drop_folder(home, []) == []


def test_a_symlinked_file_is_archived_as_its_bytes_and_its_target_kept(
    home: MeterrHome, tmp_path: Path
) -> None:
    rows = [usage_row(i) for i in range(4)]
    outside = write_custom_csv(tmp_path / "elsewhere" / "usage.csv", rows)
    (home.drop / "linked.csv").symlink_to(outside)
    assert [o.line() for o in process_drop_folder(home)] == ["linked.csv: loaded 4 rows"]
    (archived,) = home.archive.rglob("linked.csv")
    assert not archived.is_symlink() and archived.read_bytes() == outside.read_bytes()
    assert outside.exists() and not (home.drop / "linked.csv").exists()


def test_a_symlinked_bad_file_is_quarantined_as_its_bytes(home: MeterrHome, tmp_path: Path) -> None:
    outside = tmp_path / "elsewhere" / "notes.txt"
    outside.parent.mkdir()
    outside.write_text("just some notes\n")
    (home.drop / "notes.txt").symlink_to(outside)
    (outcome,) = process_drop_folder(home)
    assert outcome.status == "quarantined"
    kept = home.quarantine / "notes.txt"
    assert not kept.is_symlink() and kept.read_text() == "just some notes\n"
    assert (home.quarantine / "notes.txt.error.json").exists() and outside.exists()


def test_a_symlink_to_nothing_is_quarantined_with_its_reason(
    home: MeterrHome, tmp_path: Path
) -> None:
    (home.drop / "gone.csv").symlink_to(tmp_path / "deleted.csv")
    (outcome,) = process_drop_folder(home)
    assert outcome.status == "quarantined"
    target = tmp_path / "deleted.csv"
    assert outcome.reason == f"a symbolic link to nothing: {target} does not exist"
    assert (home.quarantine / "gone.csv").is_symlink() and pending_files(home) == []
    error = json.loads((home.quarantine / "gone.csv.error.json").read_text())
    assert error["reason"] == outcome.reason


def test_a_cell_of_the_wrong_type_is_listed_by_its_tables_gate_check(home: MeterrHome) -> None:
    """Refused while loading, not by GX, yet the raw table's quality_gate check names it."""
    from dagster_project.assets.drop_folder import RAW_SPECS, _check_result

    write_custom_csv(home.drop / "bad.csv", [usage_row(1), usage_row(2, input_tokens="12.5")])
    (outcome,) = process_drop_folder(home)
    assert outcome.status == "quarantined" and outcome.raw_table == "raw.custom_usage"
    [spec] = [s for s in RAW_SPECS if s.key.path[-1] == "custom_usage"]
    check = _check_result(spec, [outcome], [])
    assert not check.passed and check.metadata["files_rejected"].value == 1
    assert "row 2: input_tokens" in str(check.metadata["rejected"].value)


def test_hidden_and_partial_files_are_left_alone(home: MeterrHome) -> None:
    write_custom_csv(home.drop / ".hidden.csv", [usage_row(1)])
    write_custom_csv(home.drop / "copying.csv.part", [usage_row(1)])
    assert process_drop_folder(home) == []
    assert (home.drop / ".hidden.csv").exists() and (home.drop / "copying.csv.part").exists()


def test_newer_copy_of_a_request_replaces_the_older_one(home: MeterrHome) -> None:
    write_custom_csv(home.drop / "v1.csv", [usage_row(1, output_tokens=10)])
    process_drop_folder(home)
    write_custom_csv(home.drop / "v2.csv", [usage_row(1, output_tokens=99), usage_row(2)])
    process_drop_folder(home)
    with duckdb.connect(str(home.warehouse), read_only=True) as con:
        got = con.execute(
            "SELECT request_id, output_tokens FROM raw.custom_usage ORDER BY request_id"
        ).fetchall()
    assert got == [("req-00001", 99), ("req-00002", usage_row(2)["output_tokens"])]


def test_a_second_writer_waits_for_the_first(home: MeterrHome) -> None:
    events: list[str] = []

    def hold() -> None:
        with writer_lock(home.warehouse):
            events.append("first in")
            time.sleep(0.8)
            events.append("first out")

    thread = threading.Thread(target=hold)
    thread.start()
    time.sleep(0.2)
    write_custom_csv(home.drop / "x.csv", [usage_row(1)])
    outcomes = process_drop_folder(home)  # must wait, not fail on DuckDB's lock
    events.append("second done")
    thread.join()
    assert outcomes[0].status == "loaded"
    assert events == ["first in", "first out", "second done"]


@pytest.mark.parametrize("encoding", ["utf-8-sig", "utf-16"])
def test_bom_and_utf16_files_load(home: MeterrHome, encoding: str) -> None:
    text = write_custom_csv(home.drop / "tmp.csv", [usage_row(1), usage_row(2)]).read_text()
    (home.drop / "tmp.csv").unlink()
    Path(home.drop / f"{encoding}.csv").write_text(text, encoding=encoding)
    [outcome] = process_drop_folder(home)
    assert (outcome.status, outcome.row_count) == ("loaded", 2)


def test_an_empty_json_export_loads_as_zero_rows(home: MeterrHome) -> None:
    (home.drop / "export.json").write_text("[\n]")
    [outcome] = process_drop_folder(home)
    assert (outcome.status, outcome.row_count, outcome.format) == ("loaded", 0, "empty")


def test_unknown_file_reason_never_quotes_its_content(home: MeterrHome) -> None:
    (home.drop / "chat.jsonl").write_text('{"prompt": "SECRET-PROMPT-TEXT", "answer": "x"}\n')
    [outcome] = process_drop_folder(home)
    assert outcome.status == "quarantined"
    assert "prompt" in outcome.reason and "SECRET-PROMPT-TEXT" not in outcome.reason
    error = (home.quarantine / "chat.jsonl.error.json").read_text()
    assert "SECRET-PROMPT-TEXT" not in error


def _custom_csv_line(i: int) -> str:
    return ",".join(str(usage_row(i).get(k, "")) for k in CUSTOM_HEADER) + "\n"


def _helicone_line(i: int) -> str:
    return json.dumps(
        {
            "response_id": f"resp-{i:05d}",
            "request_id": f"req-{i:05d}",
            "request_created_at": f"2026-10-{1 + i % 28:02d}T10:00:00.000Z",
            "provider": "OPENAI",
            "request_model": "gpt-4o-mini",
            "prompt_tokens": 100 + i,
            "completion_tokens": 10 + i,
            "cost": 0.0001,
        }
    ) + "\n"


# (file name, header, line i, raw table): custom CSV takes the checked path (a pending copy),
# Helicone JSON Lines the in-place path (straight into the raw table).
_GROWING = {
    "checked": ("usage.csv", ",".join(CUSTOM_HEADER) + "\n", _custom_csv_line, "custom_usage"),
    "in place": ("requests.jsonl", "", _helicone_line, "helicone_requests"),
}


@pytest.mark.parametrize("path", sorted(_GROWING))
def test_a_file_still_being_written_is_left_in_the_drop_folder(
    path: str, home: MeterrHome
) -> None:
    """A file copied into drop/ under its final name changes while meterr reads it: nothing of
    it is committed, archived or quarantined; once complete, the next run loads every row."""
    name, header, line, table = _GROWING[path]
    target = home.drop / name
    target.write_text(header + "".join(line(i) for i in range(50)))
    written = [50]
    stop = threading.Event()

    def keep_writing() -> None:
        with open(target, "a", encoding="utf-8") as handle:
            while not stop.is_set():
                handle.write(line(written[0]))
                handle.flush()
                written[0] += 1
                time.sleep(0.002)

    writer = threading.Thread(target=keep_writing)
    writer.start()
    try:
        outcomes = process_drop_folder(home)
    finally:
        stop.set()
        writer.join()
    assert [(o.status, o.reason) for o in outcomes] == [
        ("waiting", "the file changed while it was read (still being written?); left in drop/")
    ]
    assert outcomes[0].line().startswith(f"{name}: waiting: the file changed")
    assert pending_files(home) == [target]
    assert not any(home.archive.rglob("*")) and not any(home.quarantine.rglob("*"))
    with duckdb.connect(str(home.warehouse), read_only=True) as con:
        assert con.execute(f"SELECT count(*) FROM raw.{table}").fetchone() == (0,)
        assert con.execute("SELECT count(*) FROM meta.ingested_files").fetchone() == (0,)
    # Complete now: the next run loads all of it.
    assert [o.line() for o in process_drop_folder(home)] == [
        f"{name}: loaded {written[0]} rows"
    ]
