"""The loader's fast passes give exactly what the slow, row-numbered text pass gives (real DuckDB).

A well-formed export is loaded in one streaming pass (counts read as numbers where the format
allows it); only a file that pass cannot take exactly is read again as numbered text, which
reports bad rows. These tests pin that the shortcut changes nothing but the time: same rows, same
values, and bad values still reported by row.
"""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import duckdb
import pytest

from ingest.formats import by_name, reading
from ingest.formats.base import FormatError
from ingest.loading import create_pending

FIXTURES = Path(__file__).parent / "fixtures" / "exports"
REQUEST_LEVEL = [
    ("helicone", "helicone/data.csv"),
    ("helicone", "helicone/data.jsonl"),
    ("helicone", "helicone/output.csv"),
    ("helicone", "helicone/output.json"),
    ("helicone", "helicone/output.jsonl"),
    ("langfuse", "langfuse/1760256000000-lf-observations-export-proj_lf_1.csv"),
    ("langfuse", "langfuse/1760342400000-lf-observations-export-proj_lf_1.jsonl"),
    ("langfuse", "langfuse/1760428800000-lf-observations-export-proj_lf_2.json"),
    ("litellm", "litellm/LiteLLM_SpendLogs.csv"),
    ("litellm", "litellm/spend_logs.json"),
]


def _rows(path: Path, format_name: str) -> list[tuple]:
    """The pending rows a format's loader makes of ``path``, in file order (load time left out)."""
    fmt = by_name(format_name)
    with duckdb.connect() as con:
        pending = create_pending(con, fmt)
        fmt.load(con, path, pending, "sha")
        columns = [c for c in fmt.all_columns if c not in ("_loaded_at", "_row_number")]
        names = ", ".join(f'"{c}"' for c in columns)
        return con.execute(f"SELECT {names} FROM {pending} ORDER BY rowid").fetchall()


def _without_typed_pass(monkeypatch: pytest.MonkeyPatch) -> None:
    original = reading.load_usage

    def text_only(*args, numeric=(), **kwargs):
        return original(*args, **kwargs)

    for module in ("helicone", "langfuse", "litellm"):
        monkeypatch.setattr(f"ingest.formats.{module}.load_usage", text_only)


def _without_text_pass(monkeypatch: pytest.MonkeyPatch) -> None:
    def refuse(*args, **kwargs):
        raise AssertionError("the text pass ran")

    monkeypatch.setattr(reading, "insert_typed", refuse)


@pytest.mark.parametrize(("format_name", "fixture"), REQUEST_LEVEL)
def test_typed_pass_loads_the_same_rows_as_the_text_pass(
    format_name: str, fixture: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    fast = _rows(FIXTURES / fixture, format_name)
    assert fast, "the fixture has rows"
    with monkeypatch.context() as patch:
        _without_typed_pass(patch)
        slow = _rows(FIXTURES / fixture, format_name)
    assert fast == slow


@pytest.mark.parametrize("fixture", ["helicone/output.jsonl", "litellm/spend_logs.json"])
def test_plain_exports_take_the_typed_pass(fixture: str, monkeypatch: pytest.MonkeyPatch) -> None:
    """The typed pass really carries ordinary files (else the test above compares text to text)."""
    _without_text_pass(monkeypatch)
    assert _rows(FIXTURES / fixture, fixture.split("/")[0])


@pytest.mark.parametrize("value", [12.5, True, "1e3", "12 tokens"])
def test_a_count_that_is_not_a_whole_number_is_reported_by_row(
    value: object, tmp_path: Path
) -> None:
    """What the text pass rejects, the typed pass must not quietly accept (JSON ``true`` would
    cast to 1, ``1e3`` to 1000)."""
    records = [
        json.loads(line)
        for line in (FIXTURES / "helicone/output.jsonl").read_text().splitlines()
        if line.strip()
    ]
    records[1]["prompt_tokens"] = value
    path = tmp_path / "export.jsonl"
    path.write_text("".join(json.dumps(r) + "\n" for r in records))
    with pytest.raises(FormatError) as err:
        _rows(path, "helicone")
    assert "row 2: prompt_tokens" in str(err.value)


def test_counts_written_as_text_still_load(tmp_path: Path) -> None:
    """A count given as a JSON string ("12") or as "12.0" is fine, as in the text pass."""
    records = [
        json.loads(line)
        for line in (FIXTURES / "helicone/output.jsonl").read_text().splitlines()
        if line.strip()
    ]
    expected = _rows(FIXTURES / "helicone/output.jsonl", "helicone")
    records[0]["prompt_tokens"] = f"{records[0]['prompt_tokens']}.0"
    records[1]["completion_tokens"] = str(records[1]["completion_tokens"])
    records[2]["total_tokens"] = f" {records[2]['total_tokens']} "
    path = tmp_path / "export.jsonl"
    path.write_text("".join(json.dumps(r) + "\n" for r in records))
    assert _rows(path, "helicone") == expected


def test_fast_pass_keeps_file_order_for_row_numbers(tmp_path: Path) -> None:
    path = tmp_path / "logs.json"
    shutil.copyfile(FIXTURES / "litellm/spend_logs.json", path)
    fmt = by_name("litellm")
    with duckdb.connect() as con:
        pending = create_pending(con, fmt)
        fmt.load(con, path, pending, "sha")
        query = f"SELECT request_id FROM {pending} ORDER BY rowid"
        ids = [r[0] for r in con.execute(query).fetchall()]
    in_file = [r["request_id"] for r in json.loads(path.read_text())]
    assert ids == in_file
