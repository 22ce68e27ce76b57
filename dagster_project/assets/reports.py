"""The weekly HTML savings report: last in the lineage, after every mart it reads."""

from datetime import UTC, datetime

import dagster as dg

from dagster_project.assets.dbt import meterr_dbt_models
from dagster_project.resources import MeterrSettings
from ingest.warehouse import connect

REPORT_KEY = dg.AssetKey(["reports", "weekly_report"])


def mart_keys() -> list[dg.AssetKey]:
    """Every dbt model in the ``marts`` schema (the report reads from them)."""
    return sorted(
        (key for key in meterr_dbt_models.keys if key.path[0] == "marts"),
        key=lambda k: k.to_user_string(),
    )


class ReportConfig(dg.Config):
    """Which ISO week to render (``YYYY-Www``); empty = the last complete week."""

    week: str = ""


@dg.asset(
    key=REPORT_KEY,
    deps=mart_keys(),
    group_name="reports",
    kinds={"html", "jinja"},
    pool="duckdb_writer",
    description=(
        "One self-contained HTML file per ISO week under $METERR_HOME/reports/weekly/ and "
        "reports/index.html linking them: spend and trend, drivers, anomalies, savings, "
        "data health; plus reports/admin.html."
    ),
)
def weekly_report(
    context: dg.AssetExecutionContext, config: ReportConfig, meterr: MeterrSettings
) -> dg.MaterializeResult:
    from reports import write_all_weeks, write_reports
    from reports.data import last_complete_week

    home = meterr.layout()
    with connect(home, write=True) as con:
        if config.week:
            path = write_reports(con, home, week=config.week)
        else:
            # Every week with data is (re)rendered so the index links them all and restated
            # costs show everywhere; the default page is the last complete ISO week, rendered
            # on its own only when it has no usage (a quiet week still gets its page).
            written = {page.stem: page for page in write_all_weeks(con, home)}
            chosen = last_complete_week(datetime.now(UTC).date())
            path = written.get(chosen) or write_reports(con, home, week=chosen)
    context.log.info(f"report written to {path}")
    return dg.MaterializeResult(
        metadata={
            "path": dg.MetadataValue.path(str(path)),
            "index": dg.MetadataValue.path(str(home.reports / "index.html")),
            "week": path.stem,
        }
    )


FOCUS_KEY = dg.AssetKey(["exports", "focus_export"])


class FocusExportConfig(dg.Config):
    """The calendar month to export (``YYYY-MM``); empty = the last complete month."""

    month: str = ""


def _last_complete_month() -> str:
    from datetime import timedelta

    first_of_this_month = datetime.now(UTC).date().replace(day=1)
    return (first_of_this_month - timedelta(days=1)).strftime("%Y-%m")


@dg.asset(
    key=FOCUS_KEY,
    deps=mart_keys(),
    group_name="reports",
    kinds={"csv", "parquet"},
    pool="duckdb_writer",
    description=(
        "A FinOps FOCUS 1.2 cost-and-usage file for one month (CSV and Parquet) under "
        "$METERR_HOME/exports/: token quantities, list/billed/effective cost, x_ columns for "
        "model, token bucket and tier, platform fee on its own rows. Validated before it is kept."
    ),
)
def focus_export(
    context: dg.AssetExecutionContext, config: FocusExportConfig, meterr: MeterrSettings
) -> dg.MaterializeResult:
    from reports.focus import focus_column_violations, write_focus_export

    home = meterr.layout()
    month = config.month or _last_complete_month()
    with connect(home, write=True) as con:
        csv_path, parquet_path = write_focus_export(con, home, month)
    problems = focus_column_violations(csv_path) + focus_column_violations(parquet_path)
    if problems:
        raise dg.Failure(
            description=f"the FOCUS export for {month} breaks the column rules",
            metadata={"violations": dg.MetadataValue.json(problems[:50])},
        )
    return dg.MaterializeResult(
        metadata={
            "month": month,
            "path": dg.MetadataValue.path(str(csv_path)),
            "parquet": dg.MetadataValue.path(str(parquet_path)),
        }
    )
