"""dbt models as Dagster assets: staging -> intermediate -> marts, with dbt tests as asset checks.

Sources in ``raw`` map to the Python raw assets' keys (``raw/<table>``), models to
``<schema>/<model>``, so lineage runs unbroken from a dropped file or API pull to the report.
"""

import os
from collections.abc import Mapping
from typing import Any

import dagster as dg
from dagster_dbt import (
    DagsterDbtTranslator,
    DagsterDbtTranslatorSettings,
    DbtCliResource,
    dbt_assets,
)

from dagster_project.dbt_project import dbt_project, ensure_manifest
from dagster_project.resources import MeterrSettings
from ingest.warehouse import writer_lock


class MeterrDbtTranslator(DagsterDbtTranslator):
    """Asset key = the table a node writes: ``raw/<table>`` for sources, ``<schema>/<model>``."""

    def get_asset_key(self, dbt_resource_props: Mapping[str, Any]) -> dg.AssetKey:
        if dbt_resource_props["resource_type"] == "source":
            return dg.AssetKey([dbt_resource_props["schema"], dbt_resource_props["name"]])
        schema = dbt_resource_props.get("config", {}).get("schema") or dbt_resource_props["schema"]
        return dg.AssetKey([schema, dbt_resource_props["name"]])

    def get_group_name(self, dbt_resource_props: Mapping[str, Any]) -> str | None:
        return "dbt"


TRANSLATOR = MeterrDbtTranslator(
    settings=DagsterDbtTranslatorSettings(
        enable_asset_checks=True, enable_source_tests_as_checks=True
    )
)


@dbt_assets(
    manifest=ensure_manifest(),
    project=dbt_project,
    dagster_dbt_translator=TRANSLATOR,
    pool="duckdb_writer",
)
def meterr_dbt_models(
    context: dg.AssetExecutionContext, dbt: DbtCliResource, meterr: MeterrSettings
):
    """Build and test the dbt models against ``$METERR_HOME/warehouse.duckdb``."""
    home = meterr.layout()
    # dbt runs as a child process that copies os.environ; profiles.yml reads this variable.
    os.environ["METERR_WAREHOUSE"] = str(home.warehouse)
    with writer_lock(home.warehouse):
        yield from dbt.cli(["build"], context=context).stream()
