"""Drop-folder exports all the way to marts.fct_usage_daily, for real.

The export fixtures of ``tests/fixtures/exports/`` (see ``tests/test_formats.py``) are dropped into
a temporary ``METERR_HOME`` and processed by ``ingest.drop.process_drop_folder`` as production
does, then the real dbt project is built on that warehouse. Each source's rows in
``fct_usage_daily`` must carry exactly the fixtures' tokens per meterr bucket and exactly their
reported cost (to 6 decimals). The expected totals below were added up by hand from the fixture
files, applying the documented bucket rules (dbt_project/README.md, "Drop-folder exports").
"""

from __future__ import annotations

import gzip
from decimal import Decimal
from pathlib import Path

import pytest

from ingest.drop import process_drop_folder
from ingest.paths import MeterrHome, meterr_home
from tests.dbt_helpers import query, run_dbt

pytestmark = pytest.mark.slow

FIXTURES = Path(__file__).parent / "fixtures" / "exports"
BUCKETS = (
    "request_count",
    "input_tokens",
    "cached_input_tokens",
    "cache_write_tokens",
    "output_tokens",
)
# fct_usage_daily and everything it is built from (the export staging and allocation models and
# their tests included).
SELECT = ["+fct_usage_daily"]

# Every export fixture that loads (the empty OpenAI usage export loads 0 rows). Both OpenAI cost
# exports are dropped: the newer one restates 2026-09-27 (it replaces that day's set).
FILES = (
    "openai/cost_2026-09-25_2026-09-27.csv",
    "openai/cost_2026-09-27_2026-09-29.csv",
    "openai/completions_usage_2026-10-01_2026-10-02.csv",
    "openai/embeddings_usage_2026-10-01_2026-10-01.csv",
    "openai/completions_usage_2026-10-03_2026-10-03.csv",
    "anthropic/claude_api_tokens_2026_10.csv",
    "anthropic/claude_api_tokens_2025_06.csv",
    "anthropic/claude_api_cost_2026_10_05_to_2026_10_06.csv",
    "anthropic/claude_api_cost_2025_06.csv",
    "helicone/output.jsonl",
    "helicone/data.csv",
    "helicone/data.jsonl",
    "langfuse/1760256000000-lf-observations-export-proj_lf_1.csv",
    "langfuse/1760342400000-lf-observations-export-proj_lf_1.jsonl",
    "langfuse/1760428800000-lf-observations-export-proj_lf_2.json",
    "litellm/LiteLLM_SpendLogs.csv",
    "litellm/spend_logs.json",
)

# source -> (request_count, input, cached input, cache write, output), by hand from the files.
EXPECTED_TOKENS: dict[str, tuple[int, int, int, int, int]] = {
    # Completions: uncached = input_uncached_tokens 3200 + 2000 + 1000, cached 1800 + 200,
    # output 1000 + 400 + 300, requests 3 + 2 + 1; embeddings: 12000 input, 40 requests.
    # The cost exports add no tokens.
    "openai_export": (46, 18200, 2000, 0, 1700),
    # No request counts in the Console export. 2026_10: no-cache 46981 + 1200 + 10000, reads
    # 3000, writes 5m 15969 + 1h 500, output 16932 + 800 + 2000; 2025_06 (single cache_write
    # column): no-cache 5000 + 2500, reads 1500, writes 700, output 900 + 300.
    "anthropic_export": (0, 65681, 4500, 17169, 20932),
    # output.jsonl: prompt 1000 + 2000 + 400 + 50, reads 300, writes 1500, output = completion
    # 810 + reasoning 250; data.csv: prompt 700 + 150, reads 600, completion 90 + 40;
    # data.jsonl: prompt 300, reads 100, completion 30. One request per row.
    "helicone": (7, 4600, 1000, 1500, 1220),
    # Generations only (the SPAN and the EVENT carry no model or usage): csv obs-0001/0002 input
    # 800 + 50, reads 200 + 3000, writes 1200, output 200 + 400; jsonl obs-0004/0005 input
    # 120 + 30, reads 80, writes 40, output 60 + 20; json obs-0006 input 10, output 5.
    "langfuse": (5, 1010, 3280, 1240, 685),
    # uncached = prompt - cache reads - cache writes: (1500-1000) + (5300-4000-1200) + 800 + 100
    # + (300-100) + (120-20); reads 1000 + 4000 + 100 + 20; writes 1200; output 200 + 300 + 100
    # + 20 + 50 + 30.
    "litellm": (6, 1800, 5120, 1200, 700),
}

# source -> the reported cost in fct_usage_daily, dollars to 6 decimals.
EXPECTED_BILLED: dict[str, Decimal] = {
    # 2026-09-25: 0.00383598 + 1.25 -> 1.253836 (a day's lines are rounded together);
    # 2026-09-27 restated by the newer export: 2.1 + 0.4; 2026-09-28: 0.000123456789... ->
    # 0.000123. Empty days have no amount.
    "openai_export": Decimal("3.753959"),
    # Dollars, never divided by 100: 0.14 + 0.25 + 0.0045 + 0.13 (web search) + 0.0135.
    "anthropic_export": Decimal("0.538000"),
    # output.jsonl 0.00027 + 0.0189 + 0.00154 + 0; data.csv 0.0042 + 0.0008; data.jsonl 0.00006.
    "helicone": Decimal("0.025770"),
    # 0.00425 + 0.0123 + 0.0009 + 0.0000007 + 0.00001 = 0.0174607 -> 0.017461.
    "langfuse": Decimal("0.017461"),
    # 0.00042 + 0.0123 + 0.000012 + 0 + 0.0011 + 0.0005.
    "litellm": Decimal("0.014332"),
}


def _drop(home: MeterrHome, files: dict[str, bytes]) -> None:
    """Drop each file under a name that says nothing about its format; all must load."""
    for name, content in files.items():
        path = home.drop / name
        path.write_bytes(content)
        [outcome] = process_drop_folder(home, [path])
        assert outcome.status == "loaded", outcome


def _build(home: MeterrHome, work: Path) -> None:
    done = run_dbt(["build", "--select", *SELECT], home.warehouse, work)
    assert done.returncode == 0, done.stdout[-6000:] + done.stderr[-2000:]


def _tokens_by_source(warehouse: Path) -> dict[str, tuple[int, ...]]:
    sums = ", ".join(f"sum({bucket})" for bucket in BUCKETS)
    rows = query(warehouse, f"select source, {sums} from marts.fct_usage_daily group by source")
    return {row[0]: tuple(int(v) for v in row[1:]) for row in rows}


def _billed_by_source(warehouse: Path) -> dict[str, Decimal]:
    rows = query(
        warehouse, "select source, sum(billed_cost_usd) from marts.fct_usage_daily group by source"
    )
    return {row[0]: row[1] for row in rows}


@pytest.fixture(scope="module")
def exports_home(tmp_path_factory: pytest.TempPathFactory) -> MeterrHome:
    """Every export fixture dropped and loaded, then one dbt build."""
    root = tmp_path_factory.mktemp("export-marts")
    home = meterr_home(root / "home").ensure()
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("METERR_HOME", str(home.root))  # no stray prices.yaml from the real home
        _drop(
            home,
            {f"export{i:02d}.dat": (FIXTURES / f).read_bytes() for i, f in enumerate(FILES)},
        )
        _build(home, root / "dbt")
    return home


def test_every_export_source_reaches_fct_usage_daily(exports_home: MeterrHome) -> None:
    assert set(_tokens_by_source(exports_home.warehouse)) == set(EXPECTED_TOKENS)


@pytest.mark.parametrize("source", sorted(EXPECTED_TOKENS))
def test_token_buckets_per_source_equal_the_fixtures(source: str, exports_home: MeterrHome) -> None:
    assert _tokens_by_source(exports_home.warehouse)[source] == EXPECTED_TOKENS[source]


@pytest.mark.parametrize("source", sorted(EXPECTED_BILLED))
def test_billed_cost_per_source_equals_the_fixtures(source: str, exports_home: MeterrHome) -> None:
    assert _billed_by_source(exports_home.warehouse)[source] == EXPECTED_BILLED[source]


def test_console_cost_lines_land_on_the_usage_they_bill(exports_home: MeterrHome) -> None:
    """Anthropic display names map to the usage export's model ids, so each cost line is shared
    over that model's usage (not counted again next to it at list price); lines without usage
    (web search, OpenAI days without a usage export) stay rows of their own."""
    rows = query(
        exports_home.warehouse,
        """
        select source, usage_date, model, project_id, api_key_id, input_tokens, output_tokens,
               billed_cost_usd
        from marts.fct_usage_daily
        where source in ('anthropic_export', 'openai_export') and billed_cost_usd is not null
        order by all
        """,
    )
    as_text = [(r[0], str(r[1]), *r[2:]) for r in rows]
    assert as_text == [
        (
            "anthropic_export",
            "2025-06-10",
            "claude-3-5-sonnet-20241022",
            "Default",
            "ci-key",
            5000,
            900,
            Decimal("0.013500"),
        ),
        (
            "anthropic_export",
            "2026-10-05",
            "claude-opus-4-1-20250805",
            "Research",
            "Closer App",
            1200,
            800,
            Decimal("0.004500"),
        ),
        (
            "anthropic_export",
            "2026-10-05",
            "claude-sonnet-4-5-20250929",
            "Default",
            "Closer App",
            46981,
            16932,
            Decimal("0.390000"),
        ),
        (
            "anthropic_export",
            "2026-10-06",
            "web_search",
            "Default",
            None,
            0,
            0,
            Decimal("0.130000"),
        ),
        (
            "openai_export",
            "2026-09-25",
            "gpt-4o-2024-08-06",
            "proj_alpha",
            "key_3QRCYbJRFQ0G4ycm",
            0,
            0,
            Decimal("1.253836"),
        ),
        ("openai_export", "2026-09-27", "Web search", "proj_beta", None, 0, 0, Decimal("0.400000")),
        (
            "openai_export",
            "2026-09-27",
            "gpt-4o-2024-08-06",
            "proj_alpha",
            "key_3QRCYbJRFQ0G4ycm",
            0,
            0,
            Decimal("2.100000"),
        ),
        (
            "openai_export",
            "2026-09-28",
            "gpt-4o-mini-2024-07-18",
            "proj_alpha",
            "key_3QRCYbJRFQ0G4ycm",
            0,
            0,
            Decimal("0.000123"),
        ),
    ]


def test_providers_are_named_or_inferred(exports_home: MeterrHome) -> None:
    rows = query(
        exports_home.warehouse,
        "select source, provider, model from marts.fct_usage_daily "
        "where source in ('helicone', 'langfuse', 'litellm') order by all",
    )
    providers = {(source, model): provider for source, provider, model in rows}
    # Langfuse exports no provider: inferred from the model id.
    assert providers[("langfuse", "claude-haiku-4-5")] == "anthropic"
    assert providers[("langfuse", "text-embedding-3-small")] == "openai"
    # Gateways' own names are mapped (bedrock -> aws, vertex_ai -> google, AZURE -> azure).
    assert providers[("litellm", "anthropic.claude-3-haiku-20240307-v1:0")] == "aws"
    assert providers[("litellm", "gemini-2.5-flash")] == "google"
    assert providers[("helicone", "gpt-4o")] == "azure"
    # Helicone's 'LOCAL' is no provider meterr knows and llama says nothing: visible as unknown.
    assert providers[("helicone", "llama-3-8b")] == "unknown"


def test_same_helicone_requests_as_csv_and_jsonl_count_once(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The CLI's JSONL, then its CSV of the same four requests (no request ids, no cache or
    reasoning counts, one cost missing), then the gzipped JSON array: one request each in the
    mart, with the JSONL's tokens and cost."""
    home = meterr_home(tmp_path / "home").ensure()
    monkeypatch.setenv("METERR_HOME", str(home.root))
    _drop(
        home,
        {
            "a.dat": (FIXTURES / "helicone/output.jsonl").read_bytes(),
            "b.dat": (FIXTURES / "helicone/output.csv").read_bytes(),
            "c.dat": gzip.compress((FIXTURES / "helicone/output.json").read_bytes()),
        },
    )
    _build(home, tmp_path / "dbt")
    assert _tokens_by_source(home.warehouse) == {
        # prompt 1000 + 2000 + 400 + 50; reads 300; writes 1500; completion 810 + reasoning 250.
        "helicone": (4, 3450, 300, 1500, 1060),
    }
    assert _billed_by_source(home.warehouse) == {"helicone": Decimal("0.020710")}
    assert query(
        home.warehouse,
        "select count(*), count(distinct user_id) from marts.fct_usage_daily",
    ) == [(4, 2)]


def test_custom_rows_from_the_webhook_receiver_are_the_webhook_source(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The same custom format, once dropped by hand and once written by the webhook receiver
    (under drop/webhooks/custom/): 'custom' and 'webhook' in the mart, each with its own tokens."""
    home = meterr_home(tmp_path / "home").ensure()
    monkeypatch.setenv("METERR_HOME", str(home.root))
    header = "timestamp,provider,model,input_tokens,output_tokens,request_id\n"
    by_hand = home.drop / "usage.csv"
    by_hand.write_text(header + "2026-11-02T09:00:00Z,openai,gpt-4o-mini,1200,90,r-1\n")
    pushed = home.drop / "webhooks" / "custom" / "20261102T100000-abc.csv"
    pushed.parent.mkdir(parents=True)
    pushed.write_text(header + "2026-11-02T10:00:00Z,openai,gpt-4o-mini,3400,50,r-2\n")
    outcomes = process_drop_folder(home, [by_hand, pushed])
    assert [o.status for o in outcomes] == ["loaded", "loaded"], outcomes
    _build(home, tmp_path / "dbt")
    assert _tokens_by_source(home.warehouse) == {
        "custom": (1, 1200, 0, 0, 90),
        "webhook": (1, 3400, 0, 0, 50),
    }


# OpenAI dashboard exports of one day each, the Cost and the Activity view grouped differently.
_COST_HEADER = (
    "start_time,end_time,start_time_iso,end_time_iso,amount_value,amount_currency,quantity,"
    "quantity_unit,line_item,user_id,api_key_id,project_id,organization_id,project_name,"
    "organization_name,user_email,api_source\n"
)
_OCT20 = "1792454400,1792540800,2026-10-20T00:00:00+00:00,2026-10-21T00:00:00+00:00"
_OCT21 = "1792540800,1792627200,2026-10-21T00:00:00+00:00,2026-10-22T00:00:00+00:00"
_DIFFERENTLY_GROUPED = {
    # 2026-10-20: cost grouped by line item only (no project), usage grouped by project.
    "cost-by-line-item.csv": (
        _COST_HEADER
        + f'{_OCT20},0.004000000000000000000000000000,usd,,,"gpt-4.1-2025-04-14, input",,,,,,,,\n'
        + f'{_OCT20},0.000500000000000000000000000000,usd,,,'
        + '"gpt-4.1-2025-04-14, cached input",,,,,,,,\n'
        + f'{_OCT20},0.002400000000000000000000000000,usd,,,"gpt-4.1-2025-04-14, output",,,,,,,,\n'
    ),
    "usage-by-project.csv": (
        "start_time,end_time,start_time_iso,end_time_iso,project_id,num_model_requests,"
        "input_tokens,output_tokens,input_cached_tokens,model\n"
        "1792497600,1792497660,2026-10-20T12:00:00+00:00,2026-10-20T12:01:00+00:00,"
        "proj_Z,2,3000,300,1000,gpt-4.1-2025-04-14\n"
    ),
    # 2026-10-21: cost grouped by project only (no line item), usage grouped by model only.
    "cost-by-project.csv": (
        _COST_HEADER + f"{_OCT21},0.0069,usd,,,,,,proj_Z,org-1,Z,Org,,\n"
    ),
    "usage-by-model.csv": (
        "start_time,end_time,start_time_iso,end_time_iso,model,num_model_requests,input_tokens,"
        "output_tokens,input_cached_tokens\n"
        "1792584000,1792584060,2026-10-21T12:00:00+00:00,2026-10-21T12:01:00+00:00,"
        "gpt-4.1-2025-04-14,2,3000,300,1000\n"
        "1792584000,1792584060,2026-10-21T12:00:00+00:00,2026-10-21T12:01:00+00:00,"
        "gpt-4o,1,1000,100,0\n"
    ),
}


def _openai_exports_built(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, files: dict[str, str]
) -> MeterrHome:
    """A fresh home with ``files`` (name -> CSV text) loaded from the drop folder and the spend
    and usage marts built on them (only the models they need)."""
    home = meterr_home(tmp_path / "home").ensure()
    monkeypatch.setenv("METERR_HOME", str(home.root))
    _drop(home, {name: text.encode() for name, text in files.items()})
    done = run_dbt(
        ["build", "--select", "+fct_spend_daily", "+fct_usage_daily"]
        + ["--indirect-selection", "cautious"],
        home.warehouse,
        tmp_path / "dbt",
    )
    assert done.returncode == 0, done.stdout[-6000:] + done.stderr[-2000:]
    return home


def test_cost_and_usage_exports_grouped_differently_count_the_spend_once(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A Cost export line without a project covers every project's usage of its model, and one
    without a line item every model's: the day's spend is the Cost export's, once (not the usage
    at list price plus the same amount as lines no usage explains)."""
    home = _openai_exports_built(tmp_path, monkeypatch, _DIFFERENTLY_GROUPED)
    spend = query(
        home.warehouse,
        "select usage_date::varchar, sum(spend_usd) from marts.fct_spend_daily "
        "group by 1 order by 1",
    )
    assert spend == [("2026-10-20", Decimal("0.006900")), ("2026-10-21", Decimal("0.006900"))]
    rows = query(
        home.warehouse,
        "select usage_date::varchar, model, project_id, input_tokens + cached_input_tokens, "
        "billed_cost_usd from marts.fct_usage_daily order by 1, 2",
    )
    # Every line went to usage: no zero-token cost rows, and the tokens are the Activity view's.
    assert [(day, model, project, tokens) for day, model, project, tokens, _ in rows] == [
        ("2026-10-20", "gpt-4.1-2025-04-14", "proj_Z", 3000),
        ("2026-10-21", "gpt-4.1-2025-04-14", None, 3000),
        ("2026-10-21", "gpt-4o", None, 1000),
    ]
    assert sum(billed for *_, billed in rows) == Decimal("0.013800")


_OCT22 = "1792627200,1792713600,2026-10-22T00:00:00+00:00,2026-10-23T00:00:00+00:00"
_CACHED_INPUT_BILLED_APART = {
    # The Cost view by line item: 2,000 uncached input tokens ($2/M) and 9,000 cached ($0.50/M).
    "cost.csv": (
        _COST_HEADER
        + f'{_OCT22},0.004,usd,,,"gpt-4.1-2025-04-14, input",,,,,,,,\n'
        + f'{_OCT22},0.0045,usd,,,"gpt-4.1-2025-04-14, cached input",,,,,,,,\n'
    ),
    # The Activity view by API key: input_tokens includes the cached ones.
    "usage.csv": (
        "start_time,end_time,start_time_iso,end_time_iso,api_key_id,num_model_requests,"
        "input_tokens,output_tokens,input_cached_tokens,model\n"
        "1792670400,1792670460,2026-10-22T12:00:00+00:00,2026-10-22T12:01:00+00:00,"
        "key_A,1,1000,0,0,gpt-4.1-2025-04-14\n"
        "1792670400,1792670460,2026-10-22T12:00:00+00:00,2026-10-22T12:01:00+00:00,"
        "key_B,1,10000,0,9000,gpt-4.1-2025-04-14\n"
    ),
}


def test_an_input_line_next_to_a_cached_input_line_is_shared_by_uncached_input(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """OpenAI bills cached input on its own line, so the 'input' line is the uncached input: two
    keys with 1,000 uncached tokens each share it equally, and the cached line goes to the key
    that read the cache (not 1:10 by all input, which would charge key_B for key_A's input)."""
    home = _openai_exports_built(tmp_path, monkeypatch, _CACHED_INPUT_BILLED_APART)
    rows = query(
        home.warehouse,
        "select api_key_id, input_tokens, cached_input_tokens, billed_cost_usd "
        "from marts.fct_usage_daily where source = 'openai_export' order by 1",
    )
    assert rows == [
        ("key_A", 1000, 0, Decimal("0.002000")),
        ("key_B", 1000, 9000, Decimal("0.006500")),
    ]

