"""The webhook receiver over real HTTP on 127.0.0.1: uvicorn in a thread, httpx as the sender."""

from __future__ import annotations

import hashlib
import hmac
import json
import logging
import os
import re
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path

import httpx
import pytest
import uvicorn

from ingest.paths import MeterrHome, meterr_home
from ingest.webhooks import (
    SIGNATURE_HEADER,
    TIMESTAMP_HEADER,
    create_app,
    secrets_from_env,
    sign,
)

SECRET = "test-secret-openai-0123456789"
NOW = 1_750_000_000  # a fixed "receiver clock" so freshness is deterministic
JSON_BODY = b'{"data": [{"model": "gpt-4o", "input_tokens": 12, "output_tokens": 3}]}'
FILE_NAME = re.compile(r"^\d{8}T\d{6}Z-[0-9a-f]{16}\.(json|jsonl|csv)$")


class FakeClock:
    """A settable receiver clock (Unix seconds)."""

    def __init__(self, now: float) -> None:
        self.now = now

    def __call__(self) -> float:
        return self.now


@contextmanager
def running(app) -> Iterator[str]:
    """Serve ``app`` with uvicorn on a free 127.0.0.1 port; yields the base URL."""
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.bind(("127.0.0.1", 0))
    port = sock.getsockname()[1]
    server = uvicorn.Server(uvicorn.Config(app, log_level="warning", lifespan="off"))
    thread = threading.Thread(target=server.run, kwargs={"sockets": [sock]}, daemon=True)
    thread.start()
    deadline = time.monotonic() + 10
    while not server.started:
        if not thread.is_alive() or time.monotonic() > deadline:
            raise RuntimeError("uvicorn did not start")
        time.sleep(0.01)
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        server.should_exit = True
        thread.join(10)
        sock.close()


@pytest.fixture
def home(tmp_path: Path) -> MeterrHome:
    return meterr_home(tmp_path / "meterr")


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock(NOW)


@pytest.fixture
def serve_app(home: MeterrHome, clock: FakeClock) -> Iterator[Callable[..., httpx.Client]]:
    """Start a receiver (extra ``create_app`` keywords allowed) and return an httpx client."""
    stack: list = []

    def start(**kwargs) -> httpx.Client:
        kwargs.setdefault("secrets", {"openai": SECRET})
        kwargs.setdefault("clock", clock)
        ctx = running(create_app(home, **kwargs))
        base = ctx.__enter__()
        client = httpx.Client(base_url=base, timeout=10)
        stack.append((ctx, client))
        return client

    yield start
    for ctx, client in reversed(stack):
        client.close()
        ctx.__exit__(None, None, None)


def drop_dir(home: MeterrHome, source: str) -> Path:
    return home.drop / "webhooks" / source


def listing(home: MeterrHome, source: str) -> list[str]:
    """Every entry in the source's drop folder, dot files included."""
    return sorted(p.name for p in drop_dir(home, source).iterdir())


def post(
    client: httpx.Client,
    body: bytes,
    *,
    source: str = "openai",
    secret: str = SECRET,
    timestamp: int = NOW,
    content_type: str = "application/json",
    headers: dict[str, str] | None = None,
) -> httpx.Response:
    sent = {"Content-Type": content_type, **sign(secret, body, timestamp)}
    if headers is not None:
        sent = headers
    return client.post(f"/webhooks/{source}", content=body, headers=sent)


# --- the signature helper -----------------------------------------------------------------


def test_sign_is_hmac_sha256_over_timestamp_dot_body() -> None:
    headers = sign("k", b'{"a":1}', 1700000000)
    expected = hmac.new(b"k", b'1700000000.{"a":1}', hashlib.sha256).hexdigest()
    assert headers == {TIMESTAMP_HEADER: "1700000000", SIGNATURE_HEADER: f"v1={expected}"}


def test_secrets_from_env_per_source_overrides_shared() -> None:
    env = {
        "METERR_WEBHOOK_SECRET": "shared",
        "METERR_WEBHOOK_SECRET_ANTHROPIC": "own",
        "METERR_WEBHOOK_SECRET_HELICONE": "",  # empty counts as unset
        "METERR_WEBHOOK_SECRET_LANGFUSE": "   ",  # and so does blank
    }
    assert secrets_from_env(env) == {"*": "shared", "anthropic": "own"}
    assert secrets_from_env({}) == {}


def test_unknown_source_in_secrets_is_a_configuration_error(home: MeterrHome) -> None:
    with pytest.raises(ValueError, match="opneai"):
        create_app(home, secrets={"opneai": "x"})


# --- accepted payloads --------------------------------------------------------------------


def test_signed_json_is_written_with_exact_bytes_and_no_temp_file(serve_app, home) -> None:
    client = serve_app()
    response = post(client, JSON_BODY)

    assert response.status_code == 202, response.text
    answer = response.json()
    sha = hashlib.sha256(JSON_BODY).hexdigest()
    assert answer["status"] == "accepted"
    assert answer["sha256"] == sha
    assert answer["file"].startswith("webhooks/openai/")
    written = home.drop / answer["file"]
    assert written.read_bytes() == JSON_BODY
    assert FILE_NAME.match(written.name)
    assert written.name.endswith(f"-{sha[:16]}.json")
    assert written.name.startswith("20250615T")  # NOW is 2025-06-15 15:06:40 UTC
    # Nothing else: no ".part" (or any dot file) left for the drop-folder sensor to trip on.
    assert listing(home, "openai") == [written.name]


@pytest.mark.parametrize(
    ("content_type", "body", "extension"),
    [
        ("application/x-ndjson", b'{"a": 1}\n{"a": 2}\n', ".jsonl"),
        ("application/jsonl; charset=utf-8", b'{"a": 1}\n\n{"a": 2}', ".jsonl"),
        ("text/csv; charset=utf-8", b"date,model,tokens\n2025-06-01,gpt-4o,12\n", ".csv"),
        ("Application/JSON", b"[1, 2, 3]", ".json"),
    ],
)
def test_content_type_picks_the_extension(
    serve_app, home, content_type: str, body: bytes, extension: str
) -> None:
    client = serve_app()
    response = post(client, body, content_type=content_type)
    assert response.status_code == 202, response.text
    written = home.drop / response.json()["file"]
    assert written.suffix == extension
    assert written.read_bytes() == body


def test_shared_secret_serves_every_source(serve_app, home) -> None:
    client = serve_app(secrets={"*": "shared", "anthropic": "own"})
    assert post(client, b'{"x": 1}', source="langfuse", secret="shared").status_code == 202
    assert post(client, b'{"x": 2}', source="anthropic", secret="own").status_code == 202
    # The per-source secret replaces the shared one for that source.
    assert post(client, b'{"x": 3}', source="anthropic", secret="shared").status_code == 401
    assert len(listing(home, "langfuse")) == 1
    assert len(listing(home, "anthropic")) == 1


def test_secret_from_environment(serve_app, home, monkeypatch) -> None:
    # Whatever the developer's shell has set must not leak into what is being tested.
    monkeypatch.delenv("METERR_WEBHOOK_SECRET", raising=False)
    monkeypatch.delenv("METERR_WEBHOOK_SECRET_OPENAI", raising=False)
    monkeypatch.setenv("METERR_WEBHOOK_SECRET_CUSTOM", "from-env")
    client = serve_app(secrets=None)
    assert post(client, b'{"x": 1}', source="custom", secret="from-env").status_code == 202
    response = post(client, b'{"x": 1}', source="openai", secret="from-env")
    assert response.status_code == 503


def test_body_exactly_at_the_limit_is_accepted(serve_app, home) -> None:
    client = serve_app(max_body_bytes=64)
    body = b'{"pad": "' + b"x" * (64 - 11) + b'"}'
    assert len(body) == 64
    assert post(client, body).status_code == 202


def test_healthz(serve_app) -> None:
    client = serve_app()
    response = client.get("/healthz")
    assert response.status_code == 200
    assert response.json() == {"status": "ok"}


# --- refusals -----------------------------------------------------------------------------


def test_wrong_signature_is_refused(serve_app, home) -> None:
    client = serve_app()
    response = post(client, JSON_BODY, secret="not-the-secret")
    assert response.status_code == 401
    assert response.json()["error"] == "bad_signature"
    assert listing(home, "openai") == []


def test_body_changed_after_signing_is_refused(serve_app, home) -> None:
    client = serve_app()
    headers = {"Content-Type": "application/json", **sign(SECRET, JSON_BODY, NOW)}
    tampered = JSON_BODY.replace(b"12", b"99")
    response = client.post("/webhooks/openai", content=tampered, headers=headers)
    assert response.status_code == 401
    assert listing(home, "openai") == []


@pytest.mark.parametrize("missing", [TIMESTAMP_HEADER, SIGNATURE_HEADER, "both"])
def test_missing_signature_headers_are_refused(serve_app, home, missing: str) -> None:
    client = serve_app()
    headers = {"Content-Type": "application/json", **sign(SECRET, JSON_BODY, NOW)}
    for name in (TIMESTAMP_HEADER, SIGNATURE_HEADER):
        if missing in (name, "both"):
            del headers[name]
    response = post(client, JSON_BODY, headers=headers)
    assert response.status_code == 401
    assert response.json()["error"] == "missing_signature"
    assert listing(home, "openai") == []


@pytest.mark.parametrize(
    ("header", "value"),
    [
        (SIGNATURE_HEADER, "deadbeef"),
        (SIGNATURE_HEADER, "v2=" + "0" * 64),
        (TIMESTAMP_HEADER, "2025-06-15T15:06:40Z"),
        (TIMESTAMP_HEADER, "-1"),
    ],
)
def test_malformed_signature_headers_are_refused(serve_app, home, header, value) -> None:
    client = serve_app()
    headers = {"Content-Type": "application/json", **sign(SECRET, JSON_BODY, NOW)}
    headers[header] = value
    assert post(client, JSON_BODY, headers=headers).status_code == 401
    assert listing(home, "openai") == []


@pytest.mark.parametrize("header", [TIMESTAMP_HEADER, SIGNATURE_HEADER])
def test_a_signature_header_sent_twice_is_refused(serve_app, home, header: str) -> None:
    client = serve_app()
    signed = {"Content-Type": "application/json", **sign(SECRET, JSON_BODY, NOW)}
    stale = sign(SECRET, JSON_BODY, NOW - 3600)
    sent = [*signed.items(), (header, stale[header])]
    response = client.post("/webhooks/openai", content=JSON_BODY, headers=sent)
    assert (response.status_code, response.json()["error"]) == (401, "ambiguous_signature")
    assert listing(home, "openai") == []


@pytest.mark.parametrize("offset", [-301, 301, -86_400])
def test_stale_or_future_timestamp_is_refused(serve_app, home, offset: int) -> None:
    client = serve_app()
    # Correctly signed, but at a time more than 5 minutes from the receiver's clock.
    response = post(client, JSON_BODY, timestamp=NOW + offset)
    assert response.status_code == 401
    assert response.json()["error"] == "stale_timestamp"
    assert listing(home, "openai") == []


def test_timestamp_within_tolerance_is_accepted(serve_app, clock) -> None:
    client = serve_app()
    clock.now = NOW + 300
    assert post(client, JSON_BODY, timestamp=NOW).status_code == 202


def test_replay_is_refused_and_written_once(serve_app, home, clock) -> None:
    client = serve_app()
    first = post(client, JSON_BODY)
    assert first.status_code == 202
    clock.now = NOW + 60
    replay = post(client, JSON_BODY)  # same body, same timestamp: the same signature
    assert replay.status_code == 409
    assert replay.json()["error"] == "replay"
    assert listing(home, "openai") == [Path(first.json()["file"]).name]
    # Once the window has passed the replay is simply stale.
    clock.now = NOW + 301
    assert post(client, JSON_BODY).status_code == 401


def test_replay_to_another_source_sharing_the_secret_is_refused(serve_app, home) -> None:
    client = serve_app(secrets={"*": SECRET})
    assert post(client, JSON_BODY, source="openai").status_code == 202
    assert post(client, JSON_BODY, source="helicone").status_code == 409
    assert listing(home, "helicone") == []


def test_replay_after_restart_writes_no_second_file(serve_app, home) -> None:
    first = post(serve_app(), JSON_BODY)
    assert first.status_code == 202
    # A fresh receiver (empty replay memory) on the same home, within the window.
    again = post(serve_app(), JSON_BODY)
    assert again.status_code == 202
    assert again.json()["file"] == first.json()["file"]
    assert again.json()["duplicate"] is True
    assert listing(home, "openai") == [Path(first.json()["file"]).name]


def test_same_body_resent_with_new_signature_is_not_written_twice(serve_app, home, clock) -> None:
    client = serve_app()
    first = post(client, JSON_BODY)
    clock.now = NOW + 10
    retry = post(client, JSON_BODY, timestamp=NOW + 10)  # a sender's retry: new signature
    assert retry.status_code == 202
    assert retry.json()["file"] == first.json()["file"]
    assert len(listing(home, "openai")) == 1


def test_oversized_body_by_content_length_is_refused(serve_app, home) -> None:
    client = serve_app(max_body_bytes=1024)
    body = json.dumps({"pad": "x" * 2000}).encode()
    response = post(client, body)  # httpx sends an honest Content-Length
    assert response.status_code == 413
    assert response.json()["error"] == "body_too_large"
    assert listing(home, "openai") == []


def test_oversized_chunked_body_is_cut_off_while_streaming(serve_app, home) -> None:
    client = serve_app(max_body_bytes=1024)
    body = json.dumps({"pad": "x" * 8000}).encode()
    chunks = [body[i : i + 500] for i in range(0, len(body), 500)]
    streamed: list[int] = []

    def generate() -> Iterator[bytes]:
        for chunk in chunks:
            streamed.append(len(chunk))
            yield chunk

    headers = {"Content-Type": "application/json", **sign(SECRET, body, NOW)}
    response = client.post("/webhooks/openai", content=generate(), headers=headers)
    assert "content-length" not in {k.lower() for k in response.request.headers}
    assert response.request.headers["transfer-encoding"] == "chunked"
    assert response.status_code == 413
    assert listing(home, "openai") == []  # the partial temp file was removed too
    # The same body under the limit but chunked is accepted, byte for byte.
    small = b'{"pad": "' + b"y" * 900 + b'"}'
    headers = {"Content-Type": "application/json", **sign(SECRET, small, NOW)}
    ok = client.post(
        "/webhooks/openai",
        content=iter([small[:300], small[300:600], small[600:]]),
        headers=headers,
    )
    assert ok.status_code == 202
    assert (home.drop / ok.json()["file"]).read_bytes() == small


def _signed_request_head(client: httpx.Client, body: bytes) -> tuple[str, int, str]:
    """The receiver's host and port, and the request line and headers of a signed POST of
    ``body`` to /webhooks/openai, for a test that sends the body itself over a raw socket."""
    host, port = str(client.base_url).removeprefix("http://").split(":")
    headers = {"Content-Type": "application/json", **sign(SECRET, body, NOW)}
    head = (
        "POST /webhooks/openai HTTP/1.1\r\n"
        f"Host: {host}\r\nContent-Length: {len(body)}\r\n"
        + "".join(f"{name}: {value}\r\n" for name, value in headers.items())
        + "\r\n"
    )
    return host, int(port), head


def test_a_body_that_stops_arriving_is_refused_and_leaves_nothing(serve_app, home) -> None:
    client = serve_app(body_idle_timeout_s=1.0)
    host, port, head = _signed_request_head(client, JSON_BODY)
    with socket.create_connection((host, port), timeout=10) as conn:
        # The headers and half the body, then nothing (a stalled or hostile client).
        conn.sendall(head.encode() + JSON_BODY[:10])
        answer = b""
        while b"\r\n\r\n" not in answer or not answer.rstrip().endswith(b"}"):
            part = conn.recv(4096)
            if not part:
                break
            answer += part
    status_line, _, rest = answer.partition(b"\r\n")
    assert status_line.split()[1] == b"408", answer
    assert json.loads(rest.partition(b"\r\n\r\n")[2])["error"] == "body_timeout"
    assert listing(home, "openai") == []  # no temp file left behind
    # The receiver goes on serving.
    assert post(client, JSON_BODY).status_code == 202


def test_a_body_that_only_trickles_in_is_refused_at_the_deadline(serve_app, home) -> None:
    # A byte every 0.1 s never trips the 5 s idle timeout; the 1 s deadline for the whole body
    # ends it, long before the 8 s the body would take.
    client = serve_app(body_idle_timeout_s=5.0, body_deadline_s=1.0)
    body = b'{"pad": "' + b"z" * 70 + b'"}'
    host, port, head = _signed_request_head(client, body)
    started = time.monotonic()
    with socket.create_connection((host, port), timeout=10) as conn:
        conn.sendall(head.encode())
        conn.settimeout(0.1)
        answer = b""
        for byte in body:
            try:
                conn.sendall(bytes([byte]))
            except OSError:  # the receiver closed the connection after answering
                break
            try:
                answer += conn.recv(4096)
            except TimeoutError:
                continue
            if answer:
                break
        conn.settimeout(10)
        while not answer.rstrip().endswith(b"}"):
            part = conn.recv(4096)
            if not part:
                break
            answer += part
    elapsed = time.monotonic() - started
    status_line, _, rest = answer.partition(b"\r\n")
    assert status_line.split()[1] == b"408", answer
    refusal = json.loads(rest.partition(b"\r\n\r\n")[2])
    assert refusal["error"] == "body_timeout"
    assert "not complete after 1 s" in refusal["detail"]
    assert elapsed < 5, elapsed  # cut off at the deadline, not after the whole body
    assert listing(home, "openai") == []  # no temp file left behind
    assert post(client, JSON_BODY).status_code == 202


@pytest.mark.parametrize(
    ("content_type", "body"),
    [
        ("application/json", b'{"data": [1, 2,'),
        ("application/json", b'{"cost": NaN}'),
        ("application/json", b"   "),
        ("application/x-ndjson", b'{"a": 1}\n{"a": \n'),
        ("application/x-ndjson", b"\n\n"),
        # Deeper than Python's parser can recurse: a clear 400, not a 500.
        ("application/json", b"[" * 100_000 + b"]" * 100_000),
        ("application/x-ndjson", b'{"a": 1}\n' + b"[" * 100_000 + b"]" * 100_000 + b"\n"),
    ],
)
def test_invalid_json_is_refused(serve_app, home, content_type: str, body: bytes) -> None:
    client = serve_app()
    response = post(client, body, content_type=content_type)
    assert response.status_code == 400
    assert response.json()["error"] == "invalid_json"
    assert listing(home, "openai") == []


def test_invalid_json_does_not_burn_the_signature(serve_app, home) -> None:
    # A refused request is not "accepted", so it must not make a later one look like a replay.
    client = serve_app()
    assert post(client, b"{oops", content_type="application/json").status_code == 400
    assert post(client, b"{oops", content_type="application/json").status_code == 400


def test_csv_is_not_parsed(serve_app, home) -> None:
    client = serve_app()
    body = b'not really, "csv\n\x00\xff'
    response = post(client, body, content_type="text/csv")
    assert response.status_code == 202
    assert (home.drop / response.json()["file"]).read_bytes() == body


def test_empty_body_is_refused(serve_app, home) -> None:
    client = serve_app()
    response = post(client, b"")
    assert response.status_code == 400
    assert response.json()["error"] == "empty_body"
    assert listing(home, "openai") == []


@pytest.mark.parametrize("content_type", ["text/plain", "application/xml", ""])
def test_unsupported_content_type_is_refused(serve_app, home, content_type: str) -> None:
    client = serve_app()
    response = post(client, JSON_BODY, content_type=content_type)
    assert response.status_code == 415
    assert listing(home, "openai") == []


def test_unknown_source_is_not_found(serve_app, home) -> None:
    client = serve_app(secrets={"*": SECRET})
    response = post(client, JSON_BODY, source="mistral")
    assert response.status_code == 404
    assert response.json()["error"] == "unknown_source"
    assert not (home.drop / "webhooks" / "mistral").exists()
    assert client.post("/webhooks/openai/extra", content=JSON_BODY).status_code == 404
    # A trailing slash is an unknown path too: JSON 404, not a redirect to the client's Host.
    slash = client.post(
        "/webhooks/openai/", content=JSON_BODY, headers={"Host": "evil.example:1234"}
    )
    assert (slash.status_code, slash.json()["error"]) == (404, "not_found")
    assert "location" not in slash.headers


def test_source_without_secret_is_refused_not_accepted_unsigned(serve_app, home) -> None:
    client = serve_app(secrets={"openai": SECRET})
    signed = post(client, JSON_BODY, source="anthropic")
    unsigned = client.post(
        "/webhooks/anthropic", content=JSON_BODY, headers={"Content-Type": "application/json"}
    )
    for response in (signed, unsigned):
        assert response.status_code == 503
        assert response.json()["error"] == "no_secret_configured"
        assert "METERR_WEBHOOK_SECRET_ANTHROPIC" in response.json()["detail"]
    assert listing(home, "anthropic") == []


def test_no_secret_at_all_refuses_everything(serve_app, home) -> None:
    client = serve_app(secrets={})
    assert post(client, JSON_BODY).status_code == 503


def test_wrong_method_is_refused(serve_app) -> None:
    client = serve_app()
    for method in ("GET", "PUT", "DELETE"):
        response = client.request(method, "/webhooks/openai")
        assert response.status_code == 405
        assert response.headers["allow"] == "POST"
    assert client.post("/healthz").status_code == 405


# --- logging ------------------------------------------------------------------------------


def test_one_log_line_per_request_without_body_or_secret(serve_app, caplog) -> None:
    client = serve_app()
    marker = b'{"prompt_like_content": "SENSITIVE-MARKER"}'
    with caplog.at_level(logging.INFO, logger="meterr.webhooks"):
        post(client, marker)
        post(client, marker, secret="wrong")
        post(client, marker, source="nope")
        time.sleep(0.05)  # the log line is written after the response is sent
    lines = [r.getMessage() for r in caplog.records if r.name == "meterr.webhooks"]
    assert len(lines) == 3
    assert "source=openai" in lines[0] and "status=202" in lines[0]
    assert f"bytes={len(marker)}" in lines[0]
    assert "status=401" in lines[1] and "error=bad_signature" in lines[1]
    assert "source=<unknown>" in lines[2] and "status=404" in lines[2]
    for line in lines:
        assert "SENSITIVE-MARKER" not in line
        assert SECRET not in line


def test_the_command_logs_a_line_for_every_request_accepted_ones_too(tmp_path: Path) -> None:
    """`meterr webhooks serve` itself (a real process): the 202 gets its log line like a 401."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    env = {
        **os.environ,
        "METERR_HOME": str(tmp_path / "home"),
        "METERR_WEBHOOK_SECRET_OPENAI": SECRET,
    }
    server = subprocess.Popen(
        [str(Path(sys.executable).with_name("meterr")), "webhooks", "serve", "--port", str(port)],
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    try:
        base = f"http://127.0.0.1:{port}"
        deadline = time.monotonic() + 60
        while True:
            try:
                httpx.get(f"{base}/healthz", timeout=1)
                break
            except httpx.TransportError:
                assert time.monotonic() < deadline and server.poll() is None, "did not start"
                time.sleep(0.2)
        body = b'{"ok": 1}'
        now = int(time.time())
        with httpx.Client(base_url=base, timeout=10) as client:
            accepted = post(client, body, timestamp=now)
            refused = post(client, body, timestamp=now, secret="wrong")
        assert (accepted.status_code, refused.status_code) == (202, 401)
    finally:
        server.terminate()
        output = server.communicate(timeout=30)[0]
    lines = [line for line in output.splitlines() if "webhook source=openai" in line]
    assert any("status=202" in line and "file=" in line for line in lines), output
    assert any("status=401" in line for line in lines), output
    assert SECRET not in output
