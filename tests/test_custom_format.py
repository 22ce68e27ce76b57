"""meterr's custom format: schema file and code agree, detection, loading CSV/JSONL/JSON arrays."""

from __future__ import annotations

import json
from decimal import Decimal
from importlib.resources import files
from pathlib import Path

import duckdb
import pytest

from ingest.formats import FormatError, detect_format
from ingest.formats.custom import FIELDS, FORMAT, REQUIRED
from ingest.unpack import read_sample
from tests.conftest import usage_row, write_custom_csv


def _schema() -> dict:
    return json.loads(files("ingest").joinpath("schemas/custom_usage.schema.json").read_text())


def test_schema_file_matches_the_loader() -> None:
    schema = _schema()
    assert list(schema["properties"]) == list(FIELDS)
    assert schema["required"] == list(REQUIRED)


def _load(path: Path) -> duckdb.DuckDBPyConnection:
    con = duckdb.connect()
    con.execute("SET TimeZone='UTC'")
    con.execute(FORMAT.create_sql("pending", temp=True))
    FORMAT.load(con, path, "pending", "sha")
    return con


def test_csv_round_trip_keeps_every_value(tmp_path: Path) -> None:
    rows = [usage_row(i, cost_usd="0.001234567891") for i in range(5)]
    con = _load(write_custom_csv(tmp_path / "u.csv", rows))
    got = con.execute(
        "SELECT sum(input_tokens), sum(cached_input_tokens), sum(output_tokens), sum(cost_usd), "
        "count(DISTINCT request_id) FROM pending"
    ).fetchone()
    assert got == (
        sum(r["input_tokens"] for r in rows),
        sum(r["cached_input_tokens"] for r in rows),
        sum(r["output_tokens"] for r in rows),
        Decimal("0.001234567891") * 5,
        5,
    )


def test_jsonl_and_json_array_with_offsets_and_missing_optionals(tmp_path: Path) -> None:
    records = [
        {
            "timestamp": "2026-10-01T23:30:00-02:00",
            "provider": "Anthropic",
            "model": "claude-x",
            "output_tokens": 7,
        },
        {
            "timestamp": "2026-10-02",
            "provider": "openai",
            "model": "gpt-4o",
            "input_tokens": 3,
            "cost_usd": 0.5,
            "prompt": "never stored",
        },
    ]
    jsonl = tmp_path / "u.jsonl"
    jsonl.write_text("\n".join(json.dumps(r) for r in records) + "\n")
    array = tmp_path / "u.json"
    array.write_text(json.dumps(records))
    for path in (jsonl, array):
        con = _load(path)
        got = con.execute(
            "SELECT provider, timestamp::VARCHAR, input_tokens, output_tokens, cost_usd "
            "FROM pending ORDER BY rowid"
        ).fetchall()
        # -02:00 at 23:30 is 01:30 UTC the next day; provider is lower-cased.
        assert got == [
            ("anthropic", "2026-10-02 01:30:00", None, 7, None),
            ("openai", "2026-10-02 00:00:00", 3, None, Decimal("0.5")),
        ]


def test_bad_cells_fail_the_whole_file_with_row_numbers(tmp_path: Path) -> None:
    rows = [usage_row(0), usage_row(1, input_tokens="12x"), usage_row(2, timestamp="yesterday")]
    with pytest.raises(FormatError) as err:
        _load(write_custom_csv(tmp_path / "bad.csv", rows))
    assert "2 row(s)" in str(err.value)
    assert "row 2: input_tokens='not an integer: 12x'" in str(err.value)
    assert "row 3: timestamp='yesterday'" in str(err.value)


def test_counts_must_be_whole_numbers_not_rounded(tmp_path: Path) -> None:
    """12.0 is a count; 12.5, 0.6 or 1e3 are refused with their row (never rounded and loaded),
    in CSV cells and JSON numbers alike, as every other format does."""
    rows = [
        usage_row(0, input_tokens="12.0"),
        usage_row(1, input_tokens="12.5"),
        usage_row(2, request_count="0.6"),
        usage_row(3, output_tokens="1e3"),
    ]
    with pytest.raises(FormatError) as err:
        _load(write_custom_csv(tmp_path / "fractions.csv", rows))
    message = str(err.value)
    assert "3 row(s)" in message
    assert "row 2: input_tokens='not an integer: 12.5'" in message
    assert "row 3: request_count='not an integer: 0.6'" in message
    assert "row 4: output_tokens='not an integer: 1e3'" in message
    record = {"timestamp": "2026-10-02", "provider": "openai", "model": "gpt-4o"}
    jsonl = tmp_path / "fractions.jsonl"
    jsonl.write_text(
        json.dumps({**record, "input_tokens": 12.0})
        + "\n"
        + json.dumps({**record, "input_tokens": 12.5})
        + "\n"
    )
    with pytest.raises(FormatError, match=r"row 2: input_tokens='not an integer: 12.5'"):
        _load(jsonl)
    jsonl.write_text(json.dumps({**record, "input_tokens": 12.0, "request_count": 3}) + "\n")
    assert _load(jsonl).execute("SELECT input_tokens, request_count FROM pending").fetchall() == [
        (12, 3)
    ]


def test_csv_header_in_capitals_as_warehouses_unload_it(tmp_path: Path) -> None:
    """Snowflake and Oracle write unquoted column names in capitals: such a header is the same
    columns, detected and loaded."""
    path = tmp_path / "unload.csv"
    path.write_text(
        "TIMESTAMP,PROVIDER,MODEL,Input_Tokens,OUTPUT_TOKENS,REQUEST_ID,COST_USD\n"
        "2026-10-01T10:00:00Z,OpenAI,gpt-4o,1200,300,r-1,0.0042\n"
    )
    assert detect_format(read_sample(path, path.name)) is FORMAT
    got = _load(path).execute(
        "SELECT timestamp, provider, model, input_tokens, output_tokens, request_id, cost_usd "
        "FROM pending"
    ).fetchall()
    assert [row[1:] for row in got] == [("openai", "gpt-4o", 1200, 300, "r-1", Decimal("0.0042"))]
    assert str(got[0][0]).startswith("2026-10-01 10:00:00")


def test_missing_required_column_is_a_clear_error(tmp_path: Path) -> None:
    path = tmp_path / "x.csv"
    path.write_text("timestamp,provider,model\n2026-10-01,openai,gpt-4o\n")
    assert detect_format(read_sample(path, path.name)) is FORMAT
    path.write_text("timestamp,provider,input_tokens\n2026-10-01,openai,5\n")
    assert detect_format(read_sample(path, path.name)) is None


def test_detection_reads_content_not_the_name(tmp_path: Path) -> None:
    path = write_custom_csv(tmp_path / "whatever.bin", [usage_row(1)])
    assert detect_format(read_sample(path, path.name)) is FORMAT
