"""The one ``Definitions`` of meterr: ``dagster dev``, the schedules, the sensor and the CLI all
load this module, so every path runs the same assets and the same checks."""

from __future__ import annotations

import dagster as dg

from dagster_project.assets.dbt import meterr_dbt_models
from dagster_project.assets.drop_folder import drop_folder_files
from dagster_project.assets.provider_apis import PROVIDER_API_ASSETS, ProviderApis
from dagster_project.assets.reports import focus_export, weekly_report
from dagster_project.dbt_project import dbt_project
from dagster_project.dbt_warm import CLIENT as WARM_DBT_CLIENT
from dagster_project.jobs import daily_job, ingest_job, provider_api_job, weekly_report_job
from dagster_project.resources import DropFolder, MeterrDbtCli, MeterrSettings
from dagster_project.schedules import (
    daily_schedule,
    provider_api_schedule,
    weekly_report_schedule,
)
from dagster_project.sensors import drop_folder_sensor

ASSETS = [
    *PROVIDER_API_ASSETS,
    drop_folder_files,
    meterr_dbt_models,
    weekly_report,
    focus_export,
]


def resources() -> dict[str, object]:
    """Resources shared by every run; paths resolve from ``$METERR_HOME`` at run time."""
    return {
        "meterr": MeterrSettings(),
        "drop_folder": DropFolder(),
        "providers": ProviderApis(),
        "dbt": MeterrDbtCli(project_dir=dbt_project, dbt_executable=str(WARM_DBT_CLIENT)),
    }


defs = dg.Definitions(
    assets=ASSETS,
    jobs=[ingest_job, daily_job, weekly_report_job, provider_api_job],
    schedules=[daily_schedule, weekly_report_schedule, provider_api_schedule],
    sensors=[drop_folder_sensor],
    resources=resources(),
    # One process per run: DuckDB has one writer, and start-up is paid once (pitfalls.md).
    executor=dg.in_process_executor,
)
