"""The webhook receiver: signed usage payloads pushed over HTTP land in the drop folder.

A provider or tool (or a user's own script) POSTs a usage payload to ``/webhooks/<source>``.
The receiver only checks that the request is authentic, fresh, not a replay, within the size
limit and (for JSON content types) well-formed, then writes the raw bytes atomically to
``$METERR_HOME/drop/webhooks/<source>/``. It never parses or reshapes the usage data: the
normal drop-folder pipeline detects the format from the content and loads it, so a pushed
payload and a dropped file share one path through the checks.

Signature scheme (version ``v1``)::

    X-Meterr-Timestamp: <Unix seconds>
    X-Meterr-Signature: v1=<hex HMAC-SHA256(secret, f"{timestamp}.".encode() + raw_body)>

Status codes: 202 accepted, 400 empty body / invalid JSON / bad Content-Length, 401 missing,
malformed, wrong or stale signature, 404 unknown source, 405 wrong method, 409 replay, 413 body
over the limit, 415 unsupported Content-Type, 503 no secret configured for the source.
"""

from __future__ import annotations

import asyncio
import hashlib
import hmac
import json
import logging
import os
import re
import time
import uuid
from collections.abc import Callable, Mapping
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from starlette.applications import Starlette
from starlette.concurrency import run_in_threadpool
from starlette.exceptions import HTTPException
from starlette.middleware import Middleware
from starlette.requests import ClientDisconnect, Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from ingest.paths import MeterrHome, meterr_home

logger = logging.getLogger("meterr.webhooks")

SOURCES: tuple[str, ...] = ("openai", "anthropic", "helicone", "langfuse", "custom")
"""The sources a payload may be posted for; each is a path segment and a drop sub-folder."""

TIMESTAMP_HEADER = "X-Meterr-Timestamp"
SIGNATURE_HEADER = "X-Meterr-Signature"
SIGNATURE_VERSION = "v1"

SECRET_ENV = "METERR_WEBHOOK_SECRET"
"""Shared secret for every source; ``METERR_WEBHOOK_SECRET_<SOURCE>`` overrides it per source."""
MAX_BODY_ENV = "METERR_WEBHOOK_MAX_BODY_BYTES"
"""Size limit in bytes used by :func:`serve` (``create_app`` takes it as an argument)."""

FALLBACK_SECRET_KEY = "*"
"""Key of the ``secrets`` mapping that holds the secret shared by all sources."""

DEFAULT_MAX_BODY_BYTES = 10 * 1024 * 1024
DEFAULT_TOLERANCE_S = 300
# A body that stops arriving for this long is given up (408): a client that sends headers and
# then nothing would otherwise hold a connection and a temp file open for ever.
DEFAULT_BODY_IDLE_TIMEOUT_S = 30.0
# And a body still arriving after this long, however steadily it trickles in (a byte every few
# seconds never trips the idle timeout), is given up too: a legitimate payload of the largest
# size allowed arrives in well under a second on any network that posts webhooks.
DEFAULT_BODY_DEADLINE_S = 120.0
DEFAULT_HOST = "127.0.0.1"
DEFAULT_PORT = 8787

# Content-Type (media type only, parameters such as charset ignored) -> file extension. The
# extension only helps humans and the loader's decompression logic; the format itself is
# detected from the content later.
CONTENT_TYPE_EXTENSIONS: dict[str, str] = {
    "application/json": ".json",
    "application/x-ndjson": ".jsonl",
    "application/jsonl": ".jsonl",
    "text/csv": ".csv",
}

WEBHOOK_DROP_SUBDIR = "webhooks"
PART_SUFFIX = ".part"
# A temp file older than this was left by a crashed receiver; younger ones may belong to a
# request still streaming in another receiver process sharing the same home.
STALE_PART_AGE_S = 3600

_SIGNATURE_RE = re.compile(r"^v1=([0-9a-fA-F]{64})$")
_TIMESTAMP_RE = re.compile(r"^[0-9]{1,12}$")


class Rejection(Exception):
    """A request refused with an HTTP status, a short machine-readable code and a sentence."""

    def __init__(self, status: int, code: str, detail: str, *, close: bool = False) -> None:
        super().__init__(detail)
        self.status = status
        self.code = code
        self.detail = detail
        # Set when the body may still be in flight: keeping the connection alive would leave
        # unread bytes that the server would otherwise try to parse as the next request.
        self.close = close

    def response(self) -> JSONResponse:
        headers = {"Connection": "close"} if self.close else None
        body = {"status": "rejected", "error": self.code, "detail": self.detail}
        return JSONResponse(body, status_code=self.status, headers=headers)


def sign(secret: str, body: bytes, timestamp: int) -> dict[str, str]:
    """The two headers a sender adds to a request carrying ``body``, signed at ``timestamp``.

    ``timestamp`` is Unix seconds and must be within the receiver's tolerance (5 minutes by
    default) of its clock when the request arrives.
    """
    message = f"{int(timestamp)}.".encode() + body
    digest = hmac.new(secret.encode(), message, hashlib.sha256).hexdigest()
    return {
        TIMESTAMP_HEADER: str(int(timestamp)),
        SIGNATURE_HEADER: f"{SIGNATURE_VERSION}={digest}",
    }


def secrets_from_env(environ: Mapping[str, str] | None = None) -> dict[str, str]:
    """The secrets configured in the environment, as a ``secrets`` mapping for ``create_app``.

    Keys are source names for ``METERR_WEBHOOK_SECRET_<SOURCE>`` and ``"*"`` for the shared
    ``METERR_WEBHOOK_SECRET``. Empty or blank values count as unset (a secret of spaces is a
    mistake, not a key).
    """
    env = os.environ if environ is None else environ
    found: dict[str, str] = {}
    if env.get(SECRET_ENV, "").strip():
        found[FALLBACK_SECRET_KEY] = env[SECRET_ENV]
    for source in SOURCES:
        value = env.get(f"{SECRET_ENV}_{source.upper()}", "")
        if value.strip():
            found[source] = value
    return found


def configured_sources(secrets: Mapping[str, str]) -> list[str]:
    """The sources that have a secret (their own or the shared one) and so can accept posts."""
    return [s for s in SOURCES if _secret_for(secrets, s) is not None]


def _secret_for(secrets: Mapping[str, str], source: str) -> str | None:
    return secrets.get(source) or secrets.get(FALLBACK_SECRET_KEY) or None


def _normalise_secrets(secrets: Mapping[str, str]) -> dict[str, str]:
    normalised: dict[str, str] = {}
    for key, value in secrets.items():
        name = key.lower()
        if name not in SOURCES and name != FALLBACK_SECRET_KEY:
            # A typo here would silently leave a source unconfigured (503s in production).
            raise ValueError(
                f"unknown webhook source {key!r} in secrets; expected one of "
                f"{', '.join(SOURCES)} or {FALLBACK_SECRET_KEY!r}"
            )
        if value and value.strip():
            normalised[name] = value
    return normalised


class _ReplayGuard:
    """Signatures accepted recently, each remembered until its timestamp would be stale anyway.

    A request is only fresh while ``|now - timestamp| <= tolerance``, so a signature older than
    ``timestamp + tolerance`` can no longer pass the freshness check and is forgotten.
    """

    def __init__(self) -> None:
        self._expiry: dict[str, float] = {}

    def _prune(self, now: float) -> None:
        for key in [k for k, exp in self._expiry.items() if exp < now]:
            del self._expiry[key]

    def claim(self, signature: str, expires_at: float, now: float) -> bool:
        """Remember ``signature``; False if it is already remembered (a replay).

        Check and insert happen without an ``await`` in between, so two concurrent copies of
        one request cannot both claim it.
        """
        self._prune(now)
        if signature in self._expiry:
            return False
        self._expiry[signature] = expires_at
        return True

    def release(self, signature: str) -> None:
        """Forget a claim whose request was refused after all (e.g. invalid JSON)."""
        self._expiry.pop(signature, None)

    def __len__(self) -> int:
        return len(self._expiry)


def _media_type(content_type: str | None) -> str:
    return (content_type or "").split(";", 1)[0].strip().lower()


def _reject_constant(name: str) -> Any:
    # Python's json accepts NaN/Infinity, which are not JSON and which other readers refuse.
    raise ValueError(f"{name} is not valid JSON")


# Python's parser recurses per nesting level; no usage record is nested anywhere near as deep.
_TOO_DEEP = "nested too deeply"


def _validate_json_file(path: Path, extension: str) -> str | None:
    """None if the file is well-formed for its JSON flavour, else a short reason."""
    try:
        if extension == ".json":
            with path.open("rb") as handle:
                # json.loads on bytes detects UTF-8/16/32 (and a UTF-8 BOM) like a reader would.
                json.loads(handle.read(), parse_constant=_reject_constant)
        elif extension == ".jsonl":
            records = 0
            with path.open("rb") as handle:
                for number, line in enumerate(handle, start=1):
                    if not line.strip():
                        continue
                    try:
                        json.loads(line, parse_constant=_reject_constant)
                    except ValueError as exc:
                        return f"line {number}: {exc}"
                    except RecursionError:
                        return f"line {number}: {_TOO_DEEP}"
                    records += 1
            if records == 0:
                return "no JSON records in the body"
    except ValueError as exc:  # JSONDecodeError and UnicodeDecodeError are ValueErrors
        return str(exc)
    except RecursionError:
        return _TOO_DEEP
    return None


def _fsync_dir(directory: Path) -> None:
    # Makes the rename itself durable; not every platform lets a directory be opened.
    try:
        fd = os.open(directory, os.O_RDONLY)
    except OSError:
        return
    try:
        os.fsync(fd)
    except OSError:
        pass
    finally:
        os.close(fd)


def _sha256_file(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def _publish(
    part: Path, directory: Path, extension: str, sha256: str, received_at: float
) -> tuple[Path, bool]:
    """Move the finished temp file to its final name; returns (path, was_already_pending).

    If a file with the same content is still waiting in the folder (a sender's retry, or a
    replay after a restart emptied the in-memory guard), that file is returned and nothing new
    is written. Once it has been ingested and moved away, a new copy is written and the
    ledger, keyed by content SHA-256, records it as a duplicate.
    """
    short = sha256[:16]
    for existing in sorted(directory.glob(f"*-{short}{extension}")):
        # The short hash is only 64 bits: confirm with the full hash before trusting it.
        if existing.is_file() and _sha256_file(existing) == sha256:
            return existing, True
    stamp = datetime.fromtimestamp(received_at, tz=UTC).strftime("%Y%m%dT%H%M%SZ")
    final = directory / f"{stamp}-{short}{extension}"
    os.replace(part, final)
    _fsync_dir(directory)
    return final, False


def _remove_stale_parts(directory: Path, now: float) -> None:
    for part in directory.glob(f".*{PART_SUFFIX}"):
        try:
            if now - part.stat().st_mtime > STALE_PART_AGE_S:
                part.unlink()
        except OSError:
            pass


class _RequestLog:
    """ASGI middleware writing one log line per request: source, method, status, body bytes.

    It sees every response, including the router's own 404/405, and only ever logs sizes and
    short codes, never a body, a header value or a secret.
    """

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        received = 0
        status = 0

        async def counting_receive() -> Message:
            nonlocal received
            message = await receive()
            if message["type"] == "http.request":
                received += len(message.get("body", b""))
            return message

        async def capturing_send(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
            await send(message)

        try:
            await self.app(scope, counting_receive, capturing_send)
        finally:
            path: str = scope.get("path", "")
            parts = path.strip("/").split("/")
            if len(parts) == 2 and parts[0] == WEBHOOK_DROP_SUBDIR:
                # The segment is caller-controlled: only known names are logged verbatim.
                source = parts[1] if parts[1] in SOURCES else "<unknown>"
            else:
                source = "-"
            state = scope.get("state") or {}
            extra = ""
            if state.get("meterr_error"):
                extra += f" error={state['meterr_error']}"
            if state.get("meterr_file"):
                extra += f" file={state['meterr_file']}"
            level = logging.INFO if 0 < status < 400 else logging.WARNING
            if path == "/healthz" and status == 200:
                level = logging.DEBUG
            logger.log(
                level,
                "webhook source=%s method=%s status=%s bytes=%d%s",
                source,
                scope.get("method", "?"),
                status or "none",
                received,
                extra,
            )


def create_app(
    home: MeterrHome,
    *,
    secrets: Mapping[str, str] | None = None,
    max_body_bytes: int = DEFAULT_MAX_BODY_BYTES,
    tolerance_s: int = DEFAULT_TOLERANCE_S,
    clock: Callable[[], float] = time.time,
    body_idle_timeout_s: float = DEFAULT_BODY_IDLE_TIMEOUT_S,
    body_deadline_s: float = DEFAULT_BODY_DEADLINE_S,
) -> Starlette:
    """The receiver as a Starlette app writing accepted payloads under ``home.drop``.

    ``secrets`` maps a source name (or ``"*"`` for all sources) to its shared secret; when None
    it is read from the environment once, here (see :func:`secrets_from_env`). A source with no
    secret refuses every request with 503. ``max_body_bytes`` caps the body size,
    ``tolerance_s`` is how far a signature's timestamp may be from ``clock()`` (either way),
    and ``clock`` returns Unix seconds (injectable for tests). A body that sends nothing for
    ``body_idle_timeout_s`` seconds, or that is not all there ``body_deadline_s`` seconds after
    it began, is refused with 408.
    """
    if max_body_bytes <= 0:
        raise ValueError("max_body_bytes must be positive")
    if tolerance_s <= 0:
        raise ValueError("tolerance_s must be positive")
    resolved = _normalise_secrets(secrets_from_env() if secrets is None else secrets)
    guard = _ReplayGuard()
    # Serialises the "is this content already pending? else publish" step so two concurrent
    # posts of one body (with different signatures) cannot both write a file.
    publish_lock = asyncio.Lock()
    drop_root = home.drop / WEBHOOK_DROP_SUBDIR
    for source in SOURCES:
        (drop_root / source).mkdir(parents=True, exist_ok=True)
        _remove_stale_parts(drop_root / source, time.time())

    async def healthz(request: Request) -> Response:
        return JSONResponse({"status": "ok"})

    async def receive_webhook(request: Request) -> Response:
        try:
            return await _handle(request)
        except Rejection as rejection:
            request.state.meterr_error = rejection.code
            return rejection.response()

    async def _handle(request: Request) -> Response:
        source = request.path_params["source"]
        if source not in SOURCES:
            raise Rejection(
                404, "unknown_source", f"unknown source; expected one of {', '.join(SOURCES)}"
            )
        secret = _secret_for(resolved, source)
        if secret is None:
            raise Rejection(
                503,
                "no_secret_configured",
                f"webhooks for {source!r} are disabled: set {SECRET_ENV}_{source.upper()} "
                f"or {SECRET_ENV} on the receiver",
                close=True,
            )

        for header in (TIMESTAMP_HEADER, SIGNATURE_HEADER):
            if len(request.headers.getlist(header)) > 1:
                # Which one counts would be a guess (and proxies disagree on it): refuse.
                raise Rejection(401, "ambiguous_signature", f"{header} sent twice", close=True)
        timestamp_raw = request.headers.get(TIMESTAMP_HEADER, "").strip()
        signature_raw = request.headers.get(SIGNATURE_HEADER, "").strip()
        if not timestamp_raw or not signature_raw:
            raise Rejection(
                401,
                "missing_signature",
                f"both {TIMESTAMP_HEADER} and {SIGNATURE_HEADER} headers are required",
                close=True,
            )
        if not _TIMESTAMP_RE.match(timestamp_raw):
            raise Rejection(
                401, "bad_timestamp", f"{TIMESTAMP_HEADER} must be Unix seconds", close=True
            )
        timestamp = int(timestamp_raw)
        now = clock()
        if abs(now - timestamp) > tolerance_s:
            raise Rejection(
                401,
                "stale_timestamp",
                f"{TIMESTAMP_HEADER} is more than {tolerance_s}s away from the receiver's clock",
                close=True,
            )
        match = _SIGNATURE_RE.match(signature_raw)
        if match is None:
            raise Rejection(
                401,
                "bad_signature_format",
                f"{SIGNATURE_HEADER} must be '{SIGNATURE_VERSION}=<64 hex digits>'",
                close=True,
            )
        provided = match.group(1).lower()

        declared = request.headers.get("content-length")
        if declared is not None:
            if not declared.strip().isdigit():
                raise Rejection(400, "bad_content_length", "invalid Content-Length", close=True)
            if int(declared) > max_body_bytes:
                raise Rejection(
                    413,
                    "body_too_large",
                    f"body larger than the limit of {max_body_bytes} bytes",
                    close=True,
                )
            if int(declared) == 0:
                raise Rejection(400, "empty_body", "the body is empty", close=True)

        media_type = _media_type(request.headers.get("content-type"))
        extension = CONTENT_TYPE_EXTENSIONS.get(media_type)
        if extension is None:
            raise Rejection(
                415,
                "unsupported_media_type",
                "Content-Type must be one of " + ", ".join(CONTENT_TYPE_EXTENSIONS),
                close=True,
            )

        directory = drop_root / source
        directory.mkdir(parents=True, exist_ok=True)
        # Leading dot: the drop-folder sensor ignores it until the atomic rename below.
        part = directory / f".{uuid.uuid4().hex}{PART_SUFFIX}"
        try:
            size, sha256, mac = await _stream_to_part(request, part, secret, timestamp)
            if size == 0:
                raise Rejection(400, "empty_body", "the body is empty")
            if not hmac.compare_digest(mac, provided):
                raise Rejection(401, "bad_signature", "signature does not match the body")
            # Keyed by signature alone: the source is not part of the signed message, so a
            # capture replayed to another source sharing the secret is caught too.
            if not guard.claim(provided, timestamp + tolerance_s, now):
                raise Rejection(409, "replay", "this signed request was already accepted")
            try:
                if extension in (".json", ".jsonl"):
                    problem = await run_in_threadpool(_validate_json_file, part, extension)
                    if problem is not None:
                        raise Rejection(400, "invalid_json", f"body is not valid JSON: {problem}")
                async with publish_lock:
                    final, pending = await run_in_threadpool(
                        _publish, part, directory, extension, sha256, clock()
                    )
            except BaseException:
                guard.release(provided)
                raise
        except ClientDisconnect:
            request.state.meterr_error = "client_disconnected"
            # Nobody is listening any more; the status only shows up in the log line.
            return Response(status_code=400)
        finally:
            part.unlink(missing_ok=True)

        relative = final.relative_to(home.drop).as_posix()
        request.state.meterr_file = relative
        body: dict[str, Any] = {"status": "accepted", "file": relative, "sha256": sha256}
        if pending:
            body["duplicate"] = True
        return JSONResponse(body, status_code=202)

    async def _stream_to_part(
        request: Request, part: Path, secret: str, timestamp: int
    ) -> tuple[int, str, str]:
        """Copy the body to ``part`` chunk by chunk; returns (size, sha256 hex, hmac hex).

        The size is checked on every chunk so a chunked or lying body is cut off at the limit
        instead of being read whole; the time too, so a body that stalls or only trickles in is
        cut off at the idle timeout or the deadline.
        """
        digest = hashlib.sha256()
        mac = hmac.new(secret.encode(), f"{timestamp}.".encode(), hashlib.sha256)
        size = 0
        # "x": never follow or clobber something already at this (random) name.
        chunks = request.stream().__aiter__()
        loop = asyncio.get_running_loop()
        deadline = loop.time() + body_deadline_s
        with open(part, "xb") as handle:
            while True:
                left = deadline - loop.time()
                try:
                    if left <= 0:
                        raise TimeoutError
                    chunk = await asyncio.wait_for(anext(chunks), min(body_idle_timeout_s, left))
                except StopAsyncIteration:
                    break
                except TimeoutError:
                    detail = (
                        f"body not complete after {body_deadline_s:g} s"
                        if left <= body_idle_timeout_s
                        else f"no body data for {body_idle_timeout_s:g} s"
                    )
                    raise Rejection(408, "body_timeout", detail, close=True) from None
                if not chunk:
                    continue
                size += len(chunk)
                if size > max_body_bytes:
                    raise Rejection(
                        413,
                        "body_too_large",
                        f"body larger than the limit of {max_body_bytes} bytes",
                        close=True,
                    )
                digest.update(chunk)
                mac.update(chunk)
                handle.write(chunk)
            handle.flush()
            await run_in_threadpool(os.fsync, handle.fileno())
        return size, digest.hexdigest(), mac.hexdigest()

    async def http_error(request: Request, exc: Exception) -> Response:
        # The router's own 404/405 in the same JSON shape as the receiver's refusals.
        assert isinstance(exc, HTTPException)
        codes = {404: "not_found", 405: "method_not_allowed"}
        code = codes.get(exc.status_code, "http_error")
        request.state.meterr_error = code
        return JSONResponse(
            {"status": "rejected", "error": code, "detail": exc.detail},
            status_code=exc.status_code,
            headers=exc.headers,
        )

    app = Starlette(
        routes=[
            Route("/healthz", healthz, methods=["GET"]),
            Route("/webhooks/{source}", receive_webhook, methods=["POST"]),
        ],
        middleware=[Middleware(_RequestLog)],
        exception_handlers={HTTPException: http_error},
    )
    # Starlette answers "/webhooks/openai/" with a redirect whose Location is built from the
    # client's Host header: an unknown path gets the JSON 404 like any other.
    app.router.redirect_slashes = False
    app.state.meterr_home = home
    app.state.replay_guard = guard
    return app


def _max_body_from_env() -> int:
    raw = os.environ.get(MAX_BODY_ENV, "").strip()
    if not raw:
        return DEFAULT_MAX_BODY_BYTES
    try:
        value = int(raw)
    except ValueError:
        raise ValueError(f"{MAX_BODY_ENV} must be a whole number of bytes, got {raw!r}") from None
    if value <= 0:
        raise ValueError(f"{MAX_BODY_ENV} must be positive")
    return value


def serve(
    host: str = DEFAULT_HOST,
    port: int = DEFAULT_PORT,
    home: MeterrHome | None = None,
    *,
    max_body_bytes: int | None = None,
    log_level: str = "info",
) -> None:
    """Run the receiver with uvicorn until interrupted (``meterr webhooks serve``).

    Secrets come from the environment; ``max_body_bytes`` defaults to
    ``$METERR_WEBHOOK_MAX_BODY_BYTES`` or 10 MiB; ``home`` defaults to ``$METERR_HOME``.
    """
    import uvicorn

    if not logging.getLogger().handlers:
        logging.basicConfig(level=log_level.upper(), format="%(asctime)s %(levelname)s %(message)s")
    # `meterr` configures the root logger for warnings only; the receiver's one line per request
    # (202s included) is what an operator tails, so its logger keeps its own level.
    logger.setLevel(log_level.upper())
    home = home if home is not None else meterr_home()
    limit = max_body_bytes if max_body_bytes is not None else _max_body_from_env()
    secrets = secrets_from_env()
    app = create_app(home, secrets=secrets, max_body_bytes=limit)
    enabled = configured_sources(secrets)
    if enabled:
        logger.info(
            "webhook receiver on http://%s:%d: sources with a secret: %s; writing to %s",
            host,
            port,
            ", ".join(enabled),
            home.drop / WEBHOOK_DROP_SUBDIR,
        )
    else:
        logger.warning(
            "webhook receiver on http://%s:%d has no secret: set %s or %s_<SOURCE>; "
            "every post will be refused with 503",
            host,
            port,
            SECRET_ENV,
            SECRET_ENV,
        )
    # access_log off: the receiver's own line already covers every request, without paths'
    # query strings.
    uvicorn.run(
        app, host=host, port=port, log_level=log_level, access_log=False, server_header=False
    )


if __name__ == "__main__":
    serve()
