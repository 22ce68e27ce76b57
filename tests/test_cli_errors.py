"""The CLI's answers to ordinary mistakes: one clear ``error:`` line and exit 1 (argparse's usage
line and exit 2 for a malformed argument), nothing half done, no traceback."""

from __future__ import annotations

from pathlib import Path

import pytest

from dagster_project import cli
from ingest.paths import MeterrHome
from tests.conftest import usage_row, write_custom_csv


@pytest.mark.parametrize(
    ("text", "week"),
    [("2026-W49", "2026-W49"), ("2026-w5", "2026-W05"), ("2020-W53", "2020-W53")],
)
def test_iso_weeks_are_read_and_normalised(text: str, week: str) -> None:
    assert cli.iso_week(text) == week


@pytest.mark.parametrize("text", ["garbage", "2026-W99", "2025-W53", "2026-W00", "2026-49"])
def test_a_week_that_does_not_exist_is_a_usage_error(text: str, capsys) -> None:
    with pytest.raises(SystemExit) as exited:
        cli.main(["report", "--week", text])
    assert exited.value.code == 2
    assert f"{text!r} is not an ISO week: expected YYYY-Www" in capsys.readouterr().err


@pytest.mark.parametrize("text", ["2026-13", "garbage", "2026-1", "2026-00"])
def test_a_month_that_does_not_exist_is_a_usage_error(text: str, capsys) -> None:
    with pytest.raises(SystemExit) as exited:
        cli.main(["export", "focus", "--month", text])
    assert exited.value.code == 2
    assert f"{text!r} is not a calendar month: expected YYYY-MM" in capsys.readouterr().err
    assert cli.calendar_month("2026-11") == "2026-11"


def test_a_week_or_month_after_today_is_a_usage_error(capsys, monkeypatch) -> None:
    """A page for a week that has not started would say that no usage was recorded in it."""
    from datetime import date

    monkeypatch.setattr(cli, "_today", lambda: date(2026, 12, 7))
    assert cli.iso_week("2026-W50") == "2026-W50", "the week in progress is reported as partial"
    with pytest.raises(SystemExit) as exited:
        cli.main(["report", "--week", "2026-W53"])
    assert exited.value.code == 2
    assert "2026-W53 starts on 2026-12-28, after today" in capsys.readouterr().err
    assert cli.calendar_month("2026-12") == "2026-12"
    with pytest.raises(SystemExit) as exited:
        cli.main(["export", "focus", "--month", "2027-01"])
    assert exited.value.code == 2
    assert "2027-01 has not started yet" in capsys.readouterr().err


BROKEN_SETTINGS = {
    "meterr.yaml": (
        "platform_fee:\n  model: bogus\n",
        "platform_fee.model must be one of none, percentage, per_request, flat_monthly",
    ),
    "prices.yaml": (
        "prices:\n  - provider: openai\n    model: gpt-4o\n    input_per_mtok: cheap\n",
        "input_per_mtok",
    ),
    # Not YAML at all: PyYAML's own message spans lines; the error stays one line.
    "broken-prices.yaml": (
        "prices:\n  - {provider: openai, model: gpt-4o\n",
        "is not valid YAML: while parsing a flow mapping: expected ',' or '}', but got "
        "'<stream end>' at line 3, column 1",
    ),
    "broken-meterr.yaml": (
        "platform_fee: [percentage\n",
        "is not valid YAML: while parsing a flow sequence: expected ',' or ']', but got "
        "'<stream end>' at line 2, column 1",
    ),
}


@pytest.mark.parametrize("name", sorted(BROKEN_SETTINGS))
@pytest.mark.parametrize("command", [["ingest", "FILE"], ["run"]])
def test_a_broken_settings_file_stops_the_command_before_anything_happens(
    name: str, command: list[str], home: MeterrHome, tmp_path: Path, capsys
) -> None:
    text, message = BROKEN_SETTINGS[name]
    name = name.removeprefix("broken-")
    (home.root / name).write_text(text)
    export = write_custom_csv(tmp_path / "usage.csv", [usage_row(1)])
    argv = [str(export) if arg == "FILE" else arg for arg in command]
    assert cli.main(argv) == 1
    err = capsys.readouterr().err
    [line] = [line for line in err.splitlines() if line.startswith("error: ")]
    assert str(home.root / name) in line and message in line, err
    assert line.endswith("nothing was ingested" if command[0] == "ingest" else "nothing was run")
    assert "Traceback" not in err
    # Nothing copied, loaded or built: the file waits where it was.
    assert not any(home.drop.rglob("*")) and not home.warehouse.exists()
    assert export.exists()


def test_ingest_of_a_missing_file_or_a_folder_is_an_error_not_a_quarantine(
    home: MeterrHome, tmp_path: Path, capsys
) -> None:
    good = write_custom_csv(tmp_path / "usage.csv", [usage_row(1)])
    assert cli.main(["ingest", str(good), str(tmp_path / "nope.csv"), str(tmp_path)]) == 1
    captured = capsys.readouterr()
    assert f"error: {tmp_path / 'nope.csv'}: no such file; nothing was ingested" in captured.err
    assert f"error: {tmp_path}: is a directory; nothing was ingested" in captured.err
    assert "quarantined" not in captured.out + captured.err
    assert not any(home.drop.rglob("*")) and not any(home.quarantine.rglob("*"))


def test_a_meterr_home_that_is_a_file_is_named_in_one_line(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys
) -> None:
    not_a_folder = tmp_path / "home.txt"
    not_a_folder.write_text("")
    monkeypatch.setenv("METERR_HOME", str(not_a_folder))
    assert cli.main(["ingest"]) == 1
    err = capsys.readouterr().err
    assert err.strip().splitlines() == [
        f"error: Not a directory: {not_a_folder / 'drop'} (METERR_HOME={not_a_folder})"
    ]


def test_a_failed_step_is_reported_by_its_cause_not_by_dagsters_wrapper(
    home: MeterrHome, capsys
) -> None:
    # No pipeline has run: the report has no marts to read.
    assert cli.main(["report", "--week", "2026-W49"]) == 1
    errors = [line for line in capsys.readouterr().err.splitlines() if line.startswith("error:")]
    assert errors == [
        "error: reports__weekly_report: ReportDataError: marts.fct_usage_daily does not exist in "
        "this warehouse: run the pipeline (`meterr run`) first"
    ]


# What dagster-dbt 0.29 raised for a build in which two marts overflowed (as printed by a run).
_DBT_FAILURE = (
    "The dbt CLI process with command\n\n`dbt build --exclude tag:ci_only`\n\nfailed with exit "
    "code `1`. Check the stdout in the Dagster compute logs for the full information about the "
    "error, or view the dbt debug log: /x/dbt.log.\n\nErrors parsed from dbt logs:\n\n"
    "85 of 145 ERROR creating sql table model marts.fct_cost_lines ...... [\x1b[31mERROR\x1b[0m "
    "in 0.24s]\n\n\x1b[31mFailure in model fct_cost_lines (models/marts/fct_cost_lines.sql)"
    "\x1b[0m\n\n  Runtime Error in model fct_cost_lines (models/marts/fct_cost_lines.sql)\n"
    "  Out of Range Error: Overflow in multiplication of DECIMAL(18) (27 * 10).\n\n"
    "\x1b[31mFailure in test not_null_fct_usage_daily_model (models/marts/_marts.yml)\x1b[0m\n"
    "  Got 2 results, configured to fail if != 0\n\n"
    "  Compilation Error in model restatements (models/marts/restatements.sql)\n"
    "  'dict object' has no attribute 'x'\n\n"
    "  Database Error in model monthly_statement (models/marts/monthly_statement.sql)\n"
    "  Catalog Error: Table with name y does not exist!\n"
)


def test_a_failed_dbt_build_names_its_failed_nodes_and_why() -> None:
    from dagster._utils.error import SerializableErrorInfo

    dbt = SerializableErrorInfo(_DBT_FAILURE, [], "DagsterDbtCliRuntimeError")
    wrapped = SerializableErrorInfo("Error occurred while executing op", [], "DagsterError", dbt)
    assert cli._reason(wrapped) == (
        "dbt build failed: model fct_cost_lines: Out of Range Error: Overflow in multiplication of "
        "DECIMAL(18) (27 * 10).; test not_null_fct_usage_daily_model: Got 2 results, configured "
        "to fail if != 0; model restatements: 'dict object' has no attribute 'x'; and 1 more"
    )
    # Without quoted nodes, dagster-dbt's own first line is all there is to say.
    bare = SerializableErrorInfo(
        "The dbt CLI process failed\n\nmore", [], "DagsterDbtCliRuntimeError"
    )
    assert cli._reason(bare) == "The dbt CLI process failed"
