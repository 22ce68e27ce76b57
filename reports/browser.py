"""A minimal headless-Chromium driver over the DevTools protocol, standard library only.

Used by the browser test (``tests/test_browser.py``) and by ``python -m reports.screenshot``. It
starts Chromium with a throw-away profile, no network (every host name resolves to nothing and a
dead proxy catches anything else), reads the DevTools port from the profile's
``DevToolsActivePort`` file and speaks the protocol over a small RFC 6455 WebSocket client (no
``websockets`` package needed).

For each page it opens, it records what a report must never do: network requests other than
``file://``, console messages and errors, uncaught exceptions, failed loads and CSP violations.

    with Chromium() as browser:
        page = browser.open("file:///.../2025-W03.html", width=1200, height=900)
        page.evaluate("document.title")
        page.screenshot(Path("shot.png"))
        page.problems()  # [] when the page is clean
"""

from __future__ import annotations

import base64
import hashlib
import json
import os
import shutil
import signal
import socket
import struct
import subprocess
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

CHROMIUM = "/usr/bin/chromium"
START_TIMEOUT = 30.0
COMMAND_TIMEOUT = 30.0
_WS_GUID = "258EAFA5-E914-47DA-95CA-C5AB0DC85B11"
# No network for the browser: every name fails to resolve, and a dead local proxy catches direct
# IPs. Background services that would phone home are switched off.
CHROMIUM_FLAGS = (
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--no-first-run",
    "--no-default-browser-check",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--disable-extensions",
    "--disable-default-apps",
    "--disable-domain-reliability",
    "--disable-breakpad",
    "--metrics-recording-only",
    "--mute-audio",
    "--hide-scrollbars",
    "--host-resolver-rules=MAP * ~NOTFOUND",
    "--proxy-server=http://127.0.0.1:9",
    "--remote-debugging-port=0",
    "--remote-debugging-address=127.0.0.1",
)


class BrowserError(RuntimeError):
    """Chromium did not start, or a DevTools command failed or timed out."""


class _WebSocket:
    """A blocking client WebSocket: text frames out (masked), whole messages in."""

    def __init__(self, host: str, port: int, path: str, timeout: float) -> None:
        self.sock = socket.create_connection((host, port), timeout=timeout)
        key = base64.b64encode(os.urandom(16)).decode("ascii")
        # No Origin header: Chromium only checks --remote-allow-origins when one is sent.
        request = (
            f"GET {path} HTTP/1.1\r\nHost: {host}:{port}\r\nUpgrade: websocket\r\n"
            f"Connection: Upgrade\r\nSec-WebSocket-Key: {key}\r\nSec-WebSocket-Version: 13\r\n\r\n"
        )
        self.sock.sendall(request.encode("ascii"))
        response = b""
        while b"\r\n\r\n" not in response:
            chunk = self.sock.recv(4096)
            if not chunk:
                raise BrowserError("DevTools closed the connection during the handshake")
            response += chunk
        head, _, rest = response.partition(b"\r\n\r\n")
        self._buffer = bytearray(rest)
        lines = head.decode("latin-1").split("\r\n")
        if " 101 " not in lines[0] + " ":
            raise BrowserError(f"DevTools refused the WebSocket: {lines[0]}")
        expected = base64.b64encode(hashlib.sha1((key + _WS_GUID).encode()).digest()).decode()
        pairs = (line.partition(":") for line in lines[1:])
        headers = {name.strip().lower(): value.strip() for name, _, value in pairs}
        if headers.get("sec-websocket-accept") != expected:
            raise BrowserError("DevTools sent a wrong Sec-WebSocket-Accept")

    def _recv_exact(self, size: int) -> bytes:
        while len(self._buffer) < size:
            chunk = self.sock.recv(max(65536, size - len(self._buffer)))
            if not chunk:
                raise BrowserError("DevTools closed the connection")
            self._buffer += chunk
        data = bytes(self._buffer[:size])
        del self._buffer[:size]
        return data

    def _send_frame(self, opcode: int, payload: bytes) -> None:
        header = bytearray([0x80 | opcode])
        length = len(payload)
        if length < 126:
            header.append(0x80 | length)
        elif length < 1 << 16:
            header.append(0x80 | 126)
            header += struct.pack("!H", length)
        else:
            header.append(0x80 | 127)
            header += struct.pack("!Q", length)
        mask = os.urandom(4)
        masked = bytes(b ^ mask[i % 4] for i, b in enumerate(payload))
        self.sock.sendall(bytes(header) + mask + masked)

    def send_text(self, text: str) -> None:
        self._send_frame(0x1, text.encode("utf-8"))

    def recv_text(self) -> str:
        """The next whole text message (answers pings, joins continuation frames)."""
        message = b""
        while True:
            first, second = self._recv_exact(2)
            fin, opcode = first & 0x80, first & 0x0F
            length = second & 0x7F
            if length == 126:
                length = struct.unpack("!H", self._recv_exact(2))[0]
            elif length == 127:
                length = struct.unpack("!Q", self._recv_exact(8))[0]
            mask = self._recv_exact(4) if second & 0x80 else None
            payload = self._recv_exact(length)
            if mask:
                payload = bytes(b ^ mask[i % 4] for i, b in enumerate(payload))
            if opcode == 0x8:
                raise BrowserError("DevTools closed the WebSocket")
            if opcode == 0x9:
                self._send_frame(0xA, payload)
                continue
            if opcode == 0xA:
                continue
            message += payload
            if fin:
                return message.decode("utf-8")

    def close(self) -> None:
        try:
            self._send_frame(0x8, b"")
        except OSError:
            pass
        self.sock.close()


@dataclass
class PageLog:
    """What one page did while it loaded and was inspected."""

    url: str
    requests: list[str] = field(default_factory=list)
    failed_loads: list[str] = field(default_factory=list)
    console: list[dict[str, Any]] = field(default_factory=list)
    exceptions: list[str] = field(default_factory=list)
    log_entries: list[dict[str, Any]] = field(default_factory=list)

    def network_requests(self) -> list[str]:
        """Every request that was not for a ``file://`` URL (none are allowed)."""
        return [url for url in self.requests if not url.startswith("file://")]

    def console_errors(self) -> list[str]:
        """Console errors and warnings, log errors (CSP violations, failed loads), exceptions."""
        found = [
            f"console.{entry['type']}: {entry['text']}"
            for entry in self.console
            if entry["type"] in ("error", "assert", "warning")
        ]
        found += [
            f"log {entry['level']} ({entry['source']}): {entry['text']}"
            for entry in self.log_entries
            if entry["level"] in ("error", "warning")
        ]
        found += [f"exception: {text}" for text in self.exceptions]
        return found

    def problems(self) -> list[str]:
        """Everything that breaks the report's promises: network, console errors, failed loads."""
        return (
            [f"network request: {url}" for url in self.network_requests()]
            + [f"failed load: {text}" for text in self.failed_loads]
            + self.console_errors()
        )


class Page:
    """One tab, attached through a flat DevTools session."""

    def __init__(self, browser: Chromium, session_id: str, target_id: str, log: PageLog) -> None:
        self.browser = browser
        self.session_id = session_id
        self.target_id = target_id
        self.log = log

    def send(self, method: str, params: dict[str, Any] | None = None) -> dict[str, Any]:
        return self.browser.send(method, params, session_id=self.session_id)

    def evaluate(self, expression: str) -> Any:
        """The JSON value of ``expression`` in the page (DevTools evaluation, not page script)."""
        result = self.send(
            "Runtime.evaluate",
            {"expression": expression, "returnByValue": True, "awaitPromise": True},
        )
        if "exceptionDetails" in result:
            raise BrowserError(f"evaluation failed: {result['exceptionDetails'].get('text')}")
        return result["result"].get("value")

    def set_color_scheme(self, scheme: str) -> None:
        """Emulate ``prefers-color-scheme: light`` or ``dark``."""
        self.send(
            "Emulation.setEmulatedMedia",
            {"features": [{"name": "prefers-color-scheme", "value": scheme}]},
        )

    def set_viewport(self, width: int, height: int, *, mobile: bool = False) -> None:
        self.send(
            "Emulation.setDeviceMetricsOverride",
            {"width": width, "height": height, "deviceScaleFactor": 1, "mobile": mobile},
        )

    def html(self) -> str:
        """The page's serialised DOM."""
        root = self.send("DOM.getDocument", {"depth": 0})["root"]["nodeId"]
        return self.send("DOM.getOuterHTML", {"nodeId": root})["outerHTML"]

    def screenshot(self, path: Path, *, max_height: int | None = None) -> Path:
        """A PNG of the page from the top, the full height or at most ``max_height`` pixels."""
        size = self.evaluate(
            "({w: document.documentElement.clientWidth,"
            " h: Math.max(document.documentElement.scrollHeight, document.body.scrollHeight)})"
        )
        height = size["h"] if max_height is None else min(size["h"], max_height)
        shot = self.send(
            "Page.captureScreenshot",
            {
                "format": "png",
                "captureBeyondViewport": True,
                "clip": {"x": 0, "y": 0, "width": size["w"], "height": height, "scale": 1},
            },
        )
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(base64.b64decode(shot["data"]))
        return path

    def close(self) -> None:
        try:
            self.browser.send("Target.closeTarget", {"targetId": self.target_id})
        except BrowserError:
            pass


class Chromium:
    """A headless Chromium process with a temporary profile, driven over DevTools."""

    def __init__(self, executable: str = CHROMIUM, *, extra_flags: tuple[str, ...] = ()) -> None:
        self.executable = executable
        self.extra_flags = extra_flags
        self.process: subprocess.Popen[bytes] | None = None
        self.profile: Path | None = None
        self.ws: _WebSocket | None = None
        self._next_id = 0
        self._pages: dict[str, PageLog] = {}
        self._events: list[dict[str, Any]] = []

    # -- process ---------------------------------------------------------------------------

    def __enter__(self) -> Chromium:
        self.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()

    def start(self) -> None:
        """Start Chromium and connect to its browser-level DevTools endpoint."""
        if not Path(self.executable).exists():
            raise BrowserError(f"{self.executable} does not exist")
        self.profile = Path(tempfile.mkdtemp(prefix="meterr-chromium-"))
        stderr = (self.profile / "chromium.log").open("wb")
        args = [
            self.executable,
            *CHROMIUM_FLAGS,
            *self.extra_flags,
            f"--user-data-dir={self.profile / 'profile'}",
            "about:blank",
        ]
        # Its own process group, so stop() ends Chromium's helpers too (and nothing else).
        self.process = subprocess.Popen(
            args,
            stdin=subprocess.DEVNULL,
            stdout=stderr,
            stderr=stderr,
            start_new_session=True,
        )
        stderr.close()
        port_file = self.profile / "profile" / "DevToolsActivePort"
        deadline = time.monotonic() + START_TIMEOUT
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                code = self.process.returncode
                raise BrowserError(f"chromium exited ({code}): {self.log_tail()}")
            lines = port_file.read_text().split("\n") if port_file.exists() else []
            if len(lines) >= 2 and lines[0].strip().isdigit() and lines[1].strip():
                port, path = int(lines[0]), lines[1].strip()
                break
            time.sleep(0.05)
        else:
            self.stop()
            raise BrowserError(f"chromium did not open DevTools in {START_TIMEOUT:.0f}s")
        self.ws = _WebSocket("127.0.0.1", port, path, COMMAND_TIMEOUT)

    def log_tail(self, lines: int = 20) -> str:
        """The end of Chromium's own output (for error messages)."""
        if self.profile is None or not (self.profile / "chromium.log").exists():
            return ""
        text = (self.profile / "chromium.log").read_text(errors="replace")
        return "\n".join(text.splitlines()[-lines:])

    def stop(self) -> None:
        """Close the browser, end its process group and delete the temporary profile."""
        if self.ws is not None:
            try:
                self._call("Browser.close", {}, None, wait=False)
            except (BrowserError, OSError):
                pass
            self.ws.close()
            self.ws = None
        if self.process is not None:
            try:
                self.process.wait(timeout=5)
            except subprocess.TimeoutExpired:
                try:
                    os.killpg(self.process.pid, signal.SIGKILL)
                except ProcessLookupError:
                    pass
                self.process.wait(timeout=5)
            self.process = None
        if self.profile is not None:
            shutil.rmtree(self.profile, ignore_errors=True)
            self.profile = None

    # -- protocol --------------------------------------------------------------------------

    def _record(self, message: dict[str, Any]) -> None:
        """File an event under the page whose session sent it."""
        log = self._pages.get(message.get("sessionId", ""))
        if log is None:
            return
        method, params = message["method"], message.get("params", {})
        if method == "Network.requestWillBeSent":
            log.requests.append(params["request"]["url"])
        elif method == "Network.loadingFailed":
            reason = params.get("blockedReason") or params.get("errorText", "")
            if not params.get("canceled"):
                log.failed_loads.append(f"{params.get('type', '')} {reason}".strip())
        elif method == "Runtime.consoleAPICalled":
            text = " ".join(str(a.get("value", a.get("description", ""))) for a in params["args"])
            log.console.append({"type": params["type"], "text": text})
        elif method == "Runtime.exceptionThrown":
            details = params["exceptionDetails"]
            thrown = details.get("exception", {}).get("description")
            log.exceptions.append(thrown or details["text"])
        elif method == "Log.entryAdded":
            entry = params["entry"]
            log.log_entries.append(
                {"level": entry["level"], "source": entry["source"], "text": entry["text"]}
            )

    def _call(
        self,
        method: str,
        params: dict[str, Any] | None,
        session_id: str | None,
        *,
        wait: bool = True,
    ) -> dict[str, Any]:
        if self.ws is None:
            raise BrowserError("chromium is not running")
        self._next_id += 1
        message: dict[str, Any] = {"id": self._next_id, "method": method, "params": params or {}}
        if session_id:
            message["sessionId"] = session_id
        self.ws.send_text(json.dumps(message))
        if not wait:
            return {}
        deadline = time.monotonic() + COMMAND_TIMEOUT
        while time.monotonic() < deadline:
            reply = json.loads(self.ws.recv_text())
            if reply.get("id") == self._next_id:
                if "error" in reply:
                    raise BrowserError(f"{method} failed: {reply['error'].get('message')}")
                return reply.get("result", {})
            if "method" in reply:
                self._events.append(reply)
                self._record(reply)
        raise BrowserError(f"{method}: no answer in {COMMAND_TIMEOUT:.0f}s")

    def send(
        self, method: str, params: dict[str, Any] | None = None, *, session_id: str | None = None
    ) -> dict[str, Any]:
        """Send a DevTools command and return its result (events meanwhile are recorded)."""
        return self._call(method, params, session_id)

    def wait_for(self, method: str, session_id: str, timeout: float = COMMAND_TIMEOUT) -> None:
        """Wait until the page's session has sent event ``method`` (or one is already queued)."""
        for event in self._events:
            if event["method"] == method and event.get("sessionId") == session_id:
                self._events.remove(event)
                return
        if self.ws is None:
            raise BrowserError("chromium is not running")
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            message = json.loads(self.ws.recv_text())
            if "method" in message:
                self._record(message)
                if message["method"] == method and message.get("sessionId") == session_id:
                    return
        raise BrowserError(f"no {method} within {timeout:.0f}s")

    def open(
        self,
        url: str,
        *,
        width: int = 1200,
        height: int = 900,
        mobile: bool = False,
        color_scheme: str = "light",
    ) -> Page:
        """A new tab showing ``url`` after its load event, with its activity recorded."""
        target_id = self.send("Target.createTarget", {"url": "about:blank"})["targetId"]
        session_id = self.send("Target.attachToTarget", {"targetId": target_id, "flatten": True})[
            "sessionId"
        ]
        log = PageLog(url)
        self._pages[session_id] = log
        page = Page(self, session_id, target_id, log)
        for domain in ("Page", "Network", "Runtime", "Log", "DOM"):
            page.send(f"{domain}.enable")
        page.set_viewport(width, height, mobile=mobile)
        page.set_color_scheme(color_scheme)
        self._events = [e for e in self._events if e.get("sessionId") != session_id]
        navigation = page.send("Page.navigate", {"url": url})
        if navigation.get("errorText"):
            raise BrowserError(f"could not open {url}: {navigation['errorText']}")
        self.wait_for("Page.loadEventFired", session_id)
        # Let late console messages and resource errors arrive before anyone reads the log.
        page.evaluate("new Promise(r => requestAnimationFrame(() => setTimeout(r, 50)))")
        return page
