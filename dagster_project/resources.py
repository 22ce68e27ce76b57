"""Dagster resources: where meterr's runtime folder is, and the drop folder seen by the sensor."""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from importlib.metadata import version
from pathlib import Path

import dagster as dg
from dagster_dbt import DbtCliResource
from packaging.version import Version

from ingest.drop import is_candidate
from ingest.paths import MeterrHome, meterr_home


class MeterrSettings(dg.ConfigurableResource):
    """Runtime settings. ``home`` None means ``$METERR_HOME`` (default ``./data``), read at run
    time rather than import time so one code location serves any environment."""

    home: str | None = None

    def layout(self) -> MeterrHome:
        return meterr_home(self.home).ensure()


@dataclass(frozen=True)
class DroppedFile:
    """A file waiting in the drop folder, as the sensor sees it (it never opens DuckDB)."""

    path: Path
    relative: str
    size: int
    mtime_ns: int


class DropFolder(dg.ConfigurableResource):
    """The watched folder, behind a small resource so the sensor can be tested on any directory."""

    home: str | None = None

    def root(self) -> Path:
        return meterr_home(self.home).drop

    def list_files(self) -> list[DroppedFile]:
        root = self.root()
        if not root.exists():
            return []
        found = []
        for path in sorted(root.rglob("*")):
            if not is_candidate(path):
                continue
            stat = path.stat()
            found.append(
                DroppedFile(path, str(path.relative_to(root)), stat.st_size, stat.st_mtime_ns)
            )
        return found

    @staticmethod
    def digest(path: Path) -> str:
        sha = hashlib.sha256()
        with open(path, "rb") as handle:
            while chunk := handle.read(1024 * 1024):
                sha.update(chunk)
        return sha.hexdigest()


class MeterrDbtCli(DbtCliResource):
    """dagster-dbt's dbt resource without two start-up costs meterr does not use.

    Before every invocation ``DbtCliResource`` runs ``dbt --version`` in a subprocess (about 2 s
    here: a whole dbt start-up) and opens a dbt adapter inside the Dagster process (about 4 s)
    for row-count and column metadata, which meterr never asks for (it only streams events). The
    executable is the dbt-core installed beside this Python (``DBT_EXECUTABLE``), so its version
    is read from the package metadata, and with no adapter dagster-dbt skips that metadata, as it
    does when the adapter cannot be opened.
    """

    @property
    def _cli_version(self) -> Version:  # type: ignore[override]
        return Version(version("dbt-core"))

    def _initialize_dbt_core_adapter(self, args):  # type: ignore[override]
        return None
