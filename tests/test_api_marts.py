"""Provider API pulls all the way to marts.fct_usage_daily, for real.

Rows reach raw.* the way production loads them (``sync_day`` against the fake provider server on
127.0.0.1), then the real dbt project is built on the temp warehouse. fct_usage_daily's
``openai_api`` / ``anthropic_api`` rows must carry exactly the tokens the server served, bucket by
bucket, and exactly the billed cost its cost endpoints served (OpenAI ``amount.value`` dollars,
Anthropic ``amount`` cents / 100), per UTC day to 6 decimals. Re-pulling a day and rebuilding
changes nothing; a day the provider revised changes only that day.
"""

from __future__ import annotations

from collections import defaultdict
from datetime import date, datetime
from decimal import ROUND_HALF_UP, Decimal
from pathlib import Path
from typing import Any

import httpx
import pytest

from ingest.drop import ensure_raw_tables
from ingest.paths import meterr_home
from ingest.providers import sync
from ingest.providers.http import RetryPolicy
from ingest.warehouse import connect
from tests.dbt_helpers import query, run_dbt
from tests.fake_provider_server import FakeProviderServer

pytestmark = pytest.mark.slow

OPENAI_KEY = "sk-admin-TEST-openai-0123456789abcdefWXYZ"
ANTHROPIC_KEY = "sk-ant-admin01-TEST-anthropic-0123456789QRST"
# OpenAI through a user's stored integration, Anthropic through the environment's key (no user).
INTEGRATIONS = {
    "openai": ("int-openai-alice", "alice", OPENAI_KEY),
    "anthropic": ("env-anthropic", None, ANTHROPIC_KEY),
}
BUCKETS = (
    "request_count",
    "input_tokens",
    "cached_input_tokens",
    "cache_write_tokens",
    "output_tokens",
)
MICRO = Decimal("0.000001")
# Everything meterr's API rows need, and what fct_usage_daily is built from.
SELECT = ["+fct_usage_daily", "+int_openai_api__usage_billed", "+int_anthropic_api__usage_billed"]


def _client_factory(endpoint, key, base_url):
    return endpoint.make_client(
        key,
        base_url,
        sleep=lambda s: None,
        timeout=httpx.Timeout(5.0),
        retry=RetryPolicy(max_attempts=3),
    )


def _sync_day(server: FakeProviderServer, home, endpoint_name: str, day: date) -> None:
    endpoint = sync.get_endpoint(endpoint_name)
    integration_id, user_id, key = INTEGRATIONS[endpoint.provider]
    result = sync.sync_day(
        home,
        endpoint,
        day,
        api_key=key,
        integration_id=integration_id,
        user_id=user_id,
        base_url=server.base_url(endpoint.provider),
        client_factory=_client_factory,
    )
    assert result.committed, result


def _latest_results(server: FakeProviderServer, endpoint: str) -> dict[date, list[dict]]:
    """The results the server last served for each bucket of ``endpoint``, by UTC day."""
    latest: dict[datetime, Any] = {}
    for served in server.served:
        if served.endpoint == endpoint:
            latest[served.bucket_start] = served
    by_day: dict[date, list[dict]] = defaultdict(list)
    for start, served in latest.items():
        by_day[start.date()].extend(served.results)
    return by_day


def _int(value: Any) -> int:
    return int(value) if value is not None else 0


def expected_usage(server: FakeProviderServer) -> dict[tuple[str, date], dict[str, int]]:
    """(source, day) -> meterr's buckets, computed from exactly what the server served."""
    totals: dict[tuple[str, date], dict[str, int]] = defaultdict(lambda: dict.fromkeys(BUCKETS, 0))
    for day, results in _latest_results(server, "openai_usage_completions").items():
        slot = totals[("openai_api", day)]
        for r in results:
            cached = _int(r.get("input_cached_tokens"))
            write = _int(r.get("input_cache_write_tokens"))
            uncached = r.get("input_uncached_tokens")
            slot["input_tokens"] += (
                int(uncached) if uncached is not None else int(r["input_tokens"]) - cached - write
            )
            slot["cached_input_tokens"] += cached
            slot["cache_write_tokens"] += write
            slot["output_tokens"] += int(r["output_tokens"])
            slot["request_count"] += int(r["num_model_requests"])
    for day, results in _latest_results(server, "openai_usage_embeddings").items():
        slot = totals[("openai_api", day)]
        for r in results:
            slot["input_tokens"] += int(r["input_tokens"])
            slot["request_count"] += int(r["num_model_requests"])
    for day, results in _latest_results(server, "anthropic_usage_messages").items():
        slot = totals[("anthropic_api", day)]
        for r in results:
            creation = r.get("cache_creation") or {}
            slot["input_tokens"] += int(r["uncached_input_tokens"])
            slot["cached_input_tokens"] += _int(r.get("cache_read_input_tokens"))
            slot["cache_write_tokens"] += _int(creation.get("ephemeral_5m_input_tokens")) + _int(
                creation.get("ephemeral_1h_input_tokens")
            )
            slot["output_tokens"] += int(r["output_tokens"])
            # The classic usage report has no request counts: meterr records 0.
    return {key: value for key, value in totals.items() if any(value.values())}


def expected_billed(server: FakeProviderServer) -> dict[tuple[str, date], Decimal]:
    """(source, day) -> the cost endpoints' day total in dollars, rounded to 6 decimals."""
    exact: dict[tuple[str, date], Decimal] = defaultdict(Decimal)
    for day, results in _latest_results(server, "openai_costs").items():
        for r in results:
            assert r["amount"]["currency"] == "usd"
            exact[("openai_api", day)] += Decimal(r["amount"]["value"])  # dollars already
    for day, results in _latest_results(server, "anthropic_cost_report").items():
        for r in results:
            assert r["currency"] == "USD"
            exact[("anthropic_api", day)] += Decimal(r["amount"]) / 100  # cents
    return {k: v.quantize(MICRO, rounding=ROUND_HALF_UP) for k, v in exact.items()}


def fct_usage(warehouse: Path) -> dict[tuple[str, date], dict[str, int]]:
    sums = ", ".join(f"sum({b})" for b in BUCKETS)
    rows = query(
        warehouse,
        f"select source, usage_date, {sums} from marts.fct_usage_daily "
        "where source in ('openai_api', 'anthropic_api') group by all",
    )
    found = {(r[0], r[1]): dict(zip(BUCKETS, (int(v) for v in r[2:]), strict=True)) for r in rows}
    return {key: value for key, value in found.items() if any(value.values())}


def fct_billed(warehouse: Path) -> dict[tuple[str, date], Decimal]:
    rows = query(
        warehouse,
        "select source, usage_date, sum(billed_cost_usd) from marts.fct_usage_daily "
        "where source in ('openai_api', 'anthropic_api') and billed_cost_usd is not null "
        "group by all",
    )
    return {(r[0], r[1]): r[2] for r in rows}


def fct_api_rows(warehouse: Path) -> list[tuple]:
    return sorted(
        query(
            warehouse,
            "select * from marts.fct_usage_daily where source in ('openai_api', 'anthropic_api')",
        ),
        key=repr,
    )


def build(warehouse: Path, work: Path) -> None:
    done = run_dbt(["build", "--select", *SELECT], warehouse, work)
    assert done.returncode == 0, done.stdout[-6000:] + done.stderr[-2000:]


@pytest.fixture(scope="module")
def pipeline(tmp_path_factory: pytest.TempPathFactory):
    """Every endpoint synced day by day from the fake server, then one dbt build."""
    root = tmp_path_factory.mktemp("api-marts")
    home = meterr_home(root / "home").ensure()
    with pytest.MonkeyPatch.context() as mp, FakeProviderServer(page_size=2) as server:
        mp.setenv("METERR_HOME", str(home.root))  # no stray prices.yaml from the real home
        with connect(home) as con:
            ensure_raw_tables(con)  # the drop-folder tables the other staging models read
        for endpoint in sync.ENDPOINTS:
            for day in server.days:
                _sync_day(server, home, endpoint, day)
        build(home.warehouse, root / "dbt")
        yield server, home, root
        # (the server stops when the module's tests are done)


def test_usage_buckets_equal_what_the_server_served(pipeline) -> None:
    server, home, _ = pipeline
    expected = expected_usage(server)
    assert {source for source, _ in expected} == {"openai_api", "anthropic_api"}
    assert fct_usage(home.warehouse) == expected


def test_billed_cost_equals_the_cost_endpoints_per_day(pipeline) -> None:
    server, home, _ = pipeline
    expected = expected_billed(server)
    found = fct_billed(home.warehouse)
    assert found == expected
    # The large OpenAI web-search line (17 significant digits) and the 1e-12 dollar Anthropic line
    # are in there: neither went through a float.
    assert max(found.values()) > Decimal("98765")


def test_api_rows_carry_the_integration_and_its_owner(pipeline) -> None:
    _, home, _ = pipeline
    rows = query(
        home.warehouse,
        "select source, provider, integration_id, user_id, count(*) from marts.fct_usage_daily "
        "where source in ('openai_api', 'anthropic_api') group by all order by 1",
    )
    assert [r[:4] for r in rows] == [
        ("anthropic_api", "anthropic", "env-anthropic", None),
        ("openai_api", "openai", "int-openai-alice", "alice"),
    ]


def test_cost_lines_without_usage_become_their_own_rows(pipeline) -> None:
    _, home, _ = pipeline
    rows = query(
        home.warehouse,
        "select source, model, input_tokens + cached_input_tokens + cache_write_tokens "
        "+ output_tokens, billed_cost_usd from marts.fct_usage_daily "
        "where model in ('Web search', 'Web Search Usage') order by source",
    )
    assert [(r[0], r[1], r[2]) for r in rows] == [
        ("anthropic_api", "Web Search Usage", 0),
        ("openai_api", "Web search", 0),
    ]
    # 98765.432109876543 dollars: whole micro-dollars, the floor or the ceiling.
    assert rows[1][3] in (Decimal("98765.432109"), Decimal("98765.432110"))


def test_usage_without_a_cost_line_keeps_billed_null(pipeline) -> None:
    _, home, _ = pipeline
    # The fake Costs API has no embeddings line: list price applies, billed stays unknown.
    rows = query(
        home.warehouse,
        "select count(*), count(billed_cost_usd), count(list_cost_usd), sum(input_tokens) "
        "from marts.fct_usage_daily where model = 'text-embedding-3-small'",
    )
    count, billed, listed, tokens = rows[0]
    assert count > 0 and billed == 0 and listed == count and tokens > 0


def test_rerunning_a_day_changes_nothing_and_a_revision_only_its_day(pipeline) -> None:
    server, home, root = pipeline
    before = fct_api_rows(home.warehouse)
    unchanged_day, revised_day = server.days[2], server.days[5]

    for endpoint in sync.ENDPOINTS:
        _sync_day(server, home, endpoint, unchanged_day)
    build(home.warehouse, root / "dbt-rerun")
    assert fct_api_rows(home.warehouse) == before

    # The provider revises a day (late usage and cost); only that day's rows may change.
    for record in server.dataset["openai_usage_completions"][revised_day]:
        record["output_tokens"] += 7
    for record in server.dataset["anthropic_cost_report"][revised_day]:
        record["amount"] = format(Decimal(record["amount"]) + Decimal("12.345678"), "f")
    billed_before = fct_billed(home.warehouse)
    for endpoint in sync.ENDPOINTS:
        _sync_day(server, home, endpoint, revised_day)
    build(home.warehouse, root / "dbt-revised")
    after = fct_api_rows(home.warehouse)
    assert [r for r in after if r[0] != revised_day] == [r for r in before if r[0] != revised_day]
    assert fct_usage(home.warehouse) == expected_usage(server)
    billed_after = fct_billed(home.warehouse)
    assert billed_after == expected_billed(server)
    key = ("anthropic_api", revised_day)
    lines = len(server.dataset["anthropic_cost_report"][revised_day])
    # Each line rose by 12.345678 cents; the day's rounded totals differ by that, to a micro-dollar.
    assert abs(billed_after[key] - billed_before[key] - Decimal("0.12345678") * lines) <= MICRO
