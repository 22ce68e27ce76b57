"""Shared fixtures: a temporary ``METERR_HOME`` per test, and small custom-format files."""

from __future__ import annotations

import csv
from pathlib import Path

import pytest

from ingest.paths import MeterrHome, meterr_home

CUSTOM_HEADER = [
    "timestamp",
    "provider",
    "model",
    "input_tokens",
    "cached_input_tokens",
    "cache_write_tokens",
    "output_tokens",
    "request_count",
    "cost_usd",
    "request_id",
    "project_id",
    "api_key_id",
    "user_id",
]


@pytest.fixture
def home(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> MeterrHome:
    """A fresh runtime folder, also exported as ``$METERR_HOME`` for code that reads the env."""
    root = tmp_path / "meterr-home"
    monkeypatch.setenv("METERR_HOME", str(root))
    monkeypatch.delenv("OPENAI_ADMIN_KEY", raising=False)
    monkeypatch.delenv("ANTHROPIC_ADMIN_KEY", raising=False)
    return meterr_home(root).ensure()


def write_custom_csv(path: Path, rows: list[dict]) -> Path:
    """Write rows in meterr's custom CSV format (missing fields left empty)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    with open(path, "w", newline="", encoding="utf-8") as handle:
        writer = csv.DictWriter(handle, fieldnames=CUSTOM_HEADER)
        writer.writeheader()
        for row in rows:
            writer.writerow({k: row.get(k, "") for k in CUSTOM_HEADER})
    return path


def usage_row(i: int, **overrides) -> dict:
    """A plausible custom-format usage row; ``i`` varies ids and counts."""
    row = {
        "timestamp": f"2026-10-{1 + i % 28:02d}T{i % 24:02d}:15:00Z",
        "provider": "openai",
        "model": "gpt-4o-mini",
        "input_tokens": 1000 + i,
        "cached_input_tokens": 100 + i,
        "cache_write_tokens": 0,
        "output_tokens": 200 + i,
        "request_count": 1 + i % 3,
        "cost_usd": "",
        "request_id": f"req-{i:05d}",
        "project_id": "proj-a",
        "api_key_id": f"key-{i % 3}",
        "user_id": f"user-{i % 2}",
    }
    row.update(overrides)
    return row
