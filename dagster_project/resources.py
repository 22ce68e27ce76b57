"""Dagster resources: where meterr's runtime folder is, and the drop folder seen by the sensor."""

from __future__ import annotations

import hashlib
import os
import sys
from dataclasses import dataclass
from importlib.metadata import version
from pathlib import Path

import dagster as dg
from dagster_dbt import DbtCliResource
from packaging.version import Version
from pydantic import PrivateAttr

from dagster_project import dbt_warm
from dagster_project.dbt_project import DBT_EXECUTABLE
from dagster_project.dbt_warm import PYTHON_ENV, REAL_DBT_ENV, WarmDbt
from ingest.drop import FileOutcome, is_dangling_link, scan_drop_folder
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

    def scan(self) -> tuple[list[DroppedFile], list[FileOutcome]]:
        """The files waiting in ``drop/`` and the folders there whose files cannot be reached
        (``skipped`` outcomes): the walk a whole-folder run makes (:func:`scan_drop_folder`)."""
        home = meterr_home(self.home)
        files, skipped = scan_drop_folder(home)
        found = []
        for path in files:
            try:
                # A symbolic link to nothing is listed by its own times (its run quarantines it).
                stat = path.lstat() if is_dangling_link(path) else path.stat()
            except FileNotFoundError:
                continue  # taken away since it was listed (a run archived it)
            found.append(
                DroppedFile(path, str(path.relative_to(home.drop)), stat.st_size, stat.st_mtime_ns)
            )
        return found, skipped

    @staticmethod
    def digest(path: Path) -> str:
        sha = hashlib.sha256()
        with open(path, "rb") as handle:
            while chunk := handle.read(1024 * 1024):
                sha.update(chunk)
        return sha.hexdigest()


class MeterrDbtCli(DbtCliResource):
    """dagster-dbt's dbt resource without two start-up costs meterr does not use, and with dbt's
    own start-up paid ahead.

    Before every invocation ``DbtCliResource`` runs ``dbt --version`` in a subprocess (about 2 s
    here: a whole dbt start-up) and opens a dbt adapter inside the Dagster process (about 4 s)
    for row-count and column metadata, which meterr never asks for (it only streams events). The
    executable is the dbt-core installed beside this Python (``DBT_EXECUTABLE``), so its version
    is read from the package metadata, and with no adapter dagster-dbt skips that metadata, as it
    does when the adapter cannot be opened.

    The executable dagster-dbt launches is the warm-dbt client (:mod:`dagster_project.dbt_warm`):
    the resource starts a dbt process when the run starts, which imports dbt while the run loads
    files, and the build's command runs in it.
    """

    _warm: WarmDbt | None = PrivateAttr(default=None)
    _spent: list[WarmDbt] = PrivateAttr(default_factory=list)

    @property
    def _cli_version(self) -> Version:  # type: ignore[override]
        return Version(version("dbt-core"))

    def setup_for_execution(self, context: dg.InitResourceContext) -> None:
        super().setup_for_execution(context)
        # A run that uses dbt builds after loading: dbt's imports happen meanwhile, ahead.
        self._warm = dbt_warm.take()

    def teardown_after_execution(self, context: dg.InitResourceContext) -> None:
        for warm in [self._warm, *self._spent]:
            if warm is not None:
                warm.stop()
        self._warm, self._spent = None, []

    @staticmethod
    def client_env() -> dict[str, str]:
        """What the warm-dbt client needs besides a socket: the Python to run it with and the
        real dbt to run when there is no warm process."""
        return {REAL_DBT_ENV: DBT_EXECUTABLE, PYTHON_ENV: sys.executable}

    def cli(self, args, **kwargs):  # type: ignore[override]
        """dagster-dbt's ``cli``, its process handed to the warm dbt process when there is one
        (the client falls back to the real dbt otherwise)."""
        client_env = self.client_env()
        if self._warm is not None:
            client_env.update(self._warm.env())
            # One command per warm process; teardown waits for it and removes its folder.
            self._spent.append(self._warm)
            self._warm = None
        saved = {name: os.environ.get(name) for name in client_env}
        os.environ.update(client_env)
        try:
            return super().cli(args, **kwargs)  # the process has started when this returns
        finally:
            for name, value in saved.items():
                if value is None:
                    os.environ.pop(name, None)
                else:
                    os.environ[name] = value

    def _initialize_dbt_core_adapter(self, args):  # type: ignore[override]
        return None
