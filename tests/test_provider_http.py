"""The provider HTTP client against a real server on 127.0.0.1: paging, retries, errors, leaks."""

from __future__ import annotations

import copy
import gzip
import json
import logging
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import httpx
import pytest

from ingest.providers import anthropic_api, openai_api
from ingest.providers.base import ResponseShapeError
from ingest.providers.http import (
    ApiKey,
    ProviderAuthError,
    ProviderRequestError,
    ProviderUnavailableError,
    RetryPolicy,
    mask_key,
    retry_after_seconds,
)

try:  # pytest's rootdir-relative import (tests/ as a package) or tests/ on sys.path
    from tests.fake_provider_server import FakeProviderServer
except ModuleNotFoundError:  # pragma: no cover - depends on how pytest was started
    from fake_provider_server import FakeProviderServer

OPENAI_KEY = "sk-admin-TEST-openai-0123456789abcdefWXYZ"
ANTHROPIC_KEY = "sk-ant-admin01-TEST-anthropic-0123456789QRST"


@pytest.fixture
def server():
    with FakeProviderServer(page_size=2) as srv:
        yield srv


def openai_client(server, sleeps=None, *, key=OPENAI_KEY, timeout=5.0, attempts=4, rng=None):
    return openai_api.make_client(
        key,
        server.openai_base_url,
        sleep=sleeps.append if sleeps is not None else (lambda s: None),
        timeout=httpx.Timeout(timeout),
        retry=RetryPolicy(max_attempts=attempts),
        rng=rng or (lambda: 0.5),
    )


def anthropic_client(server, sleeps=None, *, key=ANTHROPIC_KEY, attempts=4):
    return anthropic_api.make_client(
        key,
        server.anthropic_base_url,
        sleep=sleeps.append if sleeps is not None else (lambda s: None),
        timeout=httpx.Timeout(5.0),
        retry=RetryPolicy(max_attempts=attempts),
    )


def window_params(server):
    return openai_api.window_params(server.days[0], server.days[-1])


# -- pagination -------------------------------------------------------------------------------


def test_pagination_follows_next_page_to_the_end(server):
    with openai_client(server) as client:
        pages = list(openai_api.completions_pages(client, server.days[0], server.days[-1]))
    # 10 days, 2 buckets per page: 5 pages, every day exactly once, last page has_more=false.
    assert len(pages) == 5
    assert [p["has_more"] for p in pages] == [True, True, True, True, False]
    starts = [b["start_time"] for p in pages for b in p["data"]]
    assert len(starts) == len(set(starts)) == 10
    assert [r["page_index"] for r in server.requests] == [0, 1, 2, 3, 4]


def test_anthropic_pagination_to_the_end(server):
    with anthropic_client(server) as client:
        pages = list(anthropic_api.usage_pages(client, server.days[0], server.days[-1]))
    assert len(pages) == 5
    days = [b["starting_at"][:10] for p in pages for b in p["data"]]
    assert days == [d.isoformat() for d in server.days]


def test_paginate_never_mutates_the_callers_params(server):
    params = {**window_params(server), "group_by": ["model", "project_id"]}
    before = copy.deepcopy(params)
    with openai_client(server) as client:
        assert len(list(client.paginate(openai_api.COMPLETIONS_PATH, params))) == 5
    assert params == before
    # The cursor travelled as `page`, never in the caller's dict.
    assert [("page" in dict(r["pairs"])) for r in server.requests] == [False] + [True] * 4


def test_has_more_without_cursor_is_an_error(server):
    server.page_size = None
    original = server.respond

    def broken(method, path, headers):
        status, hdrs, body, delay = original(method, path, headers)
        return status, hdrs, body.replace(b'"has_more": false', b'"has_more": true'), delay

    server.respond = broken
    with openai_client(server) as client, pytest.raises(ProviderRequestError, match="next_page"):
        list(client.paginate(openai_api.COSTS_PATH, window_params(server)))


def _same_cursor(page: dict, call: int) -> None:
    """The same cursor every time, over new buckets: only the cursor gives the loop away."""
    page["data"] = page["data"][call:]
    page.update(has_more=True, next_page="page_same")


def _fresh_cursors(page: dict, call: int) -> None:
    """The first page again under a new-looking cursor: only the repeated buckets give it away."""
    page.update(has_more=True, next_page=f"page_fresh_{call}")


@pytest.mark.parametrize(
    ("rewrite", "message"),
    [
        (_same_cursor, "the page cursor repeated"),
        (_fresh_cursors, "repeated buckets already received"),
    ],
    ids=["cursor given twice", "fresh cursors, same buckets"],
)
def test_a_looping_cursor_stops_at_the_second_page(server, rewrite, message):
    """Caught on the second page, not after MAX_PAGES requests."""
    original = server.respond
    calls = []

    def looping(method, path, headers):
        # Every answer is built from the first page (the cursor meterr sends is ignored).
        status, hdrs, body, delay = original(method, path.split("&page=")[0], headers)
        page = json.loads(body)
        rewrite(page, len(calls))
        calls.append(path)
        return status, hdrs, json.dumps(page).encode(), delay

    server.respond = looping
    with openai_client(server) as client, pytest.raises(ProviderRequestError, match=message):
        list(client.paginate(openai_api.COMPLETIONS_PATH, window_params(server)))
    assert len(calls) == 2


def test_empty_pages_with_fresh_cursors_stop_after_three(server):
    """A server paging through nothing, a new cursor each time, stops at the third empty page
    (found by an acceptance probe: 5,275 requests in four minutes before this check)."""
    calls = []

    def nothing_forever(method, path, headers):
        calls.append(path)
        page = {"object": "page", "data": [], "has_more": True, "next_page": f"p{len(calls)}"}
        return 200, {}, json.dumps(page).encode(), 0.0

    server.respond = nothing_forever
    with openai_client(server) as client, pytest.raises(
        ProviderRequestError, match="3 pages in a row held no buckets while has_more stayed true"
    ):
        list(client.paginate(openai_api.COMPLETIONS_PATH, window_params(server)))
    assert len(calls) == 3


def test_one_empty_page_between_full_ones_is_passed_over(server):
    original = server.respond
    calls = []

    def one_empty(method, path, headers):
        calls.append(path)
        if len(calls) == 1:
            # An empty page whose cursor is the fake server's own for its first page
            # (base64 of "offset:page" = "0:0").
            page = {"object": "page", "data": [], "has_more": True, "next_page": "page_MDow"}
            return 200, {}, json.dumps(page).encode(), 0.0
        return original(method, path, headers)

    server.respond = one_empty
    with openai_client(server) as client:
        pages = list(client.paginate(openai_api.COSTS_PATH, window_params(server)))
    assert pages[0]["data"] == [] and all(p["data"] for p in pages[1:])
    assert not pages[-1]["has_more"]


# -- group_by encodings -------------------------------------------------------------------------


@pytest.mark.parametrize("key", ["group_by", "group_by[]"])
def test_both_group_by_encodings_reach_the_server(server, key):
    params = {**window_params(server), key: ["model", "project_id"]}
    with openai_client(server) as client:
        pages = list(client.paginate(openai_api.COMPLETIONS_PATH, params))
    assert all(g == ["model", "project_id"] for g in server.group_bys())
    assert any(k == key for k, _ in server.requests[0]["pairs"])
    results = [r for p in pages for b in p["data"] for r in b["results"]]
    assert results and all(r["model"] and r["project_id"] for r in results)
    assert all(r["api_key_id"] is None for r in results)  # not grouped -> null


def test_modules_send_their_documented_encodings(server):
    with openai_client(server) as client:
        list(openai_api.costs_pages(client, server.days[0], server.days[0]))
    with anthropic_client(server) as client:
        list(anthropic_api.cost_pages(client, server.days[0], server.days[0]))
    openai_req, anthropic_req = server.requests
    assert [v for k, v in openai_req["pairs"] if k == "group_by"] == list(openai_api.COSTS_GROUP_BY)
    assert [v for k, v in anthropic_req["pairs"] if k == "group_by[]"] == list(
        anthropic_api.COST_GROUP_BY
    )
    assert anthropic_req["headers"]["anthropic-version"] == "2023-06-01"
    assert anthropic_req["headers"]["user-agent"].startswith("meterr/0.1")


# -- retries ----------------------------------------------------------------------------------


def test_429_with_retry_after_is_honoured(server):
    server.fail_with(429, headers={"Retry-After": "7"})
    sleeps: list[float] = []
    with openai_client(server, sleeps) as client:
        page = client.get_json(openai_api.COSTS_PATH, window_params(server))
    assert page["object"] == "page"
    assert sleeps == [7.0]
    assert len(server.requests) == 2


def test_retry_after_ms_wins_over_retry_after(server):
    server.fail_with(529, headers={"retry-after-ms": "1500", "Retry-After": "9"})
    sleeps: list[float] = []
    with anthropic_client(server, sleeps) as client:
        client.get_json(anthropic_api.COST_PATH, anthropic_api.window_params(*server.days[:2]))
    assert sleeps == [1.5]


def test_a_404_names_the_url_it_asked(server):
    # The usual cause is a base URL without its version: OPENAI_BASE_URL=http://host, no /v1.
    versionless = server.openai_base_url.removesuffix("/v1")
    client = openai_api.make_client(OPENAI_KEY, versionless, sleep=lambda s: None)
    with client, pytest.raises(ProviderRequestError) as info:
        client.get_json(openai_api.COSTS_PATH, window_params(server))
    assert f"HTTP 404 at {versionless}{openai_api.COSTS_PATH}:" in str(info.value)
    assert len(server.requests) == 1  # not retried


def test_a_retry_after_of_zero_still_backs_off(server):
    # Anthropic's SDK honours only 0 < retry-after <= 60; a 0 would retry at once, six times
    # within a fifth of a second (found by an acceptance probe). Backoff with jitter instead.
    server.fail_with(429, headers={"Retry-After": "0"})
    sleeps: list[float] = []
    with openai_client(server, sleeps) as client:
        client.get_json(openai_api.COSTS_PATH, window_params(server))
    assert sleeps == [0.5]  # rng 0.5 x base 1 s, the first attempt's ceiling


def test_retry_after_is_capped(server):
    server.fail_with(503, headers={"Retry-After": "3600"})
    sleeps: list[float] = []
    with openai_client(server, sleeps) as client:
        client.get_json(openai_api.COSTS_PATH, window_params(server))
    assert sleeps == [60.0]


def test_retry_after_http_date():
    now = datetime(2026, 1, 1, 12, 0, 0, tzinfo=UTC)
    headers = httpx.Headers({"Retry-After": "Thu, 01 Jan 2026 12:00:30 GMT"})
    assert retry_after_seconds(headers, now=now) == 30.0
    assert retry_after_seconds(httpx.Headers({"Retry-After": "2"})) == 2.0
    assert retry_after_seconds(httpx.Headers({"Retry-After": "soon"})) is None
    assert retry_after_seconds(httpx.Headers({})) is None


def test_500_then_success_uses_jittered_backoff(server):
    server.fail_with(500, times=2)
    sleeps: list[float] = []
    with openai_client(server, sleeps, rng=lambda: 0.5) as client:
        page = client.get_json(openai_api.COSTS_PATH, window_params(server))
    assert page["data"]
    # Full jitter: rng() x min(cap, base x 2^(attempt-1)) = 0.5 x 1, then 0.5 x 2.
    assert sleeps == [0.5, 1.0]


def test_full_jitter_bounds():
    policy = RetryPolicy(base_delay_s=1.0, max_delay_s=60.0)
    assert policy.delay(1, None, lambda: 0.999) < 1.0
    assert policy.delay(10, None, lambda: 1.0) == 60.0
    assert policy.delay(3, None, lambda: 0.0) == 0.0


def test_timeout_then_success(server):
    server.delay(1.5)
    sleeps: list[float] = []
    with openai_client(server, sleeps, timeout=0.3) as client:
        page = client.get_json(openai_api.COSTS_PATH, window_params(server))
    assert page["data"]
    assert len(sleeps) == 1
    assert client.requests == 2


def test_a_server_that_does_not_answer_is_given_up_after_two_timeouts(server):
    # Six attempts of a 60 s read timeout held a run 6.5 minutes per endpoint when a provider
    # stalled (found by an acceptance probe); two timeouts in a row say it is not answering.
    server.delay(2.0, times=None)
    sleeps: list[float] = []
    with openai_client(server, sleeps, timeout=0.2, attempts=6) as client:
        with pytest.raises(ProviderUnavailableError) as info:
            client.get_json(openai_api.COSTS_PATH, window_params(server))
    assert info.value.stalled
    assert client.requests == 2 and len(sleeps) == 1
    message = str(info.value)
    assert "timed out 2 times in a row (ReadTimeout: no data within 0.2 s)" in message, message
    assert "the server does not answer" in message


def test_a_timeout_between_other_failures_is_not_a_stall(server):
    # Only timeouts in a row count: a timeout, a 503, a timeout is three attempts, then success.
    original = server.respond
    calls = []

    def flaky(method, path, headers):
        calls.append(path)
        status, hdrs, body, _ = original(method, path, headers)
        if len(calls) in (1, 3):
            return status, hdrs, body, 2.0  # answered only after the client gave up
        if len(calls) == 2:
            return 503, {}, b'{"error": {"message": "busy"}}', 0.0
        return status, hdrs, body, 0.0

    server.respond = flaky
    with openai_client(server, timeout=0.2, attempts=6) as client:
        page = client.get_json(openai_api.COSTS_PATH, window_params(server))
    assert page["data"]
    assert client.requests == 4


@contextmanager
def answering(body: bytes, *, headers: dict[str, str], byte_every_s: float = 0.0) -> Iterator[str]:
    """A 127.0.0.1 server answering every GET with 200 and ``body`` (one byte per
    ``byte_every_s`` seconds when set); yields its base URL."""

    class Handler(BaseHTTPRequestHandler):
        def log_message(self, *args) -> None:
            pass

        def do_GET(self) -> None:  # noqa: N802 - stdlib name
            self.send_response(200)
            for name, value in {**headers, "Content-Length": str(len(body))}.items():
                self.send_header(name, value)
            self.end_headers()
            try:
                if not byte_every_s:
                    self.wfile.write(body)
                    return
                for index in range(len(body)):
                    self.wfile.write(body[index : index + 1])
                    self.wfile.flush()
                    time.sleep(byte_every_s)
            except OSError:
                pass  # the client gave up

    httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    httpd.daemon_threads = True
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{httpd.server_address[1]}/v1"
    finally:
        httpd.shutdown()
        httpd.server_close()


def test_a_response_trickling_in_is_given_up_at_the_deadline():
    # Each byte comes well within the read timeout, so only a deadline on the whole response
    # stops it: without one the pull waits as long as the server keeps dribbling.
    body = json.dumps({"data": [], "has_more": False}).encode()
    with answering(body, headers={"Content-Type": "application/json"}, byte_every_s=0.2) as url:
        client = openai_api.make_client(
            OPENAI_KEY,
            url,
            sleep=lambda s: None,
            timeout=httpx.Timeout(5.0),
            retry=RetryPolicy(max_attempts=2),
            response_deadline_s=1.0,
        )
        started = time.monotonic()
        with client, pytest.raises(
            ProviderUnavailableError, match=r"after 2 attempt\(s\): .*longer than 1 s"
        ):
            client.get_json(openai_api.COSTS_PATH, {})
    assert time.monotonic() - started < 5, "two attempts of about a second each"


def test_a_gzip_encoded_response_is_decoded_once():
    page = {"object": "page", "data": [], "has_more": False, "next_page": None}
    body = gzip.compress(json.dumps(page).encode())
    headers = {"Content-Type": "application/json", "Content-Encoding": "gzip"}
    with answering(body, headers=headers) as url:
        with openai_api.make_client(OPENAI_KEY, url, sleep=lambda s: None) as client:
            assert client.get_json(openai_api.COSTS_PATH, {}) == page


def test_dropped_connection_then_success(server):
    server.die_after_page(0, times=1)
    with openai_client(server) as client:
        assert client.get_json(openai_api.COSTS_PATH, window_params(server))["data"]
    assert client.requests == 2


def test_retries_run_out(server):
    server.fail_with(502, times=None)
    sleeps: list[float] = []
    with openai_client(server, sleeps, attempts=3) as client:
        with pytest.raises(
            ProviderUnavailableError, match=r"OpenAI .* after 3 attempt\(s\): HTTP 502"
        ):
            client.get_json(openai_api.COSTS_PATH, window_params(server))
    assert len(server.requests) == 3 and len(sleeps) == 2


def test_a_200_body_that_is_not_json_is_retried_then_reported_with_its_position(server):
    """A body mangled on the way (here: cut short with a matching length) is asked for again;
    one that stays broken is an error naming where the JSON breaks."""
    original = server.respond
    broken = {"left": 1}

    def truncated(method, path, headers):
        status, hdrs, body, delay = original(method, path, headers)
        if broken["left"]:
            broken["left"] -= 1
            body = body[: len(body) // 2]
        return status, hdrs, body, delay

    server.respond = truncated
    sleeps: list[float] = []
    with openai_client(server, sleeps) as client:
        assert client.get_json(openai_api.COSTS_PATH, window_params(server))["data"]
    assert client.requests == 2 and len(sleeps) == 1

    broken["left"] = 99
    with openai_client(server, attempts=3) as client, pytest.raises(
        ProviderRequestError, match=r"not JSON \(.* at line 1 column \d+\), 3 time\(s\)"
    ):
        client.get_json(openai_api.COSTS_PATH, window_params(server))
    assert client.requests == 3


def test_other_4xx_is_not_retried_and_carries_the_message(server):
    server.fail_with(
        400,
        body={"error": {"message": "Invalid value for group_by", "type": "invalid_request_error"}},
    )
    sleeps: list[float] = []
    with openai_client(server, sleeps) as client, pytest.raises(ProviderRequestError) as info:
        client.get_json(openai_api.COSTS_PATH, window_params(server))
    assert "HTTP 400" in str(info.value) and "Invalid value for group_by" in str(info.value)
    assert info.value.status == 400 and sleeps == [] and len(server.requests) == 1


# -- bad keys -----------------------------------------------------------------------------------


def test_openai_bad_key_is_a_clear_auth_error(server):
    bad = "sk-admin-WRONG-0123456789abcdefghijklmnABCD"
    sleeps: list[float] = []
    with openai_client(server, sleeps, key=bad) as client, pytest.raises(ProviderAuthError) as info:
        client.get_json(openai_api.COSTS_PATH, window_params(server))
    text = str(info.value)
    assert info.value.provider == "openai" and info.value.status == 401
    assert "OpenAI" in text and "…ABCD" in text and "HTTP 401" in text
    assert "Incorrect API key provided" in text  # the provider's own message
    assert "sk-admin-" in text and "api.usage.read" in text  # what kind of key is needed
    assert bad not in text and bad[:-4] not in text
    assert sleeps == [] and len(server.requests) == 1  # never retried


def test_openai_project_key_gets_a_permission_error(server):
    project_key = "sk-proj-0123456789abcdefghijklmnopqrEFGH"
    with openai_client(server, key=project_key) as client, pytest.raises(ProviderAuthError) as info:
        client.get_json(openai_api.COMPLETIONS_PATH, window_params(server))
    assert info.value.status == 403
    assert "Missing scopes: api.usage.read" in str(info.value)
    assert "…EFGH" in str(info.value) and project_key not in str(info.value)


@pytest.mark.parametrize(
    ("bad", "status"),
    [("sk-ant-admin01-WRONG-0123456789abcdefIJKL", 401), ("sk-ant-api03-0123456789abcdIJKL", 403)],
)
def test_anthropic_bad_key_is_a_clear_auth_error(server, bad, status):
    with anthropic_client(server, key=bad) as client, pytest.raises(ProviderAuthError) as info:
        client.get_json(anthropic_api.USAGE_PATH, anthropic_api.window_params(*server.days[:2]))
    text = str(info.value)
    assert info.value.provider == "anthropic" and info.value.status == status
    assert "Anthropic" in text and "…IJKL" in text and "sk-ant-admin" in text
    assert ("invalid x-api-key" in text) if status == 401 else ("permission" in text)
    assert bad not in text


def test_a_key_echoed_by_the_provider_is_scrubbed(caplog, capsys):
    caplog.set_level(logging.DEBUG)
    bad = "sk-admin-ECHOED-0123456789abcdefghijklmMNOP"
    with FakeProviderServer(echo_key_in_errors=True) as srv:
        with openai_client(srv, key=bad) as client:
            assert bad not in repr(client)
            with pytest.raises(ProviderAuthError) as info:
                client.get_json(openai_api.COSTS_PATH, window_params(srv))
    assert bad not in str(info.value) and "…MNOP" in str(info.value)
    out, err = capsys.readouterr()
    assert bad not in caplog.text and bad not in out and bad not in err


def test_api_key_never_shows_itself():
    key = ApiKey("sk-admin-SECRET-0123456789abcdefWXYZ")
    assert str(key) == repr(key) == "ApiKey('…WXYZ')"
    assert f"{key}" == "ApiKey('…WXYZ')" and key.masked == "…WXYZ"
    assert mask_key("sk-admin-SECRET-0123456789abcdefWXYZ") == "…WXYZ"
    assert ApiKey("short").masked == "…"  # too short to show any of it
    with pytest.raises(ValueError) as info:
        ApiKey("sk-admin-with space")
    assert "with space" not in str(info.value)
    with pytest.raises(TypeError):
        import pickle

        pickle.dumps(key)


def test_retry_logs_never_contain_the_key(server, caplog):
    caplog.set_level(logging.DEBUG)
    server.fail_with(429, headers={"Retry-After": "1"})
    server.fail_with(500, path="/costs")
    with openai_client(server) as client:
        client.get_json(openai_api.COSTS_PATH, window_params(server))
        client.get_json(openai_api.COSTS_PATH, window_params(server))
    assert "retrying" in caplog.text
    assert OPENAI_KEY not in caplog.text


# -- flattening ---------------------------------------------------------------------------------


def test_openai_costs_keep_every_digit_of_the_json_number(server):
    with openai_client(server) as client:
        pages = list(openai_api.costs_pages(client, server.days[0], server.days[0]))
    rows = openai_api.flatten_costs(pages, extracted_at=datetime(2026, 1, 1), integration_id="x")
    amounts = {r["line_item"]: r["amount_value"] for r in rows}
    # 17 significant digits: a float would have turned this into 98765.43210987654.
    assert amounts["Web search"] == Decimal("98765.432109876543")
    assert all(isinstance(r["amount_value"], Decimal) for r in rows)


def test_openai_first_bucket_may_start_mid_day():
    start = int(datetime(2026, 3, 4, 15, 31, tzinfo=UTC).timestamp())
    midnight = int(datetime(2026, 3, 5, tzinfo=UTC).timestamp())
    page = {
        "object": "page",
        "data": [
            {
                "object": "bucket",
                "start_time": start,
                "end_time": midnight,
                "results": [{"input_tokens": 10, "output_tokens": 2, "num_model_requests": 1}],
            },
            {
                "object": "bucket",
                "start_time": midnight,
                "end_time": midnight + 86400,
                "results": [],
            },
        ],
        "has_more": False,
        "next_page": None,
    }
    rows = openai_api.flatten_completions(
        [page], extracted_at=datetime(2026, 3, 6), integration_id="i"
    )
    assert len(rows) == 1
    assert rows[0]["usage_date"] == date(2026, 3, 4)
    assert rows[0]["bucket_start"] == datetime(2026, 3, 4, 15, 31)
    # Older responses have no cache-write/uncached split: NULL, not 0.
    assert rows[0]["input_cache_write_tokens"] is None and rows[0]["input_uncached_tokens"] is None
    assert rows[0]["model"] is None and rows[0]["batch"] is None


def test_anthropic_rows_read_nested_cache_writes_and_cents():
    usage_page = {
        "data": [
            {
                "starting_at": "2025-08-01T00:00:00Z",
                "ending_at": "2025-08-02T00:00:00Z",
                "results": [
                    {
                        "uncached_input_tokens": 1500,
                        "cache_creation": {
                            "ephemeral_1h_input_tokens": 1000,
                            "ephemeral_5m_input_tokens": 500,
                        },
                        "cache_read_input_tokens": 200,
                        "output_tokens": 500,
                        "server_tool_use": {"web_search_requests": 10},
                        "model": "claude-sonnet-4-20250514",
                        "workspace_id": None,
                    }
                ],
            }
        ],
        "has_more": False,
        "next_page": None,
    }
    (row,) = anthropic_api.flatten_usage(
        [usage_page], extracted_at=datetime(2025, 8, 3), integration_id="i"
    )
    assert row["cache_creation_5m_input_tokens"] == 500
    assert row["cache_creation_1h_input_tokens"] == 1000
    assert row["web_search_requests"] == 10 and row["usage_date"] == date(2025, 8, 1)
    cost_page = {
        "data": [
            {
                "starting_at": "2025-08-01T00:00:00Z",
                "ending_at": "2025-08-02T00:00:00Z",
                "results": [{"currency": "USD", "amount": "123.78912", "workspace_id": None}],
            }
        ],
        "has_more": False,
        "next_page": None,
    }
    (cost,) = anthropic_api.flatten_cost(
        [cost_page], extracted_at=datetime(2025, 8, 3), integration_id="i"
    )
    assert cost["amount_cents"] == Decimal("123.78912")
    assert cost["amount_usd"] == Decimal("1.2378912")  # cents, not dollars


def test_wrong_types_are_rejected():
    page = {
        "data": [
            {
                "starting_at": "2025-08-01T00:00:00Z",
                "ending_at": "2025-08-02T00:00:00Z",
                "results": [{"uncached_input_tokens": 1.5, "output_tokens": 1}],
            }
        ],
        "has_more": False,
    }
    with pytest.raises(ResponseShapeError, match="uncached_input_tokens"):
        anthropic_api.flatten_usage([page], extracted_at=datetime(2025, 8, 3), integration_id="i")


def test_window_params_cover_whole_utc_days():
    params = openai_api.window_params(date(2026, 1, 30), date(2026, 2, 1))
    assert params["start_time"] == int(datetime(2026, 1, 30, tzinfo=UTC).timestamp())
    assert params["end_time"] == int(datetime(2026, 2, 2, tzinfo=UTC).timestamp())
    assert params["limit"] == 3 and params["bucket_width"] == "1d"
    long = anthropic_api.window_params(date(2026, 1, 1), date(2026, 1, 1) + timedelta(days=99))
    assert long["starting_at"] == "2026-01-01T00:00:00Z" and long["limit"] == 31
