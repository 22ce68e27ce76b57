"""The one Definitions: it loads, lineage is unbroken, every dbt source is a Dagster asset."""

from __future__ import annotations

import json
import os
from pathlib import Path

import dagster as dg

from dagster_project.assets.dbt import meterr_dbt_models, prune_run_targets
from dagster_project.dbt_project import dbt_project
from dagster_project.definitions import defs


def _keys() -> set[str]:
    return {k.to_user_string() for k in defs.resolve_all_asset_keys()}


def test_definitions_validate() -> None:
    dg.Definitions.validate_loadable(defs)
    assert {"ingest_job", "daily_job", "weekly_report_job"} <= {
        j.name for j in defs.resolve_all_job_defs()
    }
    assert defs.resolve_schedule_def("daily_schedule")
    assert defs.resolve_schedule_def("weekly_report_schedule")
    assert defs.resolve_sensor_def("drop_folder_sensor")


def test_every_dbt_source_is_a_python_asset() -> None:
    manifest = json.loads(dbt_project.manifest_path.read_text())
    sources = {f"{s['schema']}/{s['name']}" for s in manifest["sources"].values()}
    assert sources, "the dbt project declares its raw sources"
    python_keys = {
        k.to_user_string() for a in defs.assets if a is not meterr_dbt_models for k in a.keys
    }
    assert sources <= python_keys, f"dbt sources with no Python asset: {sources - python_keys}"


def test_lineage_runs_from_raw_to_report() -> None:
    graph = defs.resolve_asset_graph()
    report = dg.AssetKey(["reports", "weekly_report"])
    upstream = {k.to_user_string() for k in graph.get(report).parent_keys}
    assert "marts/fct_usage_daily" in upstream

    def ancestors(key: dg.AssetKey) -> set[dg.AssetKey]:
        seen: set[dg.AssetKey] = set()
        todo = [key]
        while todo:
            for parent in graph.get(todo.pop()).parent_keys:
                if parent not in seen:
                    seen.add(parent)
                    todo.append(parent)
        return seen

    names = {k.to_user_string() for k in ancestors(report)}
    assert {"raw/custom_usage", "staging/stg_custom__usage", "marts/fct_usage_daily"} <= names


def test_raw_assets_carry_a_blocking_quality_gate() -> None:
    graph = defs.resolve_asset_graph()
    check_key = dg.AssetCheckKey(dg.AssetKey(["raw", "custom_usage"]), "quality_gate")
    spec = graph.get_check_spec(check_key)
    assert spec.blocking


def test_dbt_resource_reports_the_version_of_the_dbt_it_runs() -> None:
    """The slim dbt resource answers dagster-dbt's version question from package metadata instead
    of a `dbt --version` subprocess per run: it must be the version of the executable it runs."""
    import os
    import re
    import subprocess

    from dagster_project.dbt_warm import SOCKET_ENV
    from dagster_project.definitions import resources

    dbt = resources()["dbt"]
    # Run as the resource runs it: the warm-dbt client, which runs the real dbt without a socket.
    env = {**os.environ, **dbt.client_env()}
    env.pop(SOCKET_ENV, None)
    printed = subprocess.run(
        [dbt.dbt_executable, "--version"], capture_output=True, text=True, check=True, env=env
    ).stdout
    core = re.search(r"installed:\s*(\d+\.\d+\.\d+)", printed) or re.search(
        r"(\d+\.\d+\.\d+)", printed
    )
    assert core and str(dbt._cli_version) == core.group(1)
    assert dbt._cli_version.major < 2, "dbt Core (not Fusion): dagster-dbt parses its logs"


def test_every_writing_step_waits_for_the_one_duckdb_writer(tmp_path: Path) -> None:
    """Under `make dev` the instance (dagster.yaml) runs one step of the writers' pool at a time,
    and every asset (they all write the warehouse) is in that pool."""
    graph = defs.resolve_asset_graph()
    pools = {
        key.to_user_string(): graph.get(key).assets_def.op.pool
        for key in graph.materializable_asset_keys
    }
    assert pools and set(pools.values()) == {"duckdb_writer"}, pools
    shipped = Path(__file__).parent.parent / "dagster.yaml"
    (tmp_path / "dagster.yaml").write_text(shipped.read_text())
    instance = dg.DagsterInstance.from_config(str(tmp_path))
    try:
        assert instance.get_concurrency_config().pool_config.default_pool_limit == 1
    finally:
        instance.dispose()


def test_older_dbt_run_targets_are_removed_but_the_newest_and_current(tmp_path: Path) -> None:
    def folder(name: str, mtime: int) -> Path:
        path = tmp_path / name
        (path / "run").mkdir(parents=True)
        os.utime(path, (mtime, mtime))
        return path

    olds = [folder(f"meterr_dbt_models-run{i:04d}-abcdef{i}", 1_000 + i) for i in range(8)]
    # The current run's folder is kept even when its clock says older than the rest.
    current = folder("meterr_dbt_models-cur0000-1234567", 10)
    other_op = folder("other_models-run0000-abcdefg", 5)
    removed = prune_run_targets(current, keep=3)
    kept = {p.name for p in tmp_path.iterdir()}
    assert kept == {current.name, olds[7].name, olds[6].name, other_op.name}
    assert sorted(removed) == sorted(olds[:6])
