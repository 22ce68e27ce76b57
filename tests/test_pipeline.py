"""End to end on a temporary METERR_HOME: real Dagster runs in-process, real dbt build, real DuckDB.

Covers every path a batch can take to the marts (CLI, sensor-launched job, schedule job) and proves
the gate keeps a failing batch out of all of them.
"""

from __future__ import annotations

import json
import os
import threading
import time
from datetime import UTC, datetime
from decimal import Decimal
from pathlib import Path

import dagster as dg
import duckdb
import pytest

from dagster_project import cli, dbt_warm
from dagster_project.assets.dbt import KEEP_RUN_TARGETS, meterr_dbt_models
from dagster_project.assets.drop_folder import GATE_CHECK, drop_folder_files
from dagster_project.dbt_project import DBT_DIR
from dagster_project.definitions import defs
from dagster_project.resources import DropFolder, MeterrSettings
from dagster_project.sensors import drop_folder_sensor
from ingest import unpack
from ingest.paths import MeterrHome
from reports.data import last_complete_week
from tests.conftest import usage_row, write_custom_csv

pytestmark = pytest.mark.slow

FACT_TOTALS = (
    "SELECT count(*) > 0, sum(input_tokens), sum(cached_input_tokens), sum(cache_write_tokens), "
    "sum(output_tokens), sum(request_count), sum(billed_cost_usd) FROM marts.fct_usage_daily"
)


def _query(home: MeterrHome, sql: str):
    with duckdb.connect(str(home.warehouse), read_only=True) as con:
        return con.execute(sql).fetchall()


def _marts_snapshot(home: MeterrHome):
    return _query(home, "SELECT * FROM marts.fct_usage_daily ORDER BY ALL")


def _expected(rows: list[dict]) -> tuple:
    return (
        True,
        sum(r["input_tokens"] for r in rows),
        sum(r["cached_input_tokens"] for r in rows),
        sum(r["cache_write_tokens"] for r in rows),
        sum(r["output_tokens"] for r in rows),
        sum(r["request_count"] for r in rows),
        sum((Decimal(r["cost_usd"]) for r in rows if r["cost_usd"] != ""), Decimal(0)),
    )


def _rows() -> list[dict]:
    rows = [usage_row(i) for i in range(40)]
    for row in rows[:10]:
        row["cost_usd"] = "0.012345"
    rows[5]["provider"] = "anthropic"
    rows[5]["model"] = "claude-sonnet-4-5"
    rows[6]["cache_write_tokens"] = 321
    return rows


def _run_job(name: str, run_config: dict | None = None) -> dg.ExecuteInProcessResult:
    job = defs.resolve_job_def(name)
    return job.execute_in_process(run_config=run_config or {}, raise_on_error=False)


def test_file_totals_arrive_unchanged_and_reruns_change_nothing(home: MeterrHome, capsys) -> None:
    rows = _rows()
    source = write_custom_csv(home.root.parent / "outside" / "usage.csv", rows)

    assert cli.main(["ingest", str(source)]) == 0
    assert capsys.readouterr().out.strip().endswith("usage.csv: loaded 40 rows")
    totals = _query(home, FACT_TOTALS)[0]
    assert totals[:6] == _expected(rows)[:6]
    assert Decimal(totals[6]) == _expected(rows)[6]
    snapshot = _marts_snapshot(home)

    # The same bytes again: a duplicate, and the marts do not move.
    assert cli.main(["ingest", str(source)]) == 0
    assert capsys.readouterr().out.strip().endswith("usage.csv: duplicate")
    assert _marts_snapshot(home) == snapshot

    # The whole pipeline again, with nothing new: identical marts.
    result = _run_job("daily_job")
    assert result.success
    assert _marts_snapshot(home) == snapshot
    assert list(home.weekly_reports.glob("*.html")), "the daily job renders the report"
    # Its default page is the last complete ISO week, with usage or without.
    last_week = last_complete_week(datetime.now(UTC).date())
    assert (home.weekly_reports / f"{last_week}.html").is_file()
    # Each dbt command's target folder (~13 MB) does not pile up run after run.
    runs = list((DBT_DIR / "target").glob(f"{meterr_dbt_models.op.name}-*-*"))
    assert 0 < len(runs) <= KEEP_RUN_TARGETS


def test_ingest_without_files_processes_what_waits_in_the_drop_folder(
    home: MeterrHome, capsys, monkeypatch: pytest.MonkeyPatch
) -> None:
    rows = _rows()
    dropped = write_custom_csv(home.drop / "team" / "usage.csv", rows)
    os.utime(dropped, (time.time() - 60, time.time() - 60))  # settled: copied in a minute ago
    scans = []
    original = unpack.scan_member

    def watched(path: Path, display: str) -> str:
        scans.append((Path(path).name, threading.current_thread().name))
        return original(path, display)

    monkeypatch.setattr(unpack, "scan_member", watched)
    warm_pids = []
    start_ahead = dbt_warm.start_ahead

    def watched_start() -> None:
        start_ahead()
        warm_pids.append(dbt_warm._AHEAD.pid)

    monkeypatch.setattr(dbt_warm, "start_ahead", watched_start)
    assert cli.main(["ingest"]) == 0
    # The file was read once, ahead, while Dagster started; the load took that digest.
    assert scans == [("usage.csv", "meterr-scan-ahead")]
    # dbt's build ran in the dbt process started before Dagster loaded (its log names the pid).
    newest_log = max((DBT_DIR / "target").glob("*/dbt.log"), key=lambda p: p.stat().st_mtime)
    first_event = json.loads(newest_log.read_text().splitlines()[0])
    assert [first_event["info"]["pid"]] == warm_pids
    assert capsys.readouterr().out.strip().endswith("usage.csv: loaded 40 rows")
    assert _query(home, FACT_TOTALS)[0][:6] == _expected(rows)[:6]
    assert list(home.archive.rglob("usage.csv")) and not list(home.drop.rglob("*.csv"))


def test_demo_loads_every_sample_file_at_once_and_prints_the_report(
    home: MeterrHome, capsys
) -> None:
    # The README's first command: the sample files it has just written are taken in the same run
    # (they are whole; the whole-folder settle time is not theirs to wait out).
    assert cli.main(["demo"]) == 0
    lines = capsys.readouterr().out.strip().splitlines()
    report = Path(lines[-1])
    assert report.is_file() and report.suffix == ".html", lines
    assert lines[:-1] and all(": loaded " in line for line in lines[:-1]), lines
    assert not [p for p in home.drop.rglob("*") if p.is_file()], "nothing left waiting"


def test_ingest_without_files_leaves_a_file_still_being_written(home: MeterrHome, capsys) -> None:
    # As the sensor does: a file modified in the last SETTLE_SECONDS (here: just now, as a writer
    # appending to it would have it) is not read, and waits in drop/ for the next run.
    writing = write_custom_csv(home.drop / "writing.csv", _rows())
    os.utime(writing, (time.time() + 60, time.time() + 60))
    assert cli.main(["ingest"]) == 0
    out = capsys.readouterr().out
    assert "writing.csv: waiting: modified 0.0 s ago, less than 2 s (still being written?)" in out
    assert writing.is_file() and not list(home.archive.rglob("*.csv"))


def test_a_batch_failing_the_gate_never_reaches_the_marts(home: MeterrHome, capsys) -> None:
    good = write_custom_csv(home.root.parent / "in" / "good.csv", _rows())
    assert cli.main(["ingest", str(good)]) == 0
    snapshot = _marts_snapshot(home)
    bad_rows = [usage_row(900 + i, model="evil-model", output_tokens=-1) for i in range(3)]

    # Path 1: the CLI.
    bad = write_custom_csv(home.root.parent / "in" / "bad.csv", bad_rows)
    assert cli.main(["ingest", str(bad)]) == 1
    assert "bad.csv: quarantined: failed the quality gate" in capsys.readouterr().out
    assert _marts_snapshot(home) == snapshot

    # Path 2: the sensor's run request, executed as the job it targets.
    dropped = write_custom_csv(
        home.drop / "bad2.csv", [dict(r, request_id=r["request_id"] + "b") for r in bad_rows]
    )
    os.utime(dropped, (time.time() - 60, time.time() - 60))
    tick = drop_folder_sensor(
        dg.build_sensor_context(resources={"drop_folder": DropFolder(home=str(home.root))})
    )
    [request] = tick.run_requests
    result = _run_job("ingest_job", request.run_config)
    [gate] = [
        e
        for e in result.get_asset_check_evaluations()
        if e.asset_key == dg.AssetKey(["raw", "custom_usage"]) and e.check_name == GATE_CHECK
    ]
    assert not gate.passed
    assert "bad2.csv" in str(gate.metadata["rejected"].value)
    assert _marts_snapshot(home) == snapshot

    # Path 3: the schedule's job, with the bad file dropped again.
    write_custom_csv(home.drop / "bad3.csv", bad_rows)
    assert _run_job("daily_job").success
    assert _marts_snapshot(home) == snapshot
    assert (home.quarantine / "bad3.csv.error.json").exists()
    assert _query(
        home, "SELECT count(*) FROM marts.fct_usage_daily WHERE model = 'evil-model'"
    ) == [(0,)]


def test_bad_rows_that_reach_raw_block_the_marts(home: MeterrHome) -> None:
    good = write_custom_csv(home.root.parent / "in" / "good.csv", _rows())
    assert cli.main(["ingest", str(good)]) == 0
    snapshot = _marts_snapshot(home)
    # Simulate rows that got into raw behind the gate's back (e.g. a manual INSERT).
    with duckdb.connect(str(home.warehouse)) as con:
        con.execute(
            "INSERT INTO raw.custom_usage (_file_sha256, timestamp, provider, model, output_tokens)"
            " VALUES ('manual', TIMESTAMP '2026-10-03 00:00:00', 'openai', 'gpt-4o', -50)"
        )
    result = _run_job("ingest_job")
    [gate] = [
        e
        for e in result.get_asset_check_evaluations()
        if e.asset_key == dg.AssetKey(["raw", "custom_usage"])
    ]
    assert not gate.passed and gate.severity == dg.AssetCheckSeverity.ERROR
    assert _marts_snapshot(home) == snapshot, "a failed blocking check stops dbt in the run"


def test_export_focus_writes_a_valid_file_for_the_month_and_warns_of_broken_prices(
    home: MeterrHome, capsys
) -> None:
    from reports.focus import focus_column_violations

    source = write_custom_csv(home.root.parent / "in" / "usage.csv", _rows())
    assert cli.main(["ingest", str(source)]) == 0
    capsys.readouterr()
    assert cli.main(["export", "focus", "--month", "2026-10"]) == 0
    printed = Path(capsys.readouterr().out.strip().splitlines()[-1])
    assert printed == home.exports / "focus-2026-10.csv" and printed.exists()
    assert printed.with_suffix(".parquet").exists()
    assert focus_column_violations(printed) == []
    with duckdb.connect() as con:
        billed = con.execute(
            f"SELECT sum(BilledCost) FROM read_csv('{printed}') WHERE ChargeCategory = 'Usage'"
        ).fetchone()[0]
    fact = _query(home, "SELECT sum(total_cost_usd) FROM marts.fct_usage_daily")[0][0]
    assert round(Decimal(str(billed)), 4) == round(fact, 4)

    # A price override file broken since the build: the export still comes from the marts as
    # built, and says so.
    (home.root / "prices.yaml").write_text("prices:\n  - {provider: openai, model: gpt-4o\n")
    assert cli.main(["export", "focus", "--month", "2026-10"]) == 0
    err = capsys.readouterr().err
    [warning] = [line for line in err.splitlines() if line.startswith("warning: ")]
    assert "prices.yaml is not valid YAML" in warning
    assert warning.endswith("the export shows the last build's prices and settings")
    assert cli.main(["report", "--week", "2026-W41"]) == 0
    assert "the report shows the last build's prices" in capsys.readouterr().err


def test_the_ledger_asset_counts_each_outcome_of_a_run(home: MeterrHome, tmp_path) -> None:
    """What a run over the whole folder did, in the ledger asset's metadata (Dagster's UI): one
    count per outcome, skipped folders included, and one line per file or folder."""
    write_custom_csv(home.drop / "good.csv", [usage_row(i) for i in range(3)])
    (home.drop / "broken.csv").write_text("date,amount,category\n2026-01-01,3,x\n")
    outside = write_custom_csv(tmp_path / "elsewhere" / "usage.csv", [usage_row(9)])
    (home.drop / "exports").symlink_to(outside.parent, target_is_directory=True)
    result = dg.materialize(
        [drop_folder_files], resources={"meterr": MeterrSettings()}, raise_on_error=False
    )
    (ledger,) = [
        m
        for m in result.asset_materializations_for_node("drop_folder_files")
        if m.asset_key == dg.AssetKey(["meta", "ingested_files"])
    ]
    meta = {k: v.value for k, v in ledger.metadata.items()}
    assert (meta["loaded"], meta["quarantined"], meta["skipped"], meta["waiting"]) == (1, 1, 1, 0)
    assert meta["files_seen_this_run"] == 3
    lines = [o["line"] for o in meta["outcomes_json"]]
    assert lines[0].startswith("exports/: skipped: a symbolic link to a folder")
    assert sorted(lines[1:])[1] == "good.csv: loaded 3 rows"
    assert sorted(lines[1:])[0].startswith("broken.csv: quarantined: no known format")
