"""The drop-folder format registry: detection order matters (most specific first, ``custom`` last)."""

from __future__ import annotations

from ingest.formats.base import ExportFormat, FormatError, Sample
from ingest.formats.custom import FORMAT as CUSTOM

# Export-hub formats register here, most specific signature first; custom is the catch-all.
FORMATS: tuple[ExportFormat, ...] = (CUSTOM,)


def by_name(name: str) -> ExportFormat:
    """The registered format called ``name``."""
    for fmt in FORMATS:
        if fmt.name == name:
            return fmt
    raise KeyError(name)


def detect_format(sample: Sample) -> ExportFormat | None:
    """The first registered format whose ``detect`` accepts the sample, or None."""
    for fmt in FORMATS:
        if fmt.detect(sample):
            return fmt
    return None


__all__ = ["FORMATS", "ExportFormat", "FormatError", "Sample", "by_name", "detect_format"]
