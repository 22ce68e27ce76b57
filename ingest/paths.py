"""Where meterr keeps its runtime state: every path under ``$METERR_HOME`` is named here once."""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

DEFAULT_HOME = "./data"


@dataclass(frozen=True)
class MeterrHome:
    """The runtime folder layout of the contract (drop, archive, quarantine, warehouse, reports)."""

    root: Path

    @property
    def drop(self) -> Path:
        return self.root / "drop"

    @property
    def archive(self) -> Path:
        return self.root / "archive"

    @property
    def quarantine(self) -> Path:
        return self.root / "quarantine"

    @property
    def warehouse(self) -> Path:
        return self.root / "warehouse.duckdb"

    @property
    def reports(self) -> Path:
        return self.root / "reports"

    @property
    def weekly_reports(self) -> Path:
        return self.reports / "weekly"

    @property
    def exports(self) -> Path:
        return self.root / "exports"

    @property
    def work(self) -> Path:
        """Scratch space for decompressed members; emptied after each file."""
        return self.root / "work"

    @property
    def dagster_home(self) -> Path:
        return self.root / "dagster"

    def ensure(self) -> MeterrHome:
        """Create every folder of the layout (idempotent) and return self."""
        for folder in (self.drop, self.archive, self.quarantine, self.weekly_reports, self.work):
            folder.mkdir(parents=True, exist_ok=True)
        return self


def meterr_home(root: str | os.PathLike[str] | None = None) -> MeterrHome:
    """The layout rooted at ``root``, else ``$METERR_HOME``, else ``./data`` (made absolute)."""
    chosen = root if root is not None else os.environ.get("METERR_HOME") or DEFAULT_HOME
    return MeterrHome(Path(chosen).expanduser().resolve())
