"""The weekly HTML savings report: last in the lineage, after every mart it reads."""

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
        "reports/index.html linking them: spend and trend, drivers, anomalies, savings, data health."
    ),
)
def weekly_report(
    context: dg.AssetExecutionContext, config: ReportConfig, meterr: MeterrSettings
) -> dg.MaterializeResult:
    from reports import write_all_weeks, write_reports

    home = meterr.layout()
    with connect(home, write=True) as con:
        if config.week:
            path = write_reports(con, home, week=config.week)
        else:
            # Every week with data is (re)rendered so the index links them all and restated
            # costs show everywhere; the default page is the last complete ISO week.
            write_all_weeks(con, home)
            path = write_reports(con, home)
    context.log.info(f"report written to {path}")
    return dg.MaterializeResult(
        metadata={
            "path": dg.MetadataValue.path(str(path)),
            "index": dg.MetadataValue.path(str(home.reports / "index.html")),
            "week": path.stem,
        }
    )
