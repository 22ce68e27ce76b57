"""Schedules: the daily refresh and the Monday report (UTC)."""

from __future__ import annotations

import dagster as dg

from dagster_project.jobs import daily_job, weekly_report_job

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
