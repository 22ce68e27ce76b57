"""Schedules: the daily refresh and the Monday report (UTC)."""

from datetime import date

import dagster as dg

from dagster_project.assets.provider_apis import (
    PARTITION_RANGE_END,
    PARTITION_RANGE_START,
    PROVIDER_API_ASSETS,
    PULL_ERRORS,
)
from dagster_project.jobs import daily_job, provider_api_job, weekly_report_job
from ingest.providers.sync import pull_start

daily_schedule = dg.ScheduleDefinition(
    name="daily_schedule",
    job=daily_job,
    # 06:00 UTC: provider usage for the previous UTC day is settled by then (APIs lag minutes).
    cron_schedule="0 6 * * *",
    execution_timezone="UTC",
    default_status=dg.DefaultScheduleStatus.RUNNING,
)

weekly_report_schedule = dg.ScheduleDefinition(
    name="weekly_report_schedule",
    job=weekly_report_job,
    # Monday 07:00 UTC: the ISO week that ended on Sunday is complete.
    cron_schedule="0 7 * * 1",
    execution_timezone="UTC",
    default_status=dg.DefaultScheduleStatus.RUNNING,
)


# How many of an endpoint's newest materializations are searched for its last clean pull: a daily
# run writes three or four, so this spans far more than the 90 days a catch-up reaches back.
_PULL_HISTORY = 1000


def _last_pulled_day(instance: dg.DagsterInstance, key: dg.AssetKey) -> date | None:
    """The newest UTC day (partition) of ``key`` pulled without an error; None: never.

    A pull whose integrations failed still materializes its partitions (with the errors in the
    metadata, for the UI), so Dagster's list of materialized partitions would count the days a
    revoked key or an outage missed as pulled, and the catch-up would never fetch them.
    """
    records = instance.fetch_materializations(key, limit=_PULL_HISTORY).records
    clean = [
        date.fromisoformat(materialization.partition)
        for materialization in (record.asset_materialization for record in records)
        if materialization is not None
        and materialization.partition
        and not _pull_errors(materialization)
    ]
    return max(clean, default=None)


def _pull_errors(materialization: dg.AssetMaterialization) -> list:
    """The per-integration errors a pull recorded (none recorded: none)."""
    value = materialization.metadata.get(PULL_ERRORS)
    return list(value.value or []) if value is not None else []


@dg.schedule(
    job=provider_api_job,
    # 05:30 UTC, before the daily refresh at 06:00 builds the marts from what it pulled.
    cron_schedule="30 5 * * *",
    execution_timezone="UTC",
    default_status=dg.DefaultScheduleStatus.RUNNING,
    description=(
        "Pull the provider APIs: the last 30 days the first time, then the last 3 days and every "
        "day since the oldest endpoint's newest pulled day (up to 90 days back)."
    ),
)
def provider_api_schedule(context: dg.ScheduleEvaluationContext):
    today = context.scheduled_execution_time.date()
    keys = [key for asset in PROVIDER_API_ASSETS for key in asset.keys]
    last = [_last_pulled_day(context.instance, key) for key in keys]
    first = pull_start(last, today)
    return dg.RunRequest(
        run_key=f"api-{today.isoformat()}",
        tags={PARTITION_RANGE_START: first.isoformat(), PARTITION_RANGE_END: today.isoformat()},
    )
