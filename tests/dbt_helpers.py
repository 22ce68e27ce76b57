"""Running the real dbt project against a throwaway warehouse, for tests.

dbt runs as a child process (its global state and logging stay out of pytest) with the variables
profiles.yml reads pointing at the temp warehouse, and with its target and log folders in the temp
directory too, so a test never rewrites the ``dbt_project/target/manifest.json`` that Dagster
reads.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections.abc import Iterable, Mapping, Sequence
from pathlib import Path
from typing import Any

import duckdb

from ingest.drop import ensure_raw_tables
from ingest.formats.custom import FORMAT as CUSTOM
from ingest.providers import sync
from ingest.warehouse import dbt_environment

DBT_PROJECT_DIR = Path(__file__).resolve().parents[1] / "dbt_project"

# dbt's console script is `dbt.cli.main:cli`; calling it through this interpreter finds the venv's
# dbt without relying on PATH.
_DBT_MAIN = "import sys; from dbt.cli.main import cli; sys.exit(cli())"


def create_raw_custom_usage(warehouse: Path, rows: Iterable[Mapping[str, Any]] = ()) -> None:
    """Create ``warehouse`` with an (optionally filled) ``raw.custom_usage`` as ingest shapes it.

    Every other registered raw table is created empty, as meterr does before dbt runs, so every
    dbt source resolves. Each row maps raw column names to values; columns left out are NULL.
    """
    warehouse.parent.mkdir(parents=True, exist_ok=True)
    con = duckdb.connect(str(warehouse))
    try:
        con.execute("SET TimeZone = 'UTC'")
        con.execute("CREATE SCHEMA IF NOT EXISTS raw")
        con.execute(CUSTOM.create_sql(CUSTOM.qualified_table))
        ensure_raw_tables(con)
        for row in rows:
            names = ", ".join(f'"{name}"' for name in row)
            marks = ", ".join("?" for _ in row)
            con.execute(
                f"INSERT INTO {CUSTOM.qualified_table} ({names}) VALUES ({marks})",
                list(row.values()),
            )
    finally:
        con.close()


def prepare_warehouse(warehouse: Path, custom_rows: Iterable[Mapping[str, Any]] = ()) -> None:
    """Every raw and meta table the project reads, as meterr creates them before dbt runs, with
    ``custom_rows`` in ``raw.custom_usage`` (see :func:`create_raw_custom_usage`)."""
    create_raw_custom_usage(warehouse, custom_rows)
    con = duckdb.connect(str(warehouse))
    try:
        con.execute("CREATE SCHEMA IF NOT EXISTS meta")
        ensure_raw_tables(con, [endpoint.table for endpoint in sync.ENDPOINTS.values()])
        sync.ensure_meta_tables(con)
    finally:
        con.close()


def run_dbt(
    args: Sequence[str],
    warehouse: Path,
    work_dir: Path,
    *,
    dbt_vars: Mapping[str, Any] | None = None,
    timeout_s: float = 600,
) -> subprocess.CompletedProcess[str]:
    """Run ``dbt <args>`` on the project against ``warehouse``, target/ and logs/ in ``work_dir``.

    Returns the finished process (check ``returncode``; stdout holds dbt's log).
    """
    command = [
        sys.executable,
        "-c",
        _DBT_MAIN,
        *args,
        "--project-dir",
        str(DBT_PROJECT_DIR),
        "--profiles-dir",
        str(DBT_PROJECT_DIR),
        "--target-path",
        str(work_dir / "target"),
        "--log-path",
        str(work_dir / "logs"),
    ]
    if dbt_vars:
        command += ["--vars", json.dumps(dict(dbt_vars))]
    env = {
        **os.environ,
        **dbt_environment(warehouse),
        "DBT_SEND_ANONYMOUS_USAGE_STATS": "false",
    }
    return subprocess.run(
        command, env=env, capture_output=True, text=True, timeout=timeout_s, check=False
    )


def query(warehouse: Path, sql: str) -> list[tuple[Any, ...]]:
    """All rows of ``sql`` over a read-only connection to ``warehouse``."""
    con = duckdb.connect(str(warehouse), read_only=True)
    try:
        return con.execute(sql).fetchall()
    finally:
        con.close()
