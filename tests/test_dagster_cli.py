"""Dagster's own CLI sees the project: `dagster definitions validate` and `dagster asset list`."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

pytestmark = pytest.mark.slow

ROOT = Path(__file__).resolve().parent.parent
DAGSTER = str(Path(sys.executable).with_name("dagster"))


def test_definitions_validate_through_the_workspace(home) -> None:
    done = subprocess.run(
        [DAGSTER, "definitions", "validate", "-w", "workspace.yaml"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert done.returncode == 0, done.stdout + done.stderr


def test_asset_list_shows_raw_dbt_and_report_assets(home) -> None:
    done = subprocess.run(
        [DAGSTER, "asset", "list", "-m", "dagster_project.definitions"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert done.returncode == 0, done.stderr
    listed = set(done.stdout.split())
    for key in (
        "raw/custom_usage",
        "raw/openai_costs",
        "marts/fct_usage_daily",
        "reports/weekly_report",
        "meta/ingested_files",
    ):
        assert key in listed, f"{key} missing from:\n{done.stdout}"
