"""The drop-folder format registry: detection order matters (most specific first, custom last).

Signatures, in order (all from content: a CSV header or the first JSON record's keys):

* ``openai_cost_csv``: CSV with ``start_time``, ``end_time``, ``amount_value``;
* ``openai_usage_csv``: CSV whose first four columns are the OpenAI time columns (no amount);
* ``anthropic_usage_csv``: CSV with ``usage_date_utc``, ``model_version``, ``usage_output_tokens``;
* ``anthropic_cost_csv``: CSV with ``usage_date_utc``, ``model``, ``cost_usd``;
* ``litellm``: ``request_id`` + ``spend`` + ``startTime`` (Helicone has request ids, never spend);
* ``langfuse``: ``id`` + ``traceId`` + ``startTime`` (+ ``usageDetails`` or ``type``);
* ``helicone``: a request/response id and a request/response time, or ``heliconeMetadata``;
* ``custom``: ``timestamp`` + ``provider`` + ``model`` (none of the exports above has
  ``timestamp``), the catch-all.
"""

from __future__ import annotations

from ingest.formats.anthropic_cost_csv import FORMAT as ANTHROPIC_COST_CSV
from ingest.formats.anthropic_usage_csv import FORMAT as ANTHROPIC_USAGE_CSV
from ingest.formats.base import CellTypeError, ExportFormat, FormatError, Sample
from ingest.formats.custom import FORMAT as CUSTOM
from ingest.formats.helicone import FORMAT as HELICONE
from ingest.formats.langfuse import FORMAT as LANGFUSE
from ingest.formats.litellm import FORMAT as LITELLM
from ingest.formats.openai_cost_csv import FORMAT as OPENAI_COST_CSV
from ingest.formats.openai_usage_csv import FORMAT as OPENAI_USAGE_CSV

# Most specific signature first; custom is the catch-all and stays last.
FORMATS: tuple[ExportFormat, ...] = (
    OPENAI_COST_CSV,
    OPENAI_USAGE_CSV,
    ANTHROPIC_USAGE_CSV,
    ANTHROPIC_COST_CSV,
    LITELLM,
    LANGFUSE,
    HELICONE,
    CUSTOM,
)


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


__all__ = [
    "FORMATS",
    "CellTypeError",
    "ExportFormat",
    "FormatError",
    "Sample",
    "by_name",
    "detect_format",
]
