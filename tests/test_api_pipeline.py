"""Provider APIs through Dagster: `meterr run` against a fault-free fake server on 127.0.0.1,
the schedule's window, idempotent re-runs, and no key in any output or file."""

from __future__ import annotations

import io
import re
import sys
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

import dagster as dg
import duckdb
import httpx
import pytest
from cryptography.fernet import Fernet

from dagster_project import cli
from dagster_project.assets.provider_apis import PROVIDER_API_ASSETS
from dagster_project.schedules import provider_api_schedule
from ingest.paths import MeterrHome
from ingest.providers import http
from ingest.providers.sync import endpoints_for, ensure_meta_tables
from ingest.warehouse import connect
from tests.fake_provider_server import FakeProviderServer

pytestmark = pytest.mark.slow

ENV_OPENAI_KEY = "sk-admin-ENVKEY-openai-0123456789abcdefLAST"
USER_OPENAI_KEY = "sk-admin-USERKEY-openai-9876543210zyxwvuQRST"
ANTHROPIC_KEY = "sk-ant-admin01-ENVKEY-anthropic-0123456789MNOP"
KEYS = (ENV_OPENAI_KEY, USER_OPENAI_KEY, ANTHROPIC_KEY)


@pytest.fixture
def server():
    with FakeProviderServer(
        page_size=3, openai_keys=(ENV_OPENAI_KEY, USER_OPENAI_KEY), anthropic_keys=(ANTHROPIC_KEY,)
    ) as srv:
        yield srv


@pytest.fixture
def api_env(home: MeterrHome, server: FakeProviderServer, tmp_path: Path, monkeypatch):
    dagster_home = tmp_path / "dagster-home"
    dagster_home.mkdir()
    monkeypatch.setenv("DAGSTER_HOME", str(dagster_home))
    monkeypatch.setenv("OPENAI_ADMIN_KEY", ENV_OPENAI_KEY)
    monkeypatch.setenv("ANTHROPIC_ADMIN_KEY", ANTHROPIC_KEY)
    monkeypatch.setenv("OPENAI_BASE_URL", server.openai_base_url)
    monkeypatch.setenv("ANTHROPIC_BASE_URL", server.anthropic_base_url)
    monkeypatch.setenv("METERR_SECRET_KEY", Fernet.generate_key().decode())
    return dagster_home


def _count(home: MeterrHome, table: str) -> int:
    with duckdb.connect(str(home.warehouse), read_only=True) as con:
        return con.execute(f"SELECT count(*) FROM raw.{table}").fetchone()[0]


def _files_under(*roots: Path):
    for root in roots:
        for path in root.rglob("*"):
            if path.is_file():
                yield path


def test_run_pulls_every_integration_and_never_leaks_a_key(
    home: MeterrHome, server: FakeProviderServer, api_env: Path, capfd, caplog, monkeypatch
) -> None:
    monkeypatch.setattr(sys, "stdin", io.StringIO(USER_OPENAI_KEY + "\n"))
    assert cli.main(["integrations", "add", "--user", "alice", "--provider", "openai"]) == 0

    assert cli.main(["run"]) == 0
    for table in (
        "openai_usage_completions",
        "openai_costs",
        "anthropic_usage_messages",
        "anthropic_cost_report",
    ):
        assert _count(home, table) > 0, table
    with duckdb.connect(str(home.warehouse), read_only=True) as con:
        integrations = {
            row[0]
            for row in con.execute(
                "SELECT DISTINCT integration_id FROM raw.openai_usage_completions"
            ).fetchall()
        }
    assert len(integrations) == 2, "env key and alice's stored key are both pulled"
    first = {t: _count(home, t) for t in ("openai_usage_completions", "anthropic_cost_report")}

    # Re-running pulls the trailing window again and replaces it: nothing doubles.
    assert cli.main(["run"]) == 0
    assert {t: _count(home, t) for t in first} == first
    assert cli.main(["integrations", "list"]) == 0

    out, err = capfd.readouterr()
    logs = caplog.text
    for key in KEYS:
        assert key not in out and key not in err and key not in logs
    assert "…" + USER_OPENAI_KEY[-4:] in out, "list shows the last 4 characters only"
    for path in _files_under(home.root, api_env):
        data = path.read_bytes()
        for key in KEYS:
            assert key.encode() not in data, f"key found in {path}"


def test_marts_get_api_rows_with_the_servers_totals(
    home: MeterrHome, server: FakeProviderServer, api_env: Path
) -> None:
    assert cli.main(["run"]) == 0
    served = server.served_totals("openai_usage_completions")
    output = sum(day.get("output_tokens", 0) for day in served.values())
    requests = sum(day.get("num_model_requests", 0) for day in served.values())
    with duckdb.connect(str(home.warehouse), read_only=True) as con:
        got = con.execute(
            "SELECT sum(output_tokens), sum(request_count) FROM marts.fct_usage_daily "
            "WHERE source = 'openai_api' AND model NOT LIKE 'text-embedding%'"
        ).fetchone()
    assert got == (output, requests)


def test_no_key_means_a_clear_skip(home: MeterrHome, capfd) -> None:
    assert cli.api_window(home) is None


def test_schedule_backfills_30_days_first_then_3(api_env: Path) -> None:
    instance = dg.DagsterInstance.get()
    when = datetime(2026, 11, 20, 5, 30, tzinfo=UTC)
    context = dg.build_schedule_context(instance=instance, scheduled_execution_time=when)
    request = provider_api_schedule(context)
    assert request.tags["dagster/asset_partition_range_start"] == "2026-10-22"
    assert request.tags["dagster/asset_partition_range_end"] == "2026-11-20"
    for asset in PROVIDER_API_ASSETS:
        for key in asset.keys:
            instance.report_runless_asset_event(
                dg.AssetMaterialization(key, partition="2026-11-19")
            )
    context = dg.build_schedule_context(instance=instance, scheduled_execution_time=when)
    request = provider_api_schedule(context)
    assert request.tags["dagster/asset_partition_range_start"] == "2026-11-18"


def test_a_first_run_with_a_refused_key_says_why_and_nothing_else(
    home: MeterrHome, server: FakeProviderServer, api_env: Path, capfd, monkeypatch
) -> None:
    """On a fresh home, a key the provider refuses (401) is reported as such: no raw table left
    missing to fail the checks with an unrelated error."""
    refused = "sk-admin-REFUSED-openai-0123456789abcdefNOPE"
    monkeypatch.setenv("OPENAI_ADMIN_KEY", refused)
    monkeypatch.delenv("ANTHROPIC_ADMIN_KEY")
    assert cli.main(["run"]) == 1
    out, err = capfd.readouterr()
    errors = [line for line in err.splitlines() if line.startswith("error: ")]
    assert errors and all("…NOPE" in line for line in errors), err[-3000:]
    assert all("api.usage.read" in line for line in errors), errors
    # Each line says which endpoint and which days failed, so it alone says what to pull again.
    window = re.compile(r": openai_\w+ \d{4}-\d\d-\d\d\.\.\d{4}-\d\d-\d\d: ")
    assert all(window.search(line) for line in errors), errors
    assert "CatalogException" not in out + err and "does not exist" not in out + err
    assert refused not in out + err
    assert _count(home, "openai_usage_completions") == 0


def test_a_provider_that_does_not_answer_is_asked_once_per_run(
    home: MeterrHome, server: FakeProviderServer, api_env: Path, capfd, monkeypatch
) -> None:
    """A stalled provider (connections accepted, nothing answered) fails the first endpoint after
    two timeouts, and the run's other endpoints of that provider are skipped with that reason
    instead of each waiting out six attempts (an acceptance probe's run took 414 s for one)."""
    monkeypatch.setattr(http, "DEFAULT_TIMEOUT", httpx.Timeout(0.3))
    monkeypatch.delenv("ANTHROPIC_ADMIN_KEY")
    server.delay(3.0, times=None)
    assert cli.main(["run"]) == 1
    _, err = capfd.readouterr()
    errors = [line for line in err.splitlines() if line.startswith("error: ")]
    stalled = [line for line in errors if "timed out 2 times in a row" in line]
    skipped = [line for line in errors if "skipped: OpenAI did not answer" in line]
    assert len(stalled) == 1, errors
    assert "ReadTimeout: no data within 0.3 s" in stalled[0]
    assert len(skipped) == len(endpoints_for("openai")) - 1, errors
    assert len([r for r in server.requests if r["endpoint"]]) == 2


def test_schedule_fills_the_days_missed_since_the_last_pull(api_env: Path) -> None:
    instance = dg.DagsterInstance.get()
    keys = [key for asset in PROVIDER_API_ASSETS for key in asset.keys]
    # One endpoint was last pulled ten days ago (its pulls stopped); the others yesterday.
    for key in keys:
        partition = "2026-11-09" if key == keys[0] else "2026-11-19"
        instance.report_runless_asset_event(dg.AssetMaterialization(key, partition=partition))
    when = datetime(2026, 11, 20, 5, 30, tzinfo=UTC)

    def window() -> tuple[str, str]:
        context = dg.build_schedule_context(instance=instance, scheduled_execution_time=when)
        tags = provider_api_schedule(context).tags
        return (
            tags["dagster/asset_partition_range_start"],
            tags["dagster/asset_partition_range_end"],
        )

    assert window() == ("2026-11-10", "2026-11-20")
    instance.report_runless_asset_event(dg.AssetMaterialization(keys[0], partition="2026-11-19"))
    assert window() == ("2026-11-18", "2026-11-20")


def test_schedule_does_not_count_a_failed_pull_as_pulled(
    home: MeterrHome, server: FakeProviderServer, api_env: Path, monkeypatch
) -> None:
    """Days whose pull failed (here: a revoked OpenAI key) are materialized with the errors in
    their metadata; the schedule's catch-up still starts after the last clean pull."""
    instance = dg.DagsterInstance.get()
    today = datetime.now(UTC).date()
    clean_day = today - timedelta(days=20)
    keys = [key for asset in PROVIDER_API_ASSETS for key in asset.keys]
    for key in keys:
        instance.report_runless_asset_event(
            dg.AssetMaterialization(key, partition=clean_day.isoformat())
        )
    monkeypatch.setenv("OPENAI_ADMIN_KEY", "sk-admin-REVOKED-openai-0123456789abcdefGONE")
    assert cli.main(["run"]) == 1, "the refused key is an error of the run"
    openai_keys = [key for key in keys if "openai" in key.to_user_string()]
    assert openai_keys and all(
        today.isoformat() in instance.get_materialized_partitions(key) for key in openai_keys
    ), "the failed pull's partitions are materialized (the errors are in their metadata)"

    when = datetime.combine(today, datetime.min.time(), tzinfo=UTC).replace(hour=5, minute=30)
    context = dg.build_schedule_context(instance=instance, scheduled_execution_time=when)
    tags = provider_api_schedule(context).tags
    day_after = (clean_day + timedelta(days=1)).isoformat()
    assert tags["dagster/asset_partition_range_start"] == day_after


def test_a_response_that_stops_short_is_an_error_and_its_days_are_pulled_again(
    home: MeterrHome, server: FakeProviderServer, api_env: Path, capfd
) -> None:
    """The costs API answers without buckets for two days (has_more false): the run keeps what
    came, says so as an error, and the integration counts as pulled only up to the day before
    the first missing one, so the next run asks for them again and fills them."""
    import json

    from ingest.providers.sync import get_endpoint, last_synced_days

    costs = get_endpoint("openai_costs")
    missing = {server.days[4], server.days[6]}  # days with usage (every fifth day has none)
    original = server.respond

    def short(method, path, headers):
        status, hdrs, body, delay = original(method, path, headers)
        if status == 200 and body and "/costs" in path:
            page = json.loads(body)
            page["data"] = [b for b in page["data"] if costs.bucket_day(b) not in missing]
            body = json.dumps(page).encode()
        return status, hdrs, body, delay

    server.respond = short
    assert cli.main(["run"]) == 1
    err = capfd.readouterr().err
    errors = [line for line in err.splitlines() if line.startswith("error: ")]
    assert any("no bucket for 2 day(s)" in line and "openai_costs" in line for line in errors), (
        err[-3000:]
    )
    first_missing = min(missing)
    assert last_synced_days(home, "env-openai")["openai_costs"] == first_missing - timedelta(1)
    assert cli.api_window(home)[0] <= first_missing

    server.respond = original
    assert cli.main(["run"]) == 0, capfd.readouterr().err[-3000:]
    with duckdb.connect(str(home.warehouse), read_only=True) as con:
        found = con.execute("SELECT DISTINCT usage_date FROM raw.openai_costs").fetchall()
    days = {row[0] for row in found}
    assert missing <= days


def test_run_fills_the_days_missed_since_the_last_sync(home: MeterrHome, api_env: Path) -> None:
    """`meterr run` after a week without runs pulls from the day after the oldest endpoint's last
    synced day, not only the trailing three days."""
    today = date(2026, 11, 20)
    with connect(home) as con:
        ensure_meta_tables(con)
        for provider in ("openai", "anthropic"):
            for endpoint in endpoints_for(provider):
                con.execute(
                    "INSERT INTO meta.sync_state VALUES (?, ?, ?, now())",
                    [f"env-{provider}", endpoint.name, date(2026, 11, 19)],
                )
    assert cli.api_window(home, today) == (date(2026, 11, 18), today)
    with connect(home) as con:
        con.execute(
            "UPDATE meta.sync_state SET last_synced_day = DATE '2026-11-12' "
            "WHERE integration_id = 'env-anthropic'"
        )
    assert cli.api_window(home, today) == (date(2026, 11, 13), today)


def test_a_wrong_secret_key_is_an_error_of_the_run_and_the_env_keys_still_run(
    home: MeterrHome, server: FakeProviderServer, api_env: Path, capfd, monkeypatch
) -> None:
    monkeypatch.setattr(sys, "stdin", io.StringIO(USER_OPENAI_KEY + "\n"))
    assert cli.main(["integrations", "add", "--user", "alice", "--provider", "openai"]) == 0
    monkeypatch.setenv("METERR_SECRET_KEY", Fernet.generate_key().decode())
    assert cli.main(["run"]) == 1
    out, err = capfd.readouterr()
    errors = [line for line in err.splitlines() if line.startswith("error: ")]
    assert len(errors) == 1 and "METERR_SECRET_KEY" in errors[0], err[-3000:]
    assert "no provider API key configured" not in err
    with duckdb.connect(str(home.warehouse), read_only=True) as con:
        pulled = con.execute(
            "SELECT DISTINCT integration_id FROM raw.openai_usage_completions"
        ).fetchall()
    assert pulled == [("env-openai",)]
    for key in KEYS:
        assert key not in out + err
