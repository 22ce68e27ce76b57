"""dbt models as Dagster assets: staging -> intermediate -> marts, with dbt tests as asset checks.

Sources in ``raw`` map to the Python raw assets' keys (``raw/<table>``), models to
``<schema>/<model>``, so lineage runs unbroken from a dropped file or API pull to the report.
"""

import json
import os
import shutil
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import dagster as dg
import duckdb
from dagster_dbt import (
    DagsterDbtTranslator,
    DagsterDbtTranslatorSettings,
    DbtCliResource,
    dbt_assets,
)

from dagster_project.check_results import check_outcome
from dagster_project.dbt_project import dbt_project, ensure_manifest
from dagster_project.resources import MeterrSettings
from ingest import check_log
from ingest.settings import dbt_vars
from ingest.warehouse import connect, dbt_environment, writer_lock

CI_ONLY_TAG = "ci_only"
# A scheduled build runs the models, the tests on sources and marts, and the singular invariant
# tests. Unit tests and the tests tagged ci_only check the SQL itself, which does not change
# between runs: `make test` runs them on every change (they would double the build's time).
PRODUCTION_BUILD_ARGS = ("--exclude-resource-type", "unit_test", "--exclude", f"tag:{CI_ONLY_TAG}")
# dagster-dbt gives every dbt command a target folder of its own (dbt_project/target/
# <op>-<run>-<id>/: manifest, run results, compiled SQL, dbt.log; about 13 MB). The newest few are
# kept to look into a run; older ones are removed, or a schedule would fill the disk.
KEEP_RUN_TARGETS = 5


class MeterrDbtTranslator(DagsterDbtTranslator):
    """Asset key = the table a node writes: ``raw/<table>`` for sources, ``<schema>/<model>``."""

    def get_asset_key(self, dbt_resource_props: Mapping[str, Any]) -> dg.AssetKey:
        if dbt_resource_props["resource_type"] == "source":
            return dg.AssetKey([dbt_resource_props["schema"], dbt_resource_props["name"]])
        schema = dbt_resource_props.get("config", {}).get("schema") or dbt_resource_props["schema"]
        return dg.AssetKey([schema, dbt_resource_props["name"]])

    def get_group_name(self, dbt_resource_props: Mapping[str, Any]) -> str | None:
        return "dbt"

    def get_asset_check_spec(self, asset_spec, manifest, unique_id, project):
        # Tests tagged ci_only (staging and intermediate models) run in `make test`, not in
        # every production build, so they are not asset checks of the scheduled runs.
        if CI_ONLY_TAG in manifest["nodes"].get(unique_id, {}).get("tags", []):
            return None
        return super().get_asset_check_spec(asset_spec, manifest, unique_id, project)


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
    # dbt runs as a child process that copies os.environ; profiles.yml reads these variables.
    os.environ.update(dbt_environment(home.warehouse))
    # Platform fee, tolerances and the price override file from $METERR_HOME/meterr.yaml, read
    # (and validated) before taking the lock so a bad setting fails fast with a clear message.
    build_vars = json.dumps(dbt_vars(home))
    with writer_lock(home.warehouse):
        outcomes = []
        command = ["build", *PRODUCTION_BUILD_ARGS, "--vars", build_vars]
        invocation = dbt.cli(command, context=context)
        try:
            for event in invocation.stream():
                if isinstance(event, dg.AssetCheckResult):
                    outcomes.append(check_outcome(event))
                yield event
        finally:
            # Failed dbt tests end the stream with an error: record what ran either way.
            _record_checks(home, outcomes, context)
            try:
                prune_run_targets(invocation.target_path)
            except OSError as exc:  # never mask the build's own outcome
                context.log.warning(f"could not remove older dbt target folders: {exc}")


def prune_run_targets(current: Path, keep: int = KEEP_RUN_TARGETS) -> list[Path]:
    """Remove the run target folders beside ``current`` (named like it, ``<op>-<run>-<id>``)
    but the ``keep`` newest, ``current`` always among those kept; returns the folders removed."""
    op = current.name.rsplit("-", 2)[0]
    others = [
        p for p in current.parent.glob(f"{op}-*-*")
        if p.is_dir() and p != current and p.name.rsplit("-", 2)[0] == op
    ]
    others.sort(key=lambda p: p.stat().st_mtime, reverse=True)
    removed = others[max(keep - 1, 0):]
    for folder in removed:
        shutil.rmtree(folder, ignore_errors=True)
    return removed


def _record_checks(home, outcomes: list, context: dg.AssetExecutionContext) -> None:
    """Write the build's test outcomes to meta.check_results; never masks the build's own error
    (after a failure dbt's process may still hold the file for a moment)."""
    try:
        with connect(home, lock=False) as con:
            check_log.record(con, outcomes, run_id=context.run_id)
    except duckdb.Error as exc:
        context.log.warning(f"could not record {len(outcomes)} dbt test results: {exc}")
