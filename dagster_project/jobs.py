"""Jobs the schedules, the sensor and the CLI run; all are selections of the same assets."""

from __future__ import annotations

import dagster as dg

from dagster_project.assets.dbt import meterr_dbt_models
from dagster_project.assets.drop_folder import drop_folder_files
from dagster_project.assets.provider_apis import PARTITIONS, PROVIDER_API_ASSETS
from dagster_project.assets.reports import weekly_report

INGEST_SELECTION = dg.AssetSelection.assets(drop_folder_files, meterr_dbt_models)
REPORT_SELECTION = dg.AssetSelection.assets(weekly_report)
FULL_SELECTION = INGEST_SELECTION | REPORT_SELECTION

ingest_job = dg.define_asset_job(
    "ingest_job",
    selection=INGEST_SELECTION,
    description="Load pending drop-folder files through the gate, then build and test the marts.",
)
daily_job = dg.define_asset_job(
    "daily_job",
    selection=FULL_SELECTION,
    description="Everything once: drop folder, marts, checks and the report.",
)
weekly_report_job = dg.define_asset_job(
    "weekly_report_job",
    selection=FULL_SELECTION,
    description="Refresh the marts and render last week's report and the index.",
)

PROVIDER_API_SELECTION = dg.AssetSelection.assets(*PROVIDER_API_ASSETS)

provider_api_job = dg.define_asset_job(
    "provider_api_job",
    selection=PROVIDER_API_SELECTION,
    partitions_def=PARTITIONS,
    description="Pull a window of UTC days from the OpenAI and Anthropic usage and cost APIs.",
)
