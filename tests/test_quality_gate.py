"""The gate decides on a batch's extremes; its verdict and report must be GX's over every row."""

from __future__ import annotations

import os
import random
import subprocess
import sys
from datetime import datetime

import duckdb
import pandas as pd
import pytest

from benchmarks.run import generate_helicone_jsonl
from ingest import gx_process, loading, quality
from ingest.formats import by_name

FMT = by_name("custom")
NOW = datetime(2026, 11, 1)


def _good_row(i: int) -> dict:
    return {
        "timestamp": f"2026-10-{1 + i % 28:02d} 12:00:00",
        "provider": ["openai", "anthropic", "google"][i % 3],
        "model": f"model-{i % 4}",
        "input_tokens": 100 + i,
        "cached_input_tokens": i % 7,
        "cache_write_tokens": 0,
        "output_tokens": 50 + i % 11,
        "request_count": 1,
        "cost_usd": f"{0.001 * (i % 5):.6f}",
        "request_id": f"req-{i}",
    }


# Each spoils some rows of a clean batch in one way the suite looks at.
SPOILERS = {
    "clean": lambda row, rng: row,
    "null_required": lambda row, rng: {**row, "model": None},
    "negative_tokens": lambda row, rng: {**row, "input_tokens": -rng.randint(1, 9)},
    "negative_cost": lambda row, rng: {**row, "cost_usd": "-0.000001"},
    # Fits BIGINT, but tokens times a per-million price would overflow the marts' money columns.
    "absurd_tokens": lambda row, rng: {**row, "output_tokens": 9 * 10**15 + rng.randint(1, 9)},
    "absurd_cost": lambda row, rng: {**row, "cost_usd": "100000000001"},
    "too_early": lambda row, rng: {**row, "timestamp": "2019-12-31 23:59:59"},
    "in_the_future": lambda row, rng: {**row, "timestamp": "2027-01-01 00:00:00"},
    "unknown_provider": lambda row, rng: {**row, "provider": "acme-llm"},
    "null_provider": lambda row, rng: {**row, "provider": None},
    "null_optional_count": lambda row, rng: {**row, "cache_write_tokens": None},
    "null_time": lambda row, rng: {**row, "timestamp": None},
}

# Allowed by the suite: an optional count may be missing.
HARMLESS = {"clean", "null_optional_count"}


def _batch(con: duckdb.DuckDBPyConnection, rows: list[dict]) -> str:
    table = "pending_gate_test"
    con.execute(f"DROP TABLE IF EXISTS {table}")
    con.execute(FMT.create_sql(table, temp=True))
    columns = list(rows[0])
    placeholders = ", ".join("?" for _ in columns)
    con.executemany(
        f"INSERT INTO {table} ({', '.join(columns)}) VALUES ({placeholders})",
        [[row[c] for c in columns] for row in rows],
    )
    return table


def _row_by_row(con: duckdb.DuckDBPyConnection, table: str) -> list[str]:
    """What GX says over every row of the batch, naming rows by their place in the batch (the
    reference the gate must agree with)."""
    frame = con.execute(quality.validation_select(con, FMT, table)).df()
    assert list(frame[quality.ROW_ID]) == list(range(1, len(frame) + 1))
    expectations = quality.build_expectations(FMT, now=NOW)
    described = []
    for failed in gx_process.check(frame, expectations, "reference", quality.ROW_ID):
        rows = [item[quality.ROW_ID] for item in failed.result["partial_unexpected_index_list"]]
        named = sorted(rows)[: quality.ROWS_NAMED]
        described.append(quality._describe(failed, FMT, failed.result["unexpected_count"], named))
    return described


@pytest.mark.parametrize("seed", range(3))
@pytest.mark.parametrize("spoiler", list(SPOILERS))
def test_gate_verdict_and_report_match_gx_over_every_row(spoiler: str, seed: int) -> None:
    rng = random.Random(seed)
    applied = {spoiler}
    rows = [_good_row(i) for i in range(60)]
    for i in rng.sample(range(len(rows)), k=1 + seed * 3):
        rows[i] = SPOILERS[spoiler](rows[i], rng)
    # A second fault on top, in some runs, so combinations are seen too.
    if seed == 2 and spoiler != "clean":
        other = rng.choice([s for s in SPOILERS if s not in ("clean", spoiler)])
        rows[0] = SPOILERS[other](rows[0], rng)
        applied.add(other)
    with duckdb.connect() as con:
        table = loading.numbered_rows(_batch(con, rows))
        expected = _row_by_row(con, table)
        got = quality.validate(con, FMT, table, now=NOW)
    assert sorted(got.failures) == sorted(expected)
    should_fail = bool(applied - HARMLESS)
    assert bool(expected) == should_fail, expected


def test_extremes_hold_each_columns_bounds_nulls_and_providers() -> None:
    rows = [_good_row(i) for i in range(10)]
    rows[3]["input_tokens"] = -4
    rows[5]["provider"] = None
    rows[6]["model"] = None
    with duckdb.connect() as con:
        frame = pd.DataFrame(quality.extremes_columns(con, FMT, _batch(con, rows)))
    assert len(frame) == 4  # three providers and a NULL
    assert sorted(frame["provider"].dropna().unique()) == ["anthropic", "google", "openai"]
    assert frame["provider"].isna().sum() == 1
    assert frame["input_tokens"].min() == -4 and frame["input_tokens"].max() == 109
    assert frame["model"].isna().sum() == 1
    assert frame["output_tokens"].notna().all()


def test_a_load_gates_its_file_without_loading_pandas_in_the_loading_process(tmp_path) -> None:
    # pandas costs the run's own process about half a second to import: the gate hands the GX
    # helper plain columns. Checked in a fresh interpreter (this one has pandas already).
    drop = tmp_path / "drop"
    drop.mkdir()
    generate_helicone_jsonl(drop / "requests.jsonl", 50)
    code = (
        "import sys\nfrom ingest.drop import process_drop_folder\nfrom ingest.paths import "
        "meterr_home\nprint(*[o.line() for o in process_drop_folder(meterr_home())])\n"
        "print('pandas' in sys.modules)\n"
    )
    out = subprocess.run(
        [sys.executable, "-c", code],
        stdout=subprocess.PIPE,
        text=True,
        check=True,
        timeout=300,
        env={**os.environ, "METERR_HOME": str(tmp_path)},
    ).stdout.splitlines()
    assert out == ["requests.jsonl: loaded 50 rows", "False"]


def test_a_refusal_names_at_most_ten_rows_per_rule_and_counts_them_all() -> None:
    rows = [_good_row(i) for i in range(40)]
    for i in range(3, 40, 3):  # 13 rows: 4, 7, 10, ..., 40 counted from 1
        rows[i]["output_tokens"] = -1
    with duckdb.connect() as con:
        got = quality.validate(con, FMT, loading.numbered_rows(_batch(con, rows)), now=NOW)
    (failure,) = got.failures
    assert "13 unexpected row(s) (rows 4, 7, 10, 13, 16, 19, 22, 25, 28, 31, …)" in failure


def test_a_missing_value_is_said_as_missing_not_as_nan() -> None:
    # GX hands missing cells over as nan or <NA>: a reason that said "e.g. ['nan', 'nan']"
    # showed nothing (found by an acceptance probe). A not-null rule names rows only; another
    # rule's example of a missing cell says NULL.
    rows = [_good_row(i) for i in range(6)]
    rows[1]["model"] = None
    rows[4]["model"] = None
    with duckdb.connect() as con:
        got = quality.validate(con, FMT, loading.numbered_rows(_batch(con, rows)), now=NOW)
    (failure,) = got.failures
    assert failure.endswith("column=model): 2 unexpected row(s) (rows 2, 5)"), failure
    assert quality._is_missing(float("nan")) and quality._is_missing(pd.NA)
    assert quality._is_missing(None) and not quality._is_missing("nan-model")
