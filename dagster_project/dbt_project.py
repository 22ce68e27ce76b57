"""The dbt project as Dagster sees it, and making sure its manifest exists before definitions load.

dagster-dbt reads ``target/manifest.json`` at import time; ``prepare_if_dev`` only parses under
``dagster dev``. So ``ensure_manifest`` parses when the manifest is missing or older than any model,
seed, macro or project file (the Makefile also parses at install time).
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

from dagster_dbt import DbtProject

from ingest.paths import meterr_home

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
    """Environment for a dbt process: the warehouse path profiles.yml reads, absolute."""
    env = dict(os.environ)
    env["METERR_WAREHOUSE"] = str(warehouse or meterr_home().warehouse)
    return env


def ensure_manifest() -> Path:
    """Return the manifest path, running ``dbt parse`` first if it is missing or stale."""
    manifest = dbt_project.manifest_path
    if manifest.exists() and manifest.stat().st_mtime >= _newest_source_mtime():
        return manifest
    command = [DBT_EXECUTABLE, "parse", "--quiet",
               "--project-dir", str(DBT_DIR), "--profiles-dir", str(DBT_DIR)]
    done = subprocess.run(command, env=dbt_env(), capture_output=True, text=True, check=False)
    if done.returncode != 0 or not manifest.exists():
        raise RuntimeError(f"dbt parse failed:\n{done.stdout}\n{done.stderr}")
    return manifest
