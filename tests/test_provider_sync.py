"""Syncing provider endpoints into raw.* on a temp warehouse, against a real server on 127.0.0.1."""

from __future__ import annotations

import json
import logging
from datetime import date, timedelta
from decimal import Decimal

import duckdb
import httpx
import pytest
from cryptography.fernet import Fernet

from ingest import integrations
from ingest.integrations import EnabledIntegration
from ingest.paths import meterr_home
from ingest.providers import sync
from ingest.providers.http import (
    ApiKey,
    ProviderAuthError,
    ProviderRequestError,
    ProviderUnavailableError,
    RetryPolicy,
)
from ingest.providers.sync import (
    SyncGateError,
    contiguous_windows,
    days_to_sync,
    pull_start,
)

try:  # pytest's rootdir-relative import (tests/ as a package) or tests/ on sys.path
    from tests.fake_provider_server import FakeProviderServer, dumps
except ModuleNotFoundError:  # pragma: no cover - depends on how pytest was started
    from fake_provider_server import FakeProviderServer, dumps

OPENAI_KEY = "sk-admin-TEST-openai-0123456789abcdefWXYZ"
ANTHROPIC_KEY = "sk-ant-admin01-TEST-anthropic-0123456789QRST"
KEYS = {"openai": OPENAI_KEY, "anthropic": ANTHROPIC_KEY}

# Server metric (response field, dots = nested) -> raw column, per endpoint.
COLUMNS = {
    "openai_usage_completions": {
        m: m for m in sync.ENDPOINTS["openai_usage_completions"].table.non_negative
    },
    "openai_usage_embeddings": {
        "input_tokens": "input_tokens",
        "num_model_requests": "num_model_requests",
    },
    "openai_costs": {"amount.value": "amount_value", "quantity": "quantity"},
    "anthropic_usage_messages": {
        "uncached_input_tokens": "uncached_input_tokens",
        "cache_creation.ephemeral_5m_input_tokens": "cache_creation_5m_input_tokens",
        "cache_creation.ephemeral_1h_input_tokens": "cache_creation_1h_input_tokens",
        "cache_read_input_tokens": "cache_read_input_tokens",
        "output_tokens": "output_tokens",
        "server_tool_use.web_search_requests": "web_search_requests",
    },
    "anthropic_cost_report": {"amount": "amount_cents"},
}


@pytest.fixture
def server():
    with FakeProviderServer(page_size=2) as srv:
        yield srv


def no_wait_factory(attempts: int = 3, timeout: float = 2.0):
    def make(endpoint, key, base_url):
        return endpoint.make_client(
            key,
            base_url,
            sleep=lambda s: None,
            timeout=httpx.Timeout(timeout),
            retry=RetryPolicy(max_attempts=attempts),
        )

    return make


def run(
    server, home, endpoint, first=None, last=None, *, key=None, integration_id="env-test", **kw
):
    ep = sync.get_endpoint(endpoint)
    return sync.sync_window(
        home,
        ep,
        first or server.days[0],
        last or server.days[-1],
        api_key=key or KEYS[ep.provider],
        integration_id=integration_id,
        base_url=server.base_url(ep.provider),
        client_factory=no_wait_factory(),
        **kw,
    )


def query(home, sql, params=None):
    con = duckdb.connect(str(home.warehouse), read_only=True)
    try:
        return con.execute(sql, params or []).fetchall()
    finally:
        con.close()


def all_rows(home, table, *, exclude=(), where="true", params=None):
    """Every row of raw.<table> (all columns but ``exclude``), in a stable order."""
    cols = f"* EXCLUDE ({', '.join(exclude)})" if exclude else "*"
    return sorted(query(home, f"SELECT {cols} FROM raw.{table} WHERE {where}", params), key=repr)


def db_totals(home, endpoint, by="usage_date"):
    cols = COLUMNS[endpoint]
    sums = ", ".join(f'sum("{c}")' for c in cols.values())
    found = {}
    for row in query(home, f"SELECT {by}, {sums} FROM raw.{endpoint} GROUP BY ALL"):
        found[row[0]] = {m: v for m, v in zip(cols, row[1:], strict=True) if v is not None}
    return found


def served(server, endpoint, by="day"):
    return {k: v for k, v in server.served_totals(endpoint, by=by).items() if v}


# -- exact totals -------------------------------------------------------------------------------


@pytest.mark.parametrize("endpoint", list(sync.ENDPOINTS))
def test_raw_totals_equal_what_the_server_served(server, home, endpoint):
    result = run(server, home, endpoint)
    assert result.committed and result.pages == 5 and result.rows == server.served_rows(endpoint)
    assert query(home, f"SELECT count(*) FROM raw.{endpoint}")[0][0] == result.rows
    by_day = db_totals(home, endpoint)
    assert by_day == served(server, endpoint, "day")
    assert len(by_day) >= 7  # the data set has a few empty days, not many
    assert db_totals(home, endpoint, by="bucket_start") == served(server, endpoint, "bucket")
    assert {r[0] for r in query(home, f"SELECT DISTINCT _origin FROM raw.{endpoint}")} == {"api"}


def test_openai_costs_are_dollars_to_the_last_digit(server, home):
    run(server, home, "openai_costs")
    total = query(home, "SELECT sum(amount_value) FROM raw.openai_costs")[0][0]
    expected = sum(t["amount.value"] for t in served(server, "openai_costs").values())
    assert isinstance(total, Decimal) and total == expected
    assert (
        query(
            home, "SELECT count(*) FROM raw.openai_costs WHERE amount_value = 98765.432109876543"
        )[0][0]
        == 1
    )


def test_anthropic_cost_cents_become_dollars_exactly(server, home):
    run(server, home, "anthropic_cost_report")
    cents, usd, bad = query(
        home,
        "SELECT sum(amount_cents), sum(amount_usd), "
        "count(*) FILTER (amount_usd * 100 <> amount_cents) FROM raw.anthropic_cost_report",
    )[0]
    served_cents = sum(t["amount"] for t in served(server, "anthropic_cost_report").values())
    assert cents == served_cents
    assert usd == served_cents / 100 and bad == 0
    # A hundredth of a millionth of a cent survives: 1e-10 cents = 1e-12 dollars.
    assert query(
        home,
        "SELECT amount_usd FROM raw.anthropic_cost_report WHERE description = 'Web Search Usage'",
    )[0][0] == Decimal("1E-12")


# -- idempotency and windows --------------------------------------------------------------------


@pytest.mark.parametrize("endpoint", ["openai_usage_completions", "anthropic_cost_report"])
def test_rerunning_a_window_changes_nothing(server, home, endpoint):
    run(server, home, endpoint)
    load_times = ("_loaded_at", "extracted_at")  # differ between runs; nothing else may
    before = all_rows(home, endpoint, exclude=load_times)
    second = run(server, home, endpoint)
    assert second.committed
    assert all_rows(home, endpoint, exclude=load_times) == before
    assert db_totals(home, endpoint) == served(server, endpoint)


def test_sync_day_replaces_only_its_day(server, home):
    run(server, home, "anthropic_usage_messages")
    day = server.days[4]
    others = all_rows(home, "anthropic_usage_messages", where="usage_date <> ?", params=[day])
    for record in server.dataset["anthropic_usage_messages"][day]:
        record["output_tokens"] *= 10  # the provider revised that day
    result = sync.sync_day(
        home,
        "anthropic_usage_messages",
        day,
        api_key=ANTHROPIC_KEY,
        integration_id="env-test",
        base_url=server.anthropic_base_url,
        client_factory=no_wait_factory(),
    )
    assert result.committed and result.days == [day]
    assert others == all_rows(
        home, "anthropic_usage_messages", where="usage_date <> ?", params=[day]
    )
    assert db_totals(home, "anthropic_usage_messages") == served(server, "anthropic_usage_messages")


def test_windows_of_different_integrations_do_not_touch_each_other(server, home):
    run(server, home, "openai_costs", integration_id="a")
    run(server, home, "openai_costs", integration_id="b")
    run(server, home, "openai_costs", integration_id="a")
    counts = dict(query(home, "SELECT integration_id, count(*) FROM raw.openai_costs GROUP BY 1"))
    assert counts["a"] == counts["b"] == server.served_rows("openai_costs")
    con = duckdb.connect(str(home.warehouse), read_only=True)
    try:  # the same grain under two integrations is not a duplicate
        assert sync.duplicate_grain(con, sync.ENDPOINTS["openai_costs"], "raw.openai_costs") is None
    finally:
        con.close()


# -- failures leave the previous rows ---------------------------------------------------------


def test_failure_mid_pagination_keeps_the_previous_rows(server, home):
    run(server, home, "openai_usage_completions")
    before = all_rows(home, "openai_usage_completions")
    for records in server.dataset["openai_usage_completions"].values():
        for record in records:
            record["output_tokens"] += 1  # a commit would show
    server.die_after_page(2)
    with pytest.raises(ProviderUnavailableError, match="failed after 3 attempt"):
        run(server, home, "openai_usage_completions")
    assert [r["page_index"] for r in server.requests[-5:]] == [0, 1, 2, 2, 2]
    assert all_rows(home, "openai_usage_completions") == before
    audit = query(
        home,
        "SELECT outcome, http_status, message FROM meta.key_audit ORDER BY requested_at",
    )
    assert [a[0] for a in audit] == ["ok", "error"]
    assert "RemoteProtocolError" in audit[-1][2] or "disconnect" in audit[-1][2].lower()


def test_a_server_paging_past_the_window_is_stopped(server, home):
    """A server that ignores end_time and pages on into the future (new cursors, new buckets:
    an acceptance probe saw 3,238 requests before killing meterr) is stopped at its first page
    past the window, and nothing is committed."""
    original = server.respond
    calls = []

    def runaway(method, path, headers):
        status, hdrs, body, delay = original(method, path.split("&page=")[0], headers)
        page = json.loads(body)
        # The first page as asked, then each a window further on.
        shift = 86400 * (len(server.days) + len(calls)) if calls else 0
        for bucket in page["data"]:
            bucket["start_time"] += shift
            bucket["end_time"] += shift
        calls.append(path)
        page.update(has_more=True, next_page=f"page_runaway_{len(calls)}")
        return status, hdrs, json.dumps(page).encode(), delay

    server.respond = runaway
    with pytest.raises(ProviderRequestError, match="does not honour the window's end"):
        run(server, home, "openai_costs")
    assert len(calls) == 2
    tables = "SELECT table_name FROM duckdb_tables() WHERE schema_name = 'raw'"
    assert ("openai_costs",) not in query(home, tables)


def test_cost_lines_in_another_currency_are_kept_and_said(server, home, caplog):
    day = server.days[0]
    for record in server.dataset["openai_costs"][day]:
        record["amount"]["currency"] = "eur"
    caplog.set_level(logging.WARNING)
    run(server, home, "openai_costs", day, day)
    (lines,) = query(home, "SELECT count(*) FROM raw.openai_costs WHERE amount_currency = 'eur'")
    assert lines[0] > 0
    assert f"cost lines not in USD ({lines[0]} in EUR)" in caplog.text
    assert query(home, "SELECT DISTINCT amount_currency FROM raw.openai_costs") == [("eur",)]


def test_failure_of_a_single_day_keeps_that_day(server, home):
    day = server.days[0]
    run(server, home, "openai_costs", day, day)
    before = all_rows(home, "openai_costs")
    assert before
    server.die_after_page(0)
    with pytest.raises(ProviderUnavailableError):
        run(server, home, "openai_costs", day, day)
    assert all_rows(home, "openai_costs") == before


def test_a_gate_failure_commits_nothing(server, home):
    run(server, home, "anthropic_usage_messages")
    before = all_rows(home, "anthropic_usage_messages")
    server.dataset["anthropic_usage_messages"][server.days[0]][0]["output_tokens"] = -5
    # The refusal names the record by its place in the pulled window (the first day's first).
    refused = r"output_tokens.*: 1 unexpected row\(s\) \(row 1\)"
    with pytest.raises(SyncGateError, match=refused) as info:
        run(server, home, "anthropic_usage_messages")
    assert not info.value.result.committed and not info.value.result.gate.passed
    assert all_rows(home, "anthropic_usage_messages") == before
    assert query(home, "SELECT outcome FROM meta.key_audit ORDER BY requested_at")[-1][0] == "error"


@pytest.mark.parametrize(
    ("endpoint", "field", "value", "column"),
    [
        ("openai_usage_completions", "input_tokens", 10**24, "input_tokens"),
        ("anthropic_cost_report", "amount", "123456789012345678901234567890123.5", "amount_cents"),
    ],
)
def test_a_value_too_large_for_its_column_is_a_named_audited_refusal(
    server, home, endpoint, field, value, column
):
    run(server, home, endpoint)
    before = all_rows(home, endpoint)
    day = next(d for d, records in server.dataset[endpoint].items() if records)
    server.dataset[endpoint][day][0][field] = value
    with pytest.raises(SyncGateError, match=f"does not fit its column.*{column}") as info:
        run(server, home, endpoint)
    assert endpoint in str(info.value) and "LINE 1" not in str(info.value)
    assert all_rows(home, endpoint) == before
    outcome, message = query(
        home, "SELECT outcome, message FROM meta.key_audit ORDER BY requested_at"
    )[-1]
    assert outcome == "error" and column in message


@pytest.mark.parametrize(
    ("endpoint", "field", "value"),
    [
        ("openai_usage_completions", "output_tokens", 9 * 10**15),
        ("anthropic_usage_messages", "output_tokens", 9 * 10**18),
    ],
)
def test_a_count_that_fits_its_column_but_no_real_day_is_refused(
    server, home, endpoint, field, value
):
    """Within BIGINT, but tokens times a per-million price would overflow every later build."""
    run(server, home, endpoint)
    before = all_rows(home, endpoint)
    day = next(d for d, records in server.dataset[endpoint].items() if records)
    server.dataset[endpoint][day][0][field] = value
    with pytest.raises(SyncGateError, match=f"{field}.*max_value=100000000000"):
        run(server, home, endpoint)
    assert all_rows(home, endpoint) == before


def test_a_bucket_served_twice_fails_the_gate(server, home):
    original = server.respond

    def doubled(method, path, headers):
        status, hdrs, body, delay = original(method, path, headers)
        page = json.loads(body)
        page["data"] = page["data"] + page["data"][:1]
        return status, hdrs, dumps(page), delay

    server.respond = doubled
    with pytest.raises(SyncGateError, match="duplicate rows"):
        run(server, home, "openai_usage_embeddings")
    assert not query(
        home,
        "SELECT count(*) FROM information_schema.tables "
        "WHERE table_name = 'openai_usage_embeddings'",
    )[0][0]


@pytest.mark.parametrize("endpoint", ["openai_costs", "anthropic_cost_report"])
def test_a_response_without_some_days_buckets_keeps_those_days(server, home, endpoint):
    # The APIs answer a bucket for every day (`results: []` for no usage); a response that
    # stops short (no bucket for the last two days) must not wipe what is stored for them.
    run(server, home, endpoint)
    before = all_rows(home, endpoint)
    stored_days = sorted({row[0] for row in query(home, f"SELECT usage_date FROM raw.{endpoint}")})
    missing = set(stored_days[-2:])
    original = server.respond
    ep = sync.get_endpoint(endpoint)

    def short(method, path, headers):
        status, hdrs, body, delay = original(method, path, headers)
        if status == 200 and body:
            page = json.loads(body)
            page["data"] = [b for b in page["data"] if ep.bucket_day(b) not in missing]
            body = dumps(page)
        return status, hdrs, body, delay

    server.respond = short
    result = run(server, home, endpoint)
    assert result.committed and result.uncovered_days == 2
    after = all_rows(home, endpoint)
    kept = [row for row in before if row in after]
    # Every stored row of the two days is still there, as it was; the other days were replaced
    # (pulled again: a new extraction time).
    days = query(home, f"SELECT DISTINCT usage_date, extracted_at FROM raw.{endpoint}")
    assert {day for day, _ in days if day in missing} == missing
    assert len({at for day, at in days if day in missing}) == 1
    assert len({at for _, at in days}) == 2
    assert len(kept) == sum(1 for _ in query(
        home,
        f"SELECT 1 FROM raw.{endpoint} WHERE usage_date IN (SELECT unnest(?::DATE[]))",
        [sorted(missing)],
    ))
    audit = query(home, "SELECT message FROM meta.key_audit ORDER BY requested_at")[-1][0]
    assert "no bucket for 2 day(s)" in audit
    # Pulled only up to the day before the first missing one (the first pull had got to the
    # end): the next pull asks for the missing days again, and they come back.
    first_missing = min(missing)
    assert result.first_uncovered_day == first_missing
    through = sync.last_synced_days(home, "env-test")[endpoint]
    assert through == first_missing - timedelta(days=1)
    assert set(sync.days_to_sync(through, server.days[-1])) >= missing
    server.respond = original
    refill = run(server, home, endpoint, first_missing, server.days[-1])
    assert refill.uncovered_days == 0
    assert sync.last_synced_days(home, "env-test")[endpoint] == server.days[-1]


def test_auth_errors_are_audited_and_shown_on_the_integration(server, home, monkeypatch):
    env = {"METERR_SECRET_KEY": Fernet.generate_key().decode()}
    added = integrations.add_integration(
        home,
        user_id="alice",
        provider="openai",
        api_key=OPENAI_KEY,
        environ=env,
        verify=lambda provider, key: 200,
    )
    wrong = "sk-admin-REVOKED-0123456789abcdefghijklQRST"
    with pytest.raises(ProviderAuthError):
        run(server, home, "openai_costs", key=wrong, integration_id=added.integration_id)
    (listed,) = integrations.list_integrations(home, environ={})
    assert "OpenAI rejected the API key …QRST" in listed.last_error
    assert listed.last_sync_at is None
    audit = query(
        home,
        "SELECT outcome, http_status, key_last4, message FROM meta.key_audit "
        "WHERE endpoint = 'openai_costs'",
    )
    assert audit == [("auth_error", 401, "QRST", audit[0][3])]
    assert wrong not in audit[0][3]

    run(server, home, "openai_costs", integration_id=added.integration_id)
    (listed,) = integrations.list_integrations(home, environ={})
    assert listed.last_error is None and listed.last_sync_at is not None


# -- which days -----------------------------------------------------------------------------------


def test_days_to_sync_backfills_then_trails():
    today = date(2026, 3, 10)
    first = days_to_sync(None, today)
    assert len(first) == 30 and first[0] == date(2026, 2, 9) and first[-1] == today
    assert days_to_sync(today, today) == [date(2026, 3, 8), date(2026, 3, 9), today]
    # Two days of downtime: the gap is filled, and the trailing window still re-pulled.
    assert days_to_sync(date(2026, 3, 2), today)[0] == date(2026, 3, 3)
    assert days_to_sync(None, today, backfill_days=2) == [date(2026, 3, 9), today]
    assert contiguous_windows([today, date(2026, 3, 1), date(2026, 3, 2)]) == [
        (date(2026, 3, 1), date(2026, 3, 2)),
        (today, today),
    ]


def test_one_pull_starts_at_the_oldest_endpoints_first_missing_day():
    """`meterr run` and the schedule pull one window for every endpoint: it reaches back to the
    day after the oldest endpoint's last synced day (downtime is filled), at least the trailing
    days, the backfill for an endpoint never synced, and at most CATCH_UP_DAYS."""
    today = date(2026, 3, 10)
    assert pull_start([today, today], today) == date(2026, 3, 8)
    assert pull_start([today, date(2026, 3, 1)], today) == date(2026, 3, 2)
    assert pull_start([today, None], today) == date(2026, 2, 9)
    assert pull_start([], today) == date(2026, 3, 8)
    long_ago = today - timedelta(days=400)
    assert pull_start([long_ago], today) == today - timedelta(days=sync.CATCH_UP_DAYS - 1)


def test_sync_integration_backfills_then_pulls_the_trailing_window(server, home):
    today = server.days[-1]
    env = EnabledIntegration("env-openai", None, "openai", "OpenAI", ApiKey(OPENAI_KEY))
    results = sync.sync_integration(
        home,
        env,
        today=today,
        base_url=server.openai_base_url,
        client_factory=no_wait_factory(),
        backfill_days=10,
    )
    assert [r.endpoint for r in results] == [e.name for e in sync.endpoints_for("openai")]
    assert all(r.committed and r.first_day == server.days[0] for r in results)
    assert sync.last_synced_days(home, "env-openai") == {r.endpoint: today for r in results}

    server.requests.clear()
    again = sync.sync_integration(
        home, env, today=today, base_url=server.openai_base_url, client_factory=no_wait_factory()
    )
    assert all(r.committed and r.first_day == today - timedelta(days=2) for r in again)
    for endpoint in COLUMNS:
        if endpoint.startswith("openai"):
            assert db_totals(home, endpoint) == served(server, endpoint)


def test_sync_integration_stops_after_an_auth_error(server, home):
    bad = EnabledIntegration(
        "x", "bob", "anthropic", "A", ApiKey("sk-ant-admin01-BAD-00000000000000ZZZZ")
    )
    results = sync.sync_integration(
        home,
        bad,
        today=server.days[-1],
        base_url=server.anthropic_base_url,
        client_factory=no_wait_factory(),
    )
    assert len(results) == 1 and results[0].outcome == "auth_error" and not results[0].committed
    assert len(server.requests) == 1


def test_sync_integration_stops_when_the_server_does_not_answer(server, home):
    good = EnabledIntegration("x", "bob", "anthropic", "A", ApiKey(ANTHROPIC_KEY))
    server.delay(2.0, times=None)
    results = sync.sync_integration(
        home,
        good,
        today=server.days[-1],
        base_url=server.anthropic_base_url,
        client_factory=no_wait_factory(timeout=0.2),
    )
    assert len(results) == 1 and results[0].outcome == "error"
    assert "timed out 2 times in a row" in results[0].error
    assert len(server.requests) == 2  # not the other endpoint, not three attempts


# -- the key never leaks ------------------------------------------------------------------------


def test_the_key_never_reaches_disk_logs_or_output(tmp_path, caplog, capsys):
    caplog.set_level(logging.DEBUG)
    home = meterr_home(tmp_path / "home").ensure()
    stored = "sk-admin-STORED-0123456789abcdefghijkl7777"
    wrong = "sk-admin-WRONGKEY-0123456789abcdefghij8888"
    env = {"METERR_SECRET_KEY": Fernet.generate_key().decode()}
    messages = []
    with FakeProviderServer(page_size=3, openai_keys=(stored,), echo_key_in_errors=True) as srv:
        env["OPENAI_BASE_URL"] = srv.openai_base_url
        added = integrations.add_integration(
            home, user_id="alice", provider="openai", api_key=stored, environ=env
        )
        with pytest.raises(ProviderAuthError) as info:
            integrations.add_integration(
                home, user_id="bob", provider="openai", api_key=wrong, environ=env
            )
        messages.append(str(info.value))
        (enabled,) = integrations.enabled_integrations(home, env)
        messages.append(repr(enabled))
        for result in sync.sync_integration(
            home,
            enabled,
            today=srv.days[-1],
            base_url=srv.openai_base_url,
            client_factory=no_wait_factory(),
            backfill_days=10,
        ):
            assert result.committed
        srv.fail_with(429, headers={"Retry-After": "0"})
        for key in (stored, wrong):
            try:
                run(srv, home, "openai_costs", key=key, integration_id=added.integration_id)
            except ProviderAuthError as exc:
                messages.append(str(exc))
        messages.extend(repr(i) for i in integrations.list_integrations(home, environ=env))
        print(messages)  # what a CLI would print
    files = [p for p in home.root.rglob("*") if p.is_file()]
    assert home.warehouse in files
    out, err = capsys.readouterr()
    for key in (stored, wrong):
        for path in files:
            assert key.encode() not in path.read_bytes(), path
        assert key not in caplog.text
        assert key not in out and key not in err
        assert all(key not in m for m in messages)
    assert "retrying" in caplog.text and "…8888" in out
