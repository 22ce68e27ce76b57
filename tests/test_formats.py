"""The export formats: detection from content, exact totals per fixture, dedupe and replace rules,
encodings, archives, and that no prompt or response text reaches the warehouse (real DuckDB).

Fixtures are under ``tests/fixtures/exports/`` (written by hand from the documented formats; the
expected totals below were added up by hand from them). Every file is dropped under a name that
says nothing about its format.
"""

from __future__ import annotations

import codecs
import csv
import gzip
import io
import json
import shutil
import zipfile
from datetime import datetime
from decimal import Decimal
from pathlib import Path

import duckdb
import pytest

from ingest.drop import process_drop_folder
from ingest.formats import FORMATS, by_name, detect_format
from ingest.loading import create_pending
from ingest.paths import MeterrHome
from ingest.unpack import read_sample

FIXTURES = Path(__file__).parent / "fixtures" / "exports"
MARKER = b"ZQXSECRET"

# fixture -> (format, raw table, rows, {column: sum}); sums computed by hand from the fixtures.
EXPECTED: dict[str, tuple[str, str, int, dict[str, object]]] = {
    "openai/cost_2026-09-25_2026-09-27.csv": (
        "openai_cost_csv", "openai_cost_export", 5,
        {"amount_value": Decimal("3.75383598"), "quantity": Decimal("326584")},
    ),
    "openai/cost_2026-09-27_2026-09-29.csv": (
        "openai_cost_csv", "openai_cost_export", 4,
        # 0.000123456789012345678901234567 is kept to 12 decimals.
        {"amount_value": Decimal("2.500123456789"), "quantity": Decimal("210863")},
    ),
    "openai/completions_usage_2026-10-01_2026-10-02.csv": (
        "openai_usage_csv", "openai_usage_export", 3,
        {"num_model_requests": 6, "input_tokens": 8200, "output_tokens": 1700,
         "input_cached_tokens": 2000, "input_uncached_tokens": 6200},
    ),
    "openai/embeddings_usage_2026-10-01_2026-10-01.csv": (
        "openai_usage_csv", "openai_usage_export", 1,
        {"num_model_requests": 40, "input_tokens": 12000, "output_tokens": None},
    ),
    "openai/completions_usage_2026-10-03_2026-10-03.csv": (
        "openai_usage_csv", "openai_usage_export", 0, {"input_tokens": None},
    ),
    "anthropic/claude_api_tokens_2026_10.csv": (
        "anthropic_usage_csv", "anthropic_usage_export", 3,
        {"usage_input_tokens_no_cache": 58181, "usage_input_tokens_cache_write_5m": 15969,
         "usage_input_tokens_cache_write_1h": 500, "usage_input_tokens_cache_read": 3000,
         "usage_output_tokens": 19732, "web_search_count": 2},
    ),
    "anthropic/claude_api_tokens_2025_06.csv": (
        "anthropic_usage_csv", "anthropic_usage_export", 2,
        {"usage_input_tokens_no_cache": 7500, "usage_input_tokens_cache_write": 700,
         "usage_input_tokens_cache_write_5m": None, "usage_input_tokens_cache_read": 1500,
         "usage_output_tokens": 1200},
    ),
    "anthropic/claude_api_cost_2026_10_05_to_2026_10_06.csv": (
        "anthropic_cost_csv", "anthropic_cost_export", 4,
        {"cost_usd": Decimal("0.5245"), "list_price_usd": Decimal("0.3945")},
    ),
    "anthropic/claude_api_cost_2025_06.csv": (
        "anthropic_cost_csv", "anthropic_cost_export", 1, {"cost_usd": Decimal("0.0135")},
    ),
    "helicone/output.jsonl": (
        "helicone", "helicone_requests", 4,
        {"prompt_tokens": 3450, "completion_tokens": 810, "reasoning_tokens": 250,
         "prompt_cache_read_tokens": 300, "prompt_cache_write_tokens": 1500,
         "cost_usd": Decimal("0.02071")},
    ),
    "helicone/output.json": (
        "helicone", "helicone_requests", 4,
        {"prompt_tokens": 3450, "completion_tokens": 810, "reasoning_tokens": 250,
         "cost_usd": Decimal("0.02071")},
    ),
    "helicone/output.csv": (
        "helicone", "helicone_requests", 4,
        # The CLI CSV has no cache/reasoning columns and one empty cost cell.
        {"prompt_tokens": 3450, "completion_tokens": 810, "reasoning_tokens": None,
         "cost_usd": Decimal("0.00181")},
    ),
    "helicone/data.csv": (
        "helicone", "helicone_requests", 2,
        {"prompt_tokens": 850, "completion_tokens": 130, "prompt_cache_read_tokens": 600,
         "cost_usd": Decimal("0.005")},
    ),
    "helicone/data.jsonl": (
        "helicone", "helicone_requests", 1,
        {"prompt_tokens": 300, "completion_tokens": 30, "prompt_cache_read_tokens": 100,
         "cost_usd": Decimal("0.00006")},
    ),
    "langfuse/1760256000000-lf-observations-export-proj_lf_1.csv": (
        "langfuse", "langfuse_observations", 3,
        {"input_tokens": 850, "cache_read_tokens": 3200, "cache_write_tokens": 1200,
         "output_tokens": 600, "total_tokens": 5850, "total_cost": Decimal("0.01655")},
    ),
    "langfuse/1760342400000-lf-observations-export-proj_lf_1.jsonl": (
        "langfuse", "langfuse_observations", 2,
        {"input_tokens": 150, "cache_read_tokens": 80, "cache_write_tokens": 40,
         "output_tokens": 80, "total_cost": Decimal("0.0009007")},
    ),
    "langfuse/1760428800000-lf-observations-export-proj_lf_2.json": (
        "langfuse", "langfuse_observations", 2,
        {"input_tokens": 10, "output_tokens": 5, "total_cost": Decimal("0.00001")},
    ),
    "litellm/LiteLLM_SpendLogs.csv": (
        "litellm", "litellm_spend_logs", 4,
        {"prompt_tokens": 7700, "completion_tokens": 620, "cache_read_input_tokens": 5000,
         "cache_creation_input_tokens": 1200, "spend": Decimal("0.012732")},
    ),
    "litellm/spend_logs.json": (
        "litellm", "litellm_spend_logs", 2,
        {"prompt_tokens": 420, "completion_tokens": 80, "cache_read_input_tokens": 120,
         "cache_creation_input_tokens": None, "spend": Decimal("0.0016")},
    ),
}
# Names that give nothing away (and lie about the format).
NEUTRAL_NAMES = ("data.bin", "export.csv", "download", "report.json")


def _drop(home: MeterrHome, fixture: str, name: str) -> Path:
    target = home.drop / name
    target.parent.mkdir(parents=True, exist_ok=True)
    shutil.copyfile(FIXTURES / fixture, target)
    return target


def _query(home: MeterrHome, sql: str) -> list[tuple]:
    with duckdb.connect(str(home.warehouse), read_only=True) as con:
        return con.execute(sql).fetchall()


def _sums(home: MeterrHome, table: str, columns) -> dict[str, object]:
    cols = list(columns)
    row = _query(home, f"SELECT {', '.join(f'sum({c})' for c in cols)} FROM raw.{table}")[0]
    return dict(zip(cols, row, strict=True))


# --- detection -----------------------------------------------------------------------------


@pytest.mark.parametrize("fixture", sorted(EXPECTED))
def test_exactly_one_format_detects_each_fixture_whatever_its_name(
    fixture: str, tmp_path: Path
) -> None:
    path = tmp_path / "data.bin"
    shutil.copyfile(FIXTURES / fixture, path)
    sample = read_sample(path, "data.bin")
    matching = [fmt.name for fmt in FORMATS if fmt.detect(sample)]
    assert matching == [EXPECTED[fixture][0]], "no export may also look like custom or another"
    assert detect_format(sample).name == EXPECTED[fixture][0]


def test_unknown_csv_is_no_format(tmp_path: Path) -> None:
    path = tmp_path / "x.csv"
    shutil.copyfile(FIXTURES / "bad" / "unknown_format.csv", path)
    assert detect_format(read_sample(path, "x.csv")) is None


def test_first_json_record_longer_than_the_sample_is_still_detected(
    home: MeterrHome,
) -> None:
    record = json.loads((FIXTURES / "helicone/output.jsonl").read_text().splitlines()[0])
    # A long response body comes before the usage keys: the 64 KiB head holds no whole record.
    record["response_body"] = {"text": "ZQXSECRET-LONG-BODY " + "z" * 300_000}
    path = home.drop / "big.jsonl"
    path.write_text(json.dumps(record) + "\n")
    assert detect_format(read_sample(path, "big.jsonl")).name == "helicone"
    [outcome] = process_drop_folder(home, [path])
    assert (outcome.status, outcome.format, outcome.row_count) == ("loaded", "helicone", 1)


def _records(fixture: str) -> list[dict]:
    text = (FIXTURES / fixture).read_text()
    if text.lstrip().startswith("["):
        return json.loads(text)
    return [json.loads(line) for line in text.splitlines() if line.strip()]


@pytest.mark.parametrize(
    ("fixture", "paging"),
    [
        # Helicone's request query answers {"data": [...]}; LiteLLM's /spend/logs/v2 adds paging.
        ("helicone/output.jsonl", {}),
        ("litellm/spend_logs.json", {"total": 2, "page": 1, "page_size": 100, "total_pages": 1}),
    ],
)
def test_a_saved_api_response_loads_its_records(
    fixture: str, paging: dict, home: MeterrHome
) -> None:
    fmt, table, rows, sums = EXPECTED[fixture]
    path = home.drop / "response.json"
    path.write_text(json.dumps({"data": _records(fixture), **paging}, indent=2))
    [outcome] = process_drop_folder(home, [path])
    assert (outcome.status, outcome.format, outcome.row_count) == ("loaded", fmt, rows), outcome
    assert _sums(home, table, sums) == sums
    assert list(home.archive.rglob("response.json")), "the file as dropped is archived"


def test_an_empty_api_response_loads_as_zero_rows_and_other_objects_are_unknown(
    home: MeterrHome,
) -> None:
    (home.drop / "empty.json").write_text('{"data": [], "total": 0}')
    (home.drop / "other.json").write_text('{"data": {"rows": 3}, "status": "ok"}')
    outcomes = {o.name: o for o in process_drop_folder(home)}
    assert (outcomes["empty.json"].status, outcomes["empty.json"].row_count) == ("loaded", 0)
    assert outcomes["other.json"].status == "quarantined"
    assert "no known format" in outcomes["other.json"].reason


def test_an_api_response_over_the_size_cap_is_not_parsed_whole(
    home: MeterrHome, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The README's cap: a {"data": [...]} document larger than it is not unwrapped (it would be
    parsed in memory whole) and is quarantined as an unknown format, bytes kept."""
    monkeypatch.setattr("ingest.unpack.MAX_ENVELOPE_BYTES", 100)
    path = home.drop / "response.json"
    path.write_text(json.dumps({"data": _records("helicone/output.jsonl")}, indent=2))
    data = path.read_bytes()
    [outcome] = process_drop_folder(home, [path])
    assert outcome.status == "quarantined" and "no known format" in outcome.reason
    [kept] = list(home.quarantine.rglob("response.json"))
    assert kept.read_bytes() == data


def test_an_api_response_on_one_line_longer_than_a_record_loads_its_records(
    home: MeterrHome, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A saved response is one document, often one line: its length is the whole response's,
    not a record's (an acceptance probe's 18.7 MB one-line response of 40,000 records was
    refused as a line over the 16 MiB record limit). Here the limit is lowered to 2,000 bytes."""
    monkeypatch.setattr("ingest.unpack.MAX_RECORD_BYTES", 2000)
    fmt, table, rows, sums = EXPECTED["helicone/output.jsonl"]
    response = home.drop / "response.json"
    # Longer than the 64 KiB detection sample too (paging fields can be long: a cursor, a query).
    document = {"data": _records("helicone/output.jsonl"), "query": "q" * 100_000}
    response.write_text(json.dumps(document))
    assert response.read_text().count("\n") == 0
    # One long object that is not a response, and a JSON Lines file whose first line is long.
    other = home.drop / "other.json"
    other.write_text(json.dumps({"rows": ["x" * 100_000]}))
    lines = home.drop / "lines.jsonl"
    lines.write_text(json.dumps({"request_id": "x" * 3000}) + "\n" + '{"request_id": "y"}\n')
    outcomes = {o.name: o for o in process_drop_folder(home, [response, other, lines])}
    loaded = outcomes["response.json"]
    assert (loaded.status, loaded.format, loaded.row_count) == ("loaded", fmt, rows), loaded
    assert _sums(home, table, sums) == sums
    assert "the first JSON record is longer than 2,000 bytes" in outcomes["other.json"].reason
    assert "lines.jsonl: line 1 is longer than 2,000 bytes" in outcomes["lines.jsonl"].reason


# --- exact totals per format ------------------------------------------------------------------


@pytest.mark.parametrize("fixture", sorted(EXPECTED))
def test_each_fixture_loads_with_hand_computed_totals(fixture: str, home: MeterrHome) -> None:
    fmt, table, rows, sums = EXPECTED[fixture]
    name = NEUTRAL_NAMES[sorted(EXPECTED).index(fixture) % len(NEUTRAL_NAMES)]
    [outcome] = process_drop_folder(home, [_drop(home, fixture, name)])
    assert (outcome.status, outcome.format, outcome.row_count) == ("loaded", fmt, rows), outcome
    assert _query(home, f"SELECT count(*) FROM raw.{table}")[0][0] == rows
    assert _sums(home, table, sums) == sums
    ledger = _query(home, "SELECT file_name, format, status, row_count FROM meta.ingested_files")
    assert ledger == [(name, fmt, "loaded", rows)]


def test_empty_openai_usage_export_loads_as_zero_rows(home: MeterrHome) -> None:
    path = _drop(home, "openai/completions_usage_2026-10-03_2026-10-03.csv", "usage.csv")
    [outcome] = process_drop_folder(home, [path])
    assert outcome.line() == "usage.csv: loaded 0 rows"
    assert list(home.archive.rglob("usage.csv")), "an empty export is archived, not quarantined"


def test_openai_usage_columns_are_read_by_name_and_kind_is_inferred(home: MeterrHome) -> None:
    process_drop_folder(home, [
        _drop(home, "openai/completions_usage_2026-10-01_2026-10-02.csv", "a.csv"),
        _drop(home, "openai/embeddings_usage_2026-10-01_2026-10-01.csv", "b.csv"),
    ])
    assert _query(home, """
        SELECT usage_kind, usage_date, sum(input_tokens), count(*), bool_or(batch)
        FROM raw.openai_usage_export GROUP BY ALL ORDER BY ALL
    """) == [
        ("completions", datetime(2026, 10, 1).date(), 7000, 2, False),
        ("completions", datetime(2026, 10, 2).date(), 1200, 1, True),
        ("embeddings", datetime(2026, 10, 1).date(), 12000, 1, None),
    ]
    # Unix seconds are UTC minutes here (1-minute buckets).
    assert _query(home, "SELECT min(start_time), max(end_time) FROM raw.openai_usage_export "
                        "WHERE usage_kind = 'completions'") == [
        (datetime(2026, 10, 1, 10, 0), datetime(2026, 10, 2, 8, 31))
    ]


def test_openai_usage_export_with_its_time_columns_moved_loads_the_same(
    home: MeterrHome,
) -> None:
    """The dashboard puts the four time columns first; a file re-saved with them moved (or the
    documented empty export, reordered) is still the activity export, read by header name."""
    original = FIXTURES / "openai/completions_usage_2026-10-01_2026-10-02.csv"
    rows = list(csv.reader(io.StringIO(original.read_text(encoding="utf-8"))))
    order = list(range(4, len(rows[0]))) + [2, 0, 3, 1]
    moved = home.drop / "moved.csv"
    moved.write_text(
        "".join(",".join(row[i] for i in order) + "\n" for row in rows), encoding="utf-8"
    )
    empty = home.drop / "empty.csv"
    empty.write_text("end_time_iso,start_time,start_time_iso,end_time\n", encoding="utf-8")
    outcomes = {o.name: o for o in process_drop_folder(home, [moved, empty])}
    assert (outcomes["moved.csv"].status, outcomes["moved.csv"].format) == (
        "loaded", "openai_usage_csv"
    ), outcomes["moved.csv"].reason
    assert outcomes["empty.csv"].line() == "empty.csv: loaded 0 rows"
    assert _query(home, """
        SELECT usage_date, sum(input_tokens), sum(output_tokens), count(*)
        FROM raw.openai_usage_export GROUP BY ALL ORDER BY ALL
    """) == [
        (datetime(2026, 10, 1).date(), 7000, 1400, 2),
        (datetime(2026, 10, 2).date(), 1200, 300, 1),
    ]


# --- replace rules ------------------------------------------------------------------------------


def test_newer_openai_cost_export_replaces_the_days_it_covers(home: MeterrHome) -> None:
    process_drop_folder(home, [_drop(home, "openai/cost_2026-09-25_2026-09-27.csv", "old.csv")])
    process_drop_folder(home, [_drop(home, "openai/cost_2026-09-27_2026-09-29.csv", "new.csv")])
    by_day = _query(home, """
        SELECT usage_date, count(*), sum(amount_value) FROM raw.openai_cost_export
        GROUP BY ALL ORDER BY ALL
    """)
    assert by_day == [
        (datetime(2026, 9, 25).date(), 2, Decimal("1.25383598")),
        (datetime(2026, 9, 26).date(), 1, None),  # the empty day of the old export
        (datetime(2026, 9, 27).date(), 2, Decimal("2.5")),  # restated by the new export
        (datetime(2026, 9, 28).date(), 1, Decimal("0.000123456789")),
        (datetime(2026, 9, 29).date(), 1, None),
    ]
    assert _sums(home, "openai_cost_export", ["amount_value"]) == {
        "amount_value": Decimal("3.753959436789")
    }


def test_day_level_export_loaded_last_wins_the_days_both_cover(home: MeterrHome) -> None:
    """The exports carry no export time: the older file loaded after the newer one puts its
    figures back for the day both cover, while the same file dropped again changes nothing."""
    new = _drop(home, "openai/cost_2026-09-27_2026-09-29.csv", "new.csv")
    process_drop_folder(home, [new])
    process_drop_folder(home, [_drop(home, "openai/cost_2026-09-25_2026-09-27.csv", "old.csv")])
    day = (
        "SELECT amount_value FROM raw.openai_cost_export WHERE usage_date = '2026-09-27' "
        "ORDER BY amount_value"
    )
    old_lines = [Decimal("0.5"), Decimal("2.0")]  # the newer export says 0.4 and 2.1
    assert [a for (a,) in _query(home, day)] == old_lines
    [again] = process_drop_folder(
        home, [_drop(home, "openai/cost_2026-09-25_2026-09-27.csv", "old-again.csv")]
    )
    assert again.status == "duplicate"
    assert [a for (a,) in _query(home, day)] == old_lines


def _write_drop(home: MeterrHome, name: str, lines: list[str]) -> Path:
    target = home.drop / name
    target.parent.mkdir(parents=True, exist_ok=True)
    target.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return target


# 2026-10-05 and 2026-10-06, UTC: Unix seconds and ISO, as the dashboard writes the time columns.
OCT5 = "1791158400,1791244800,2026-10-05T00:00:00+00:00,2026-10-06T00:00:00+00:00"
OCT6 = "1791244800,1791331200,2026-10-06T00:00:00+00:00,2026-10-07T00:00:00+00:00"
USAGE_TIME = "start_time,end_time,start_time_iso,end_time_iso"
USAGE_COUNTS = "input_tokens,output_tokens,input_cached_tokens,num_model_requests"
COST_HEADER = (
    "start_time,end_time,start_time_iso,end_time_iso,amount_value,amount_currency,quantity,"
    "quantity_unit,line_item,user_id,api_key_id,project_id,organization_id,project_name,"
    "organization_name,user_email,api_source"
)


def test_openai_usage_day_exported_with_another_grouping_replaces_instead_of_adding_up(
    home: MeterrHome,
) -> None:
    # The same day grouped by model, then by API key: the header changes with the dashboard's
    # group-by, and each file holds the whole day. The second must not be added to the first.
    by_model = _write_drop(home, "by_model.csv", [
        f"{USAGE_TIME},{USAGE_COUNTS},model",
        f"{OCT5},1000,100,0,2,gpt-4o-2024-08-06",
        f"{OCT5},500,50,0,1,gpt-4o-mini-2024-07-18",
        f"{OCT6},700,70,0,1,gpt-4o-2024-08-06",
    ])
    by_key = _write_drop(home, "by_key.csv", [
        f"{USAGE_TIME},{USAGE_COUNTS},api_key_id",
        f"{OCT5},900,90,0,2,key_1",
        f"{OCT5},600,60,0,1,key_2",
    ])
    assert [o.status for o in process_drop_folder(home, [by_model])] == ["loaded"]
    assert [o.status for o in process_drop_folder(home, [by_key])] == ["loaded"]
    assert _query(home, """
        SELECT usage_date, sum(input_tokens), sum(num_model_requests), count(*)
        FROM raw.openai_usage_export GROUP BY ALL ORDER BY ALL
    """) == [
        (datetime(2026, 10, 5).date(), 1500, 3, 2),  # the by-key file's rows only
        (datetime(2026, 10, 6).date(), 700, 1, 1),  # a day only the first file covers stays
    ]


def test_openai_usage_exports_filtered_to_different_projects_add_up(home: MeterrHome) -> None:
    header = f"{USAGE_TIME},{USAGE_COUNTS},project_id,model"
    first = _write_drop(home, "a.csv", [header, f"{OCT5},1000,100,0,2,proj_a,gpt-4o"])
    # proj_b's file also lists a bucket without usage (only its time columns): it says nothing
    # about proj_a.
    second = _write_drop(home, "b.csv", [
        header, f"{OCT5},300,30,0,1,proj_b,gpt-4o", f"{OCT5},,,,,,"
    ])
    restated = _write_drop(home, "c.csv", [header, f"{OCT5},1200,120,0,3,proj_a,gpt-4o"])
    projects = """
        SELECT project_id, input_tokens FROM raw.openai_usage_export
        WHERE input_tokens IS NOT NULL ORDER BY ALL
    """
    for path in (first, second):
        assert [o.status for o in process_drop_folder(home, [path])] == ["loaded"]
    assert _query(home, projects) == [("proj_a", 1000), ("proj_b", 300)]
    assert [o.status for o in process_drop_folder(home, [restated])] == ["loaded"]
    assert _query(home, projects) == [("proj_a", 1200), ("proj_b", 300)]


def test_openai_cost_day_by_line_item_replaces_the_same_day_by_project(home: MeterrHome) -> None:
    by_project = _write_drop(home, "cost_by_project.csv", [
        COST_HEADER,
        f"{OCT5},1.00,usd,,,,,,proj_a,org_1,A,Org,,",
        f"{OCT5},2.00,usd,,,,,,proj_b,org_1,B,Org,,",
        f"{OCT6},5.00,usd,,,,,,proj_a,org_1,A,Org,,",
    ])
    by_line_item = _write_drop(home, "cost_by_line_item.csv", [
        COST_HEADER,
        f"{OCT5},2.50,usd,,,gpt-4o-2024-08-06 input,,,,org_1,,Org,,",
        f"{OCT5},0.50,usd,,,gpt-4o-2024-08-06 output,,,,org_1,,Org,,",
    ])
    for path in (by_project, by_line_item):
        assert [o.status for o in process_drop_folder(home, [path])] == ["loaded"]
    assert _query(home, """
        SELECT usage_date, sum(amount_value), count(*) FROM raw.openai_cost_export
        GROUP BY ALL ORDER BY ALL
    """) == [
        (datetime(2026, 10, 5).date(), Decimal("3.00"), 2),
        (datetime(2026, 10, 6).date(), Decimal("5.00"), 1),
    ]


def test_an_empty_day_of_a_filtered_cost_export_leaves_other_projects_alone(
    home: MeterrHome,
) -> None:
    # Filtered to proj_b (grouped by project), 10-05 has no cost: the export writes the day with
    # only its time columns. That says nothing about proj_a's cost that day.
    # (Without the organization columns, so that only the project tells the rows apart.)
    proj_a = _write_drop(home, "cost_a.csv", [
        COST_HEADER, f"{OCT5},1.00,usd,,,,,,proj_a,,A,,,"
    ])
    proj_b = _write_drop(home, "cost_b.csv", [
        COST_HEADER, f"{OCT5},,,,,,,,,,,,,", f"{OCT6},2.00,usd,,,,,,proj_b,,B,,,"
    ])
    for path in (proj_a, proj_b):
        assert [o.status for o in process_drop_folder(home, [path])] == ["loaded"]
    assert _query(home, """
        SELECT project_id, sum(amount_value) FROM raw.openai_cost_export
        WHERE amount_value IS NOT NULL GROUP BY ALL ORDER BY ALL
    """) == [("proj_a", Decimal("1.00")), ("proj_b", Decimal("2.00"))]
    # The same day exported again without the filter (by line item: no project) does cover it.
    unfiltered = _write_drop(home, "cost_all.csv", [
        COST_HEADER, f"{OCT5},1.25,usd,,,web search,,,,,,,,"
    ])
    assert [o.status for o in process_drop_folder(home, [unfiltered])] == ["loaded"]
    assert _query(home, """
        SELECT usage_date, sum(amount_value) FROM raw.openai_cost_export GROUP BY ALL ORDER BY ALL
    """) == [
        (datetime(2026, 10, 5).date(), Decimal("1.25")),
        (datetime(2026, 10, 6).date(), Decimal("2.00")),
    ]


def test_restated_anthropic_day_replaces_only_its_model_workspace_and_key(
    home: MeterrHome,
) -> None:
    original = (FIXTURES / "anthropic/claude_api_tokens_2026_10.csv").read_text()
    process_drop_folder(home, [_drop(home, "anthropic/claude_api_tokens_2026_10.csv", "a.csv")])
    header = original.splitlines()[0]
    restated = home.drop / "b.csv"
    restated.write_text(
        header + "\n2026-10-05,claude-sonnet-4-5-20250929,Closer App,Default,standard,≤ 200k,"
        "50000,16000,0,0,17000,0,global,\n",
        encoding="utf-8",
    )
    process_drop_folder(home, [restated])
    assert _sums(home, "anthropic_usage_export", ["usage_input_tokens_no_cache"]) == {
        "usage_input_tokens_no_cache": 50000 + 1200 + 10000
    }


def _load_each(home: MeterrHome, contents: list[bytes], *, rows: int) -> None:
    """Drop each file's bytes (under a neutral name) and load it alone; each must load ``rows``."""
    for index, content in enumerate(contents):
        path = home.drop / f"part{index}.dat"
        path.write_bytes(content)
        [outcome] = process_drop_folder(home, [path])
        assert (outcome.status, outcome.row_count) == ("loaded", rows), outcome


@pytest.mark.slow
@pytest.mark.parametrize(
    "order",
    [("jsonl", "csv", "json.gz"), ("csv", "json.gz", "jsonl"), ("json.gz", "jsonl", "csv")],
)
def test_same_helicone_requests_as_csv_jsonl_and_gzipped_json_count_once(
    order: tuple[str, ...], home: MeterrHome
) -> None:
    files = {
        "jsonl": (FIXTURES / "helicone/output.jsonl").read_bytes(),
        "csv": (FIXTURES / "helicone/output.csv").read_bytes(),
        "json.gz": gzip.compress((FIXTURES / "helicone/output.json").read_bytes()),
    }
    _load_each(home, [files[kind] for kind in order], rows=4)
    assert _query(home, "SELECT count(*), count(DISTINCT helicone_id) FROM raw.helicone_requests"
                  ) == [(4, 4)]
    # Whatever the order, the CSV's gaps (model, one cost, cache and reasoning counts, request
    # ids) do not erase what the JSON told.
    assert _sums(home, "helicone_requests", EXPECTED["helicone/output.jsonl"][3]) == (
        EXPECTED["helicone/output.jsonl"][3]
    )
    assert _query(home, "SELECT count(model), count(request_id), count(provider_raw) "
                        "FROM raw.helicone_requests") == [(4, 4, 4)]


def _helicone_ui_csv_without_response_ids() -> bytes:
    """The requests of output.jsonl as a web UI CSV whose row model has no response id (the UI
    export's columns follow the page's row objects): keyed by request id only."""
    columns = [
        "request_id", "request_created_at", "request_model", "provider", "prompt_tokens",
        "prompt_cache_read_tokens", "prompt_cache_write_tokens", "completion_tokens",
        "reasoning_tokens", "cost",
    ]
    out = io.StringIO()
    out.write(",".join(columns) + "\n")
    for line in (FIXTURES / "helicone/output.jsonl").read_text().splitlines():
        record = json.loads(line)
        out.write(",".join("" if record.get(c) is None else str(record[c]) for c in columns))
        out.write("\n")
    return out.getvalue().encode()


@pytest.mark.slow
@pytest.mark.parametrize(
    "order", [("jsonl", "ui", "cli"), ("ui", "jsonl", "cli"), ("cli", "ui", "jsonl")]
)
def test_helicone_requests_known_by_request_id_only_count_once(
    order: tuple[str, ...], home: MeterrHome
) -> None:
    files = {
        "jsonl": (FIXTURES / "helicone/output.jsonl").read_bytes(),
        "ui": _helicone_ui_csv_without_response_ids(),
        "cli": (FIXTURES / "helicone/output.csv").read_bytes(),
    }
    _load_each(home, [files[kind] for kind in order], rows=4)
    # The CLI CSV (response ids only) and the UI CSV (request ids only) share no id; once the
    # JSONL (both) has come, in any order, each request is one row keyed by its response id.
    assert _query(home, "SELECT count(*), count(DISTINCT helicone_id), count(DISTINCT request_id) "
                        "FROM raw.helicone_requests") == [(4, 4, 4)]
    assert _query(home, "SELECT count(*) FROM raw.helicone_requests "
                        "WHERE helicone_id LIKE 'b1%'") == [(4,)]
    assert _sums(home, "helicone_requests", EXPECTED["helicone/output.jsonl"][3]) == (
        EXPECTED["helicone/output.jsonl"][3]
    )


def test_helicone_fields_and_provider_mapping(home: MeterrHome) -> None:
    process_drop_folder(home, [_drop(home, "helicone/output.jsonl", "x")])
    rows = _query(home, """
        SELECT request_id, request_created_at, provider, provider_raw, model, request_user_id
        FROM raw.helicone_requests ORDER BY request_created_at
    """)
    assert rows[1] == (
        "a1000000-0000-4000-8000-000000000002", datetime(2026, 10, 10, 12, 5, 0, 123000),
        "anthropic", "anthropic", "claude-sonnet-4-5-20250929", "user-8",
    )
    # A self-hosted provider is kept verbatim but maps to no known provider (NULL, not a failure).
    assert rows[3][2:4] == (None, "local")
    assert rows[2][5] is None, "an empty user id is NULL"
    # The response id is kept as the key (helicone_id), not in a column of its own; the response
    # time and Helicone's total (the sum of the counts kept) are not kept at all.
    assert _query(home, "SELECT helicone_id, request_id FROM raw.helicone_requests "
                        "ORDER BY request_created_at LIMIT 1") == [(
        "b1000000-0000-4000-8000-000000000001", "a1000000-0000-4000-8000-000000000001")]
    columns = {name for (name,) in _query(
        home, "SELECT column_name FROM duckdb_columns() WHERE table_name = 'helicone_requests'")}
    assert {"helicone_id", "request_id"} <= columns
    assert not columns & {"response_id", "response_created_at", "total_tokens"}


def test_helicone_table_of_an_earlier_meterr_still_takes_loads(home: MeterrHome) -> None:
    """A warehouse whose raw table still has the response id and time and the total token count
    (meterr before 2026-12-06) takes loads as before: the three columns are dropped, the rows
    already there stay."""
    spec = by_name("helicone")
    with duckdb.connect(str(home.warehouse)) as con:
        con.execute("CREATE SCHEMA IF NOT EXISTS raw")
        con.execute(spec.create_sql(spec.qualified_table).replace(
            '"helicone_id" VARCHAR', '"helicone_id" VARCHAR, "response_id" VARCHAR, '
            '"response_created_at" TIMESTAMP, "total_tokens" BIGINT', 1))
        # A row an earlier meterr loaded.
        con.execute(f"INSERT INTO {spec.qualified_table} (helicone_id, response_id, "
                    "request_created_at) VALUES ('old-1', 'old-1', TIMESTAMP '2026-10-01')")
        described = {name for name, *_ in con.execute(
            f"DESCRIBE {spec.qualified_table}").fetchall()}
    assert {"response_id", "response_created_at", "total_tokens"} < described
    for name in ("one.jsonl", "two.csv"):
        fixture = "helicone/output.jsonl" if name.endswith("jsonl") else "helicone/output.csv"
        [outcome] = process_drop_folder(home, [_drop(home, fixture, name)])
        assert (outcome.status, outcome.row_count) == ("loaded", 4), outcome
    assert _query(home, "SELECT count(*), count(DISTINCT helicone_id), count(model) "
                        "FROM raw.helicone_requests") == [(5, 5, 4)]
    columns = {name for (name,) in _query(
        home, "SELECT column_name FROM duckdb_columns() WHERE table_name = 'helicone_requests'")}
    assert columns == set(spec.all_columns)


def test_langfuse_literal_quoted_dates_and_usage_details(home: MeterrHome) -> None:
    process_drop_folder(
        home, [_drop(home, "langfuse/1760256000000-lf-observations-export-proj_lf_1.csv", "x")]
    )
    assert _query(home, """
        SELECT id, type, start_time, input_tokens, cache_read_tokens, cache_write_tokens,
               output_tokens, input_usage, total_cost
        FROM raw.langfuse_observations ORDER BY id
    """) == [
        ("obs-0001", "GENERATION", datetime(2026, 10, 12, 8, 0), 800, 200, 0, 200, 1000,
         Decimal("0.00425")),
        ("obs-0002", "GENERATION", datetime(2026, 10, 12, 9, 30), 50, 3000, 1200, 400, 4250,
         Decimal("0.0123")),
        ("obs-0003", "SPAN", datetime(2026, 10, 12, 7, 59, 59), 0, 0, 0, 0, 0, Decimal("0")),
    ]


def test_langfuse_reexport_replaces_observations_by_id(home: MeterrHome) -> None:
    process_drop_folder(
        home, [_drop(home, "langfuse/1760342400000-lf-observations-export-proj_lf_1.jsonl", "a")]
    )
    # The same observation exported again later with its usage corrected.
    line = json.dumps({"id": "obs-0004", "traceId": "trace-03", "type": "GENERATION",
                       "startTime": "2026-10-13T10:00:00.000Z", "model": "claude-haiku-4-5",
                       "usageDetails": {"input": 121, "output": 60, "total": 181}})
    (home.drop / "b").write_text(line + "\n")
    process_drop_folder(home, [home.drop / "b"])
    assert _query(home, "SELECT id, input_tokens FROM raw.langfuse_observations ORDER BY id") == [
        ("obs-0004", 121), ("obs-0005", 30)
    ]


def test_langfuse_camel_case_cache_keys_are_cache_not_input(home: MeterrHome) -> None:
    """SDKs pass Bedrock Converse's usage through as camelCase keys: its cache reads and writes
    are not uncached input."""
    details = {"input": 100, "cacheReadInputTokens": 5000, "cacheWriteInputTokens": 2000,
               "output": 10, "total": 7110}
    line = json.dumps({"id": "obs-camel", "traceId": "t", "type": "GENERATION",
                       "startTime": "2026-10-13T10:00:00.000Z", "model": "claude-sonnet-4",
                       "usageDetails": details})
    (home.drop / "camel").write_text(line + "\n")
    [outcome] = process_drop_folder(home, [home.drop / "camel"])
    assert (outcome.status, outcome.format) == ("loaded", "langfuse"), outcome.reason
    assert _query(home, """
        SELECT input_tokens, cache_read_tokens, cache_write_tokens, output_tokens
        FROM raw.langfuse_observations
    """) == [(100, 5000, 2000, 10)]


def test_litellm_cache_counts_providers_and_times(home: MeterrHome) -> None:
    process_drop_folder(home, [
        _drop(home, "litellm/LiteLLM_SpendLogs.csv", "a"),
        _drop(home, "litellm/spend_logs.json", "b"),
    ])
    rows = _query(home, """
        SELECT request_id, custom_llm_provider, provider, start_time, prompt_tokens,
               cache_read_input_tokens, cache_creation_input_tokens, cache_hit,
               user_api_key_user_id
        FROM raw.litellm_spend_logs ORDER BY start_time
    """)
    assert rows == [
        ("chatcmpl-a1b2c3", "openai", "openai", datetime(2026, 10, 15, 10, 0, 0, 123000), 1500,
         1000, None, False, "u-42"),
        ("msg_01XyZ", "anthropic", "anthropic", datetime(2026, 10, 15, 11, 0), 5300, 4000, 1200,
         False, "u-43"),
        ("bedrock-req-3", "bedrock", "aws", datetime(2026, 10, 16, 8, 0), 800, None, None, False,
         None),
        ("vertex-req-4", "vertex_ai", "google", datetime(2026, 10, 16, 9, 0, 0, 500000), 100,
         None, None, True, None),
        # 12:00+02:00 is 10:00 UTC; metadata arrived as a JSON string holding JSON.
        ("chatcmpl-json-6", "azure", "azure", datetime(2026, 10, 16, 10, 0), 120, 20, None, None,
         None),
        ("chatcmpl-json-5", "openai", "openai", datetime(2026, 10, 16, 11, 0), 300, 100, None,
         False, "u-44"),
    ]


def test_litellm_csv_written_from_python_spells_null_none(home: MeterrHome) -> None:
    """A CSV dump of the table written from Python has `None` for NULL cells, metadata too: the
    row loads (it was quarantined as invalid JSON), with NULL user and cache counts, not a user
    called "None"."""
    path = home.drop / "spend.csv"
    path.write_text(
        "request_id,call_type,api_key,spend,total_tokens,prompt_tokens,completion_tokens,"
        "startTime,endTime,model,model_id,custom_llm_provider,user,metadata,cache_hit,end_user\n"
        "req-1,acompletion,hashed,0.00675,4426,4320,106,2026-11-18 12:02:01.250000,"
        "2026-11-18 12:02:03.250000,claude-sonnet-4-5,None,anthropic,None,None,None,None\n"
        "req-2,acompletion,hashed,0.001,120,100,20,2026-11-18 13:00:00,2026-11-18 13:00:01,"
        'gpt-4o-mini,m-1,openai,alice,"{""additional_usage_values"": '
        '{""cache_read_input_tokens"": 40}}",False,None\n'
    )
    [outcome] = process_drop_folder(home, [path])
    assert (outcome.status, outcome.row_count) == ("loaded", 2), outcome.reason
    assert _query(home, """
        SELECT request_id, provider, "user", end_user, cache_read_input_tokens,
               cache_creation_input_tokens, cache_hit, prompt_tokens
        FROM raw.litellm_spend_logs ORDER BY request_id
    """) == [
        ("req-1", "anthropic", None, None, None, None, None, 4320),
        ("req-2", "openai", "alice", None, 40, None, False, 100),
    ]


def test_litellm_json_lines_load_like_the_array(home: MeterrHome) -> None:
    records = json.loads((FIXTURES / "litellm/spend_logs.json").read_text())
    path = home.drop / "logs.txt"
    path.write_text("".join(json.dumps(r) + "\n" for r in records))
    [outcome] = process_drop_folder(home, [path])
    assert (outcome.status, outcome.format, outcome.row_count) == ("loaded", "litellm", 2)
    sums = EXPECTED["litellm/spend_logs.json"][3]
    assert _sums(home, "litellm_spend_logs", sums) == sums


def test_anthropic_cost_keeps_display_names_dollars_and_nulls_for_markers(
    home: MeterrHome,
) -> None:
    process_drop_folder(
        home, [_drop(home, "anthropic/claude_api_cost_2026_10_05_to_2026_10_06.csv", "c")]
    )
    assert _query(home, """
        SELECT model, token_type, cost_usd, api_key, context_window, speed, api_key_id
        FROM raw.anthropic_cost_export ORDER BY usage_date_utc, cost_usd
    """) == [
        ("Claude Opus 4.1", "input_cache_read", Decimal("0.0045"), "Closer App", "≤ 200k", None,
         "apikey_01AAA"),
        ("Claude Sonnet 4.5", "input_no_cache", Decimal("0.14"), "Closer App", "≤ 200k", None,
         "apikey_01AAA"),
        ("Claude Sonnet 4.5", "output", Decimal("0.25"), "Closer App", "≤ 200k", None,
         "apikey_01AAA"),
        (None, None, Decimal("0.13"), None, None, None, None),
    ]


# --- encodings and archives -------------------------------------------------------------------


@pytest.mark.parametrize(
    "encode",
    [
        pytest.param(lambda t: codecs.BOM_UTF8 + t.encode("utf-8"), id="utf-8-bom"),
        pytest.param(lambda t: codecs.BOM_UTF16_LE + t.encode("utf-16-le"), id="utf-16-le-bom"),
        pytest.param(lambda t: codecs.BOM_UTF16_BE + t.encode("utf-16-be"), id="utf-16-be-bom"),
        pytest.param(lambda t: t.encode("utf-16-le"), id="utf-16-le-no-bom"),
        pytest.param(lambda t: t.replace("\n", "\r\n").encode("utf-8"), id="crlf"),
    ],
)
def test_odd_but_valid_encodings_load(encode, home: MeterrHome) -> None:
    text = (FIXTURES / "anthropic/claude_api_tokens_2026_10.csv").read_text(encoding="utf-8")
    path = home.drop / "tokens.csv"
    path.write_bytes(encode(text))
    [outcome] = process_drop_folder(home, [path])
    assert (outcome.status, outcome.format, outcome.row_count) == (
        "loaded", "anthropic_usage_csv", 3
    ), outcome
    assert _query(home, "SELECT DISTINCT context_window FROM raw.anthropic_usage_export "
                        "ORDER BY 1") == [("> 200k",), ("≤ 200k",)]
    assert _query(home, "SELECT min(model_version) FROM raw.anthropic_usage_export") == [
        ("claude-opus-4-1-20250805",)
    ]


def test_zip_members_load_one_by_one_and_gzip_by_content_even_in_a_zip(home: MeterrHome) -> None:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as archive:
        archive.write(FIXTURES / "openai/cost_2026-09-25_2026-09-27.csv", "exports/cost.csv")
        archive.write(FIXTURES / "langfuse/1760342400000-lf-observations-export-proj_lf_1.jsonl",
                      "exports/lf obs.jsonl")
        archive.write(FIXTURES / "litellm/spend_logs.json", "nested/dir/logs.json")
        archive.writestr("__MACOSX/exports/._cost.csv", b"\x00\x05\x16\x07 finder litter")
        # A zipped folder of downloads may hold gzipped exports: read through, named as zipped.
        archive.writestr("exports/tokens.csv.gz", gzip.compress(
            (FIXTURES / "anthropic/claude_api_tokens_2026_10.csv").read_bytes()))
    (home.drop / "bundle.zip").write_bytes(buffer.getvalue())
    # A gzip whose name says nothing.
    (home.drop / "blob").write_bytes(
        gzip.compress((FIXTURES / "helicone/output.csv").read_bytes())
    )
    # A gzipped download keeps its name (the one the user finds in archive/).
    (home.drop / "requests.jsonl.gz").write_bytes(
        gzip.compress((FIXTURES / "helicone/data.jsonl").read_bytes())
    )
    outcomes = process_drop_folder(home)
    assert sorted((o.name, o.format, o.row_count) for o in outcomes) == [
        ("blob", "helicone", 4),
        ("bundle.zip:exports/cost.csv", "openai_cost_csv", 5),
        ("bundle.zip:exports/lf_obs.jsonl", "langfuse", 2),
        ("bundle.zip:exports/tokens.csv.gz", "anthropic_usage_csv", 3),
        ("bundle.zip:nested/dir/logs.json", "litellm", 2),
        ("requests.jsonl.gz", "helicone", 1),
    ]
    assert all(o.status == "loaded" for o in outcomes)
    assert list(home.archive.rglob("bundle.zip")) and not list(home.work.glob("*"))


def test_format_load_works_on_a_plain_connection(tmp_path: Path) -> None:
    path = tmp_path / "obs.csv"
    shutil.copyfile(FIXTURES / "langfuse/1760256000000-lf-observations-export-proj_lf_1.csv", path)
    fmt = by_name("langfuse")
    with duckdb.connect() as con:
        con.execute("SET TimeZone = 'America/New_York'")  # the loader must not depend on it
        pending = create_pending(con, fmt)
        assert fmt.load(con, path, pending, "sha") == 3
        assert con.execute(f"SELECT min(start_time), sum(output_tokens) FROM {pending}"
                           ).fetchone() == (datetime(2026, 10, 12, 7, 59, 59), 600)


# --- privacy ----------------------------------------------------------------------------------


@pytest.mark.slow
def test_no_prompt_or_response_text_reaches_the_warehouse(home: MeterrHome) -> None:
    fixtures = sorted(EXPECTED)
    for index, fixture in enumerate(fixtures):
        _drop(home, fixture, f"f{index:02d}.dat")
    record = json.loads((FIXTURES / "helicone/output.jsonl").read_text().splitlines()[0])
    record["response_id"] = "b-big"
    record["request_body"] = {"messages": [{"content": "ZQXSECRET-BIG " + "p" * 200_000}]}
    (home.drop / "big.jsonl").write_text(json.dumps(record) + "\n")
    outcomes = process_drop_folder(home)
    assert all(o.status in ("loaded", "duplicate") for o in outcomes), [
        o.line() for o in outcomes if o.status == "quarantined"
    ]
    # The fixtures really hold markers in prompt, response, metadata and property fields.
    assert sum(MARKER in (FIXTURES / f).read_bytes() for f in fixtures) >= 10
    with duckdb.connect(str(home.warehouse)) as con:
        tables = con.execute(
            "SELECT table_schema, table_name, column_name FROM information_schema.columns "
            "WHERE data_type = 'VARCHAR'"
        ).fetchall()
        for schema, table, column in tables:
            hits = con.execute(
                f'SELECT count(*) FROM "{schema}"."{table}" WHERE "{column}" LIKE ?',
                [f"%{MARKER.decode()}%"],
            ).fetchone()[0]
            assert hits == 0, f"{schema}.{table}.{column} holds prompt text"
        con.execute("CHECKPOINT")
    for path in home.root.glob("warehouse.duckdb*"):
        assert MARKER not in path.read_bytes(), path
