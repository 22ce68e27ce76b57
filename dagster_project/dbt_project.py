"""The dbt project as Dagster sees it, and making sure its manifest exists before definitions load.

dagster-dbt reads ``target/manifest.json`` at import time; ``prepare_if_dev`` only parses under
``dagster dev``. So ``ensure_manifest`` parses when the manifest is missing or older than any model,
seed, macro or project file (the Makefile also parses at install time).
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

from dagster_dbt import DbtProject

from ingest.paths import meterr_home
from ingest.warehouse import dbt_environment

DBT_DIR = Path(__file__).resolve().parent.parent / "dbt_project"

dbt_project = DbtProject(project_dir=DBT_DIR, profiles_dir=DBT_DIR)

# The dbt installed beside this Python (the venv's), so no PATH set-up is needed.
_VENV_DBT = Path(sys.executable).with_name("dbt")
DBT_EXECUTABLE = str(_VENV_DBT) if _VENV_DBT.exists() else "dbt"


def _newest_source_mtime() -> float:
    newest = 0.0
    for folder in ("models", "macros", "seeds", "tests", "snapshots"):
        for path in (DBT_DIR / folder).rglob("*"):
            if path.is_file():
                newest = max(newest, path.stat().st_mtime)
    for name in ("dbt_project.yml", "profiles.yml"):
        path = DBT_DIR / name
        if path.exists():
            newest = max(newest, path.stat().st_mtime)
    return newest


def dbt_env(warehouse: Path | None = None) -> dict[str, str]:
    """Environment for a dbt process: this one's, plus what profiles.yml reads."""
    return {**os.environ, **dbt_environment(warehouse or meterr_home().warehouse)}


def _parse_vars() -> list[str]:
    # Parse with the vars the builds will pass, so a build's partial parse can reuse this parse
    # (dbt re-parses the whole project, ~5 s, when vars differ). A broken settings file must not
    # stop the definitions from loading: the build reports it.
    from ingest.settings import SettingsError, dbt_vars

    try:
        return ["--vars", json.dumps(dbt_vars(meterr_home()))]
    except SettingsError:
        return []


def ensure_manifest(*, force: bool = False) -> Path:
    """Return the manifest path, running ``dbt parse`` first if it is missing or stale."""
    manifest = dbt_project.manifest_path
    fresh = manifest.exists() and manifest.stat().st_mtime >= _newest_source_mtime()
    if fresh and not force:
        return manifest
    command = [
        DBT_EXECUTABLE,
        "parse",
        "--quiet",
        *_parse_vars(),
        "--project-dir",
        str(DBT_DIR),
        "--profiles-dir",
        str(DBT_DIR),
    ]
    done = subprocess.run(command, env=dbt_env(), capture_output=True, text=True, check=False)
    if done.returncode != 0 or not manifest.exists():
        raise RuntimeError(f"dbt parse failed:\n{done.stdout}\n{done.stderr}")
    return manifest


if __name__ == "__main__":
    # `python -m dagster_project.dbt_project`: parse now (the Makefile's install step).
    print(ensure_manifest(force=True))
