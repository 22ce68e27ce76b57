"""Dagster resources: where meterr's runtime folder is, and the drop folder seen by the sensor."""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from pathlib import Path

import dagster as dg

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
