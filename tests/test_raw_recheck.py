"""The re-check of committed raw rows that guards the marts.

It covers the rows loaded since it last passed and their keys across the whole table, so its work
follows the new data, yet rows that broke an invariant keep blocking dbt until they are gone.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import dagster as dg
import duckdb
import pytest

from benchmarks.run import generate_helicone_jsonl
from dagster_project.assets.drop_folder import GATE_CHECK, drop_folder_files
from dagster_project.resources import MeterrSettings
from ingest import check_log, quality
from ingest.drop import process_drop_folder
from ingest.formats import by_name, custom
from ingest.loading import ensure_table
from ingest.paths import MeterrHome
from ingest.warehouse import connect
from tests.conftest import usage_row, write_custom_csv

NOW = datetime(2026, 6, 1, 12, 0)
PASSED = NOW - timedelta(days=1)


def _add(
    con: duckdb.DuckDBPyConnection,
    request_id: str,
    loaded_at: datetime | None,
    *,
    digest: str = "f" * 64,
    **values,
):
    row = {"timestamp": "2026-05-01 10:00:00+00", "provider": "openai", "model": "gpt-4o",
           "output_tokens": 5, "request_id": request_id, **values}
    names = ", ".join(['"_file_sha256"', '"_loaded_at"', *(f'"{n}"' for n in row)])
    marks = ", ".join("?" * (len(row) + 2))
    con.execute(
        f"INSERT INTO raw.custom_usage ({names}) VALUES ({marks})",
        [digest, loaded_at, *row.values()],
    )


@pytest.fixture
def con() -> duckdb.DuckDBPyConnection:
    con = duckdb.connect()
    con.execute("CREATE SCHEMA raw")
    ensure_table(con, custom.FORMAT)
    return con


def _check(
    con: duckdb.DuckDBPyConnection, since: datetime | None, gated: list = ()
) -> list[str]:
    return quality.raw_invariant_violations(
        con, custom.FORMAT, now=NOW, since=since, gated=gated
    )


def test_rows_before_the_last_pass_are_not_read_again(con) -> None:
    # A bad row from before the last pass (a window that did pass, so it cannot be real): only a
    # full check sees it; the windowed one reads only newer rows.
    _add(con, "old-bad", PASSED - timedelta(hours=2), output_tokens=-3)
    _add(con, "new-good", PASSED + timedelta(hours=1))
    assert _check(con, None) == ["1 row(s): output_tokens < 0"]
    assert _check(con, PASSED) == []


def test_a_count_beyond_the_ceiling_in_raw_is_found(con) -> None:
    _add(con, "absurd", PASSED + timedelta(hours=1), output_tokens=9 * 10**15)
    _add(con, "at-the-ceiling", PASSED + timedelta(hours=1), input_tokens=10**11)
    assert _check(con, PASSED) == ["1 row(s): output_tokens > 100,000,000,000"]


def test_new_rows_are_checked_and_rows_without_a_load_time_too(con) -> None:
    _add(con, "new-bad", PASSED + timedelta(hours=1), provider="nobody")
    _add(con, "unknown-time", None, model=None)
    assert sorted(_check(con, PASSED)) == ["1 row(s): model is null", "1 row(s): unknown provider"]


def test_a_new_key_repeating_an_old_one_is_found_across_the_whole_table(con) -> None:
    _add(con, "old-a", PASSED - timedelta(days=3))
    _add(con, "old-b", PASSED - timedelta(days=3))
    _add(con, "old-b", PASSED - timedelta(days=2))  # an old repeat, outside the window
    _add(con, "old-a", PASSED + timedelta(hours=1))
    assert _check(con, PASSED) == ["1 duplicate key(s) on (request_id)"]
    assert _check(con, None) == ["2 duplicate key(s) on (request_id)"]
    # A window holding most rows groups every key instead of looking keys up: the same answer.
    assert _check(con, PASSED - timedelta(days=10)) == ["2 duplicate key(s) on (request_id)"]


def test_the_window_starts_exactly_at_the_last_pass(con) -> None:
    # The run that passed loaded its rows just before it passed: they are not read again.
    _add(con, "same-run", PASSED - timedelta(seconds=1), cost_usd=-1)
    _add(con, "next-run", PASSED + timedelta(microseconds=1), cost_usd=-2)
    assert _check(con, PASSED) == ["1 row(s): cost_usd < 0"]
    assert _check(con, None) == ["2 row(s): cost_usd < 0"]


def test_a_batch_the_gate_just_passed_is_not_read_again_but_its_keys_still_count(con) -> None:
    gated_at = PASSED + timedelta(hours=1)
    batch = ("a" * 64, gated_at)
    # A value the gate would have refused stands in for "already checked": the re-check skips
    # exactly that batch (same file, same load time) and nothing else.
    _add(con, "gated-1", gated_at, digest="a" * 64, output_tokens=-1)
    _add(con, "gated-2", gated_at, digest="a" * 64)
    assert _check(con, PASSED) == ["1 row(s): output_tokens < 0"]
    assert _check(con, PASSED, [batch]) == []
    # The same file's digest on a row added later, behind the gate's back: checked.
    _add(con, "sneaked", gated_at + timedelta(seconds=1), digest="a" * 64, cost_usd=-2)
    # A new row repeating a key of the skipped batch: found, on an empty window too.
    _add(con, "gated-2", None, digest="b" * 64)
    for since in (PASSED, None):
        assert sorted(_check(con, since, [batch])) == [
            "1 duplicate key(s) on (request_id)",
            "1 row(s): cost_usd < 0",
        ]


def test_an_in_place_load_reports_the_load_time_its_rows_carry(home: MeterrHome) -> None:
    generate_helicone_jsonl(home.drop / "requests.jsonl", 50)
    (outcome,) = process_drop_folder(home)
    assert outcome.status == "loaded" and outcome.gated_at is not None
    with connect(home) as con:
        stamps = con.execute(
            "SELECT DISTINCT _file_sha256, _loaded_at FROM raw.helicone_requests"
        ).fetchall()
        assert stamps == [(outcome.file_sha256, outcome.gated_at)]
        # So the run's own re-check reads none of those rows: a bad value planted in the batch
        # is not seen with the batch named, and is seen without.
        con.execute("UPDATE raw.helicone_requests SET cost_usd = -1 WHERE rowid = 3")
        helicone = by_name("helicone")
        batch = [(outcome.file_sha256, outcome.gated_at)]
        assert quality.raw_invariant_violations(con, helicone, gated=batch) == []
        assert quality.raw_invariant_violations(con, helicone) == ["1 row(s): cost_usd < 0"]


def _materialize() -> dg.AssetCheckEvaluation:
    result = dg.materialize(
        [drop_folder_files], resources={"meterr": MeterrSettings()}, raise_on_error=False
    )
    (evaluation,) = [
        e
        for e in result.get_asset_check_evaluations()
        if e.asset_key == dg.AssetKey(["raw", "custom_usage"]) and e.check_name == GATE_CHECK
    ]
    return evaluation


def _sneak_in_a_bad_row(home: MeterrHome) -> None:
    """A row that reached raw without the gate (what the re-check exists for)."""
    with connect(home) as con:
        _add(con, "sneaked", datetime.now(UTC).replace(tzinfo=None), output_tokens=-7)


@pytest.mark.slow
def test_a_bad_committed_row_blocks_every_run_until_it_is_removed(home: MeterrHome) -> None:
    write_custom_csv(home.drop / "usage.csv", [usage_row(i) for i in range(5)])
    assert _materialize().passed
    with connect(home) as con:
        first_pass = check_log.last_passed(con, "raw/custom_usage", GATE_CHECK)
    assert first_pass is not None

    _sneak_in_a_bad_row(home)
    for _ in range(2):  # a failed run does not move the window: the next run sees it again
        evaluation = _materialize()
        assert not evaluation.passed
        assert evaluation.severity == dg.AssetCheckSeverity.ERROR
        assert "output_tokens < 0" in str(evaluation.metadata["violations_in_raw"].value)
    with connect(home) as con:
        assert check_log.last_passed(con, "raw/custom_usage", GATE_CHECK) == first_pass
        con.execute("DELETE FROM raw.custom_usage WHERE request_id = 'sneaked'")
    assert _materialize().passed
