"""Headless Chromium driven over the DevTools protocol, for tests that open real pages.

:func:`chromium` starts the browser (Debian's ``chromium``, or ``NAS_ATTN_CHROMIUM``) on a
throwaway profile and yields a :class:`Page`: ``open`` a URL and wait until given texts are
rendered, ``evaluate`` JavaScript, take a ``screenshot``; ``errors`` collects console errors,
uncaught exceptions and failed loads the page reported. Every wait is bounded.
"""

from __future__ import annotations

import base64
import contextlib
import json
import os
import shutil
import subprocess
import tempfile
import time
import urllib.request
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any

CHROMIUM_ENV = "NAS_ATTN_CHROMIUM"  # path of a Chromium/Chrome binary, if not on PATH
CANDIDATES = ("chromium", "chromium-browser", "google-chrome", "google-chrome-stable")


class BrowserUnavailable(RuntimeError):
    """No headless Chromium can be started here (binary or websocket-client missing)."""


def find_chromium() -> str:
    """The Chromium binary to use, or :class:`BrowserUnavailable` naming what to install."""
    configured = os.environ.get(CHROMIUM_ENV)
    if configured:
        if shutil.which(configured) is None:
            raise BrowserUnavailable(f"{CHROMIUM_ENV}={configured} is not an executable")
        return configured
    for name in CANDIDATES:
        found = shutil.which(name)
        if found:
            return found
    raise BrowserUnavailable("no Chromium found (Debian/Ubuntu: apt-get install chromium)")


class Page:
    """One browser tab over a DevTools websocket: navigation, script evaluation, screenshots."""

    def __init__(self, socket: Any, timeout: float, width: int = 1280, height: int = 900) -> None:
        self._socket = socket
        self._timeout = timeout
        self._next_id = 0
        self._events: list[dict[str, Any]] = []
        self.errors: list[str] = []
        for domain in ("Page", "Runtime", "Log"):
            self.call(f"{domain}.enable")
        self.call(  # the viewport (and screenshots) exactly width x height
            "Emulation.setDeviceMetricsOverride",
            width=width,
            height=height,
            deviceScaleFactor=1,
            mobile=False,
        )

    def _record(self, message: dict[str, Any]) -> None:
        method, params = message.get("method"), message.get("params", {})
        if method == "Runtime.consoleAPICalled" and params.get("type") in {"error", "assert"}:
            texts = [str(a.get("value", a.get("description", ""))) for a in params.get("args", [])]
            self.errors.append("console.error: " + " ".join(texts))
        elif method == "Runtime.exceptionThrown":
            details = params.get("exceptionDetails", {})
            description = details.get("exception", {}).get("description") or details.get("text", "")
            self.errors.append(f"uncaught: {description}")
        elif method == "Log.entryAdded" and params.get("entry", {}).get("level") == "error":
            entry = params["entry"]
            self.errors.append(f"{entry.get('source')}: {entry.get('text')} {entry.get('url', '')}".strip())
        self._events.append(message)

    def _receive(self, deadline: float) -> dict[str, Any]:
        self._socket.settimeout(max(0.05, deadline - time.monotonic()))
        message: dict[str, Any] = json.loads(self._socket.recv())
        if "method" in message:
            self._record(message)
        return message

    def call(self, method: str, **params: Any) -> dict[str, Any]:
        """Send one DevTools command and return its result (events seen meanwhile are kept)."""
        self._next_id += 1
        ident = self._next_id
        self._socket.send(json.dumps({"id": ident, "method": method, "params": params}))
        deadline = time.monotonic() + self._timeout
        while time.monotonic() < deadline:
            message = self._receive(deadline)
            if message.get("id") == ident:
                if "error" in message:
                    raise RuntimeError(f"{method} failed: {message['error']}")
                result: dict[str, Any] = message.get("result", {})
                return result
        raise TimeoutError(f"no answer to {method} within {self._timeout:.0f}s")

    def evaluate(self, expression: str) -> Any:
        """The JSON value of a JavaScript expression in the page."""
        result = self.call("Runtime.evaluate", expression=expression, returnByValue=True, awaitPromise=True)
        return result.get("result", {}).get("value")

    def text(self) -> str:
        """The rendered text of the page (``innerText``: what a reader sees)."""
        return str(self.evaluate("document.body ? document.body.innerText : ''") or "")

    def open(self, url: str, wait_for: Sequence[str] = (), timeout: float | None = None) -> str:
        """Navigate to ``url``, wait for the load event and until every string of ``wait_for``
        is in the rendered text (or the timeout passes); returns that text."""
        limit = timeout or self._timeout
        self._events.clear()
        self.call("Page.navigate", url=url)
        deadline = time.monotonic() + limit
        while time.monotonic() < deadline and not any(
            e.get("method") == "Page.loadEventFired" for e in self._events
        ):
            with contextlib.suppress(Exception):  # a receive timeout: check the deadline again
                self._receive(min(deadline, time.monotonic() + 0.5))
        text = self.text()
        while time.monotonic() < deadline and not all(w in text for w in wait_for):
            time.sleep(0.25)
            text = self.text()
        self.settle(0.5)
        return self.text()

    def settle(self, seconds: float) -> None:
        """Keep listening for ``seconds`` (late console errors and exceptions arrive as events)."""
        end = time.monotonic() + seconds
        while time.monotonic() < end:
            with contextlib.suppress(Exception):
                self._receive(end)

    def screenshot(self, path: Path) -> Path:
        """A PNG of the viewport."""
        data = self.call("Page.captureScreenshot", format="png")["data"]
        path.write_bytes(base64.b64decode(data))
        return path


def _wait_for_port(profile: Path, proc: subprocess.Popen[bytes], timeout: float) -> int:
    marker = profile / "DevToolsActivePort"
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise BrowserUnavailable(f"Chromium exited at start (code {proc.returncode})")
        if marker.is_file():
            lines = marker.read_text().split()
            if lines:
                return int(lines[0])
        time.sleep(0.1)
    raise BrowserUnavailable(f"Chromium did not open its DevTools port within {timeout:.0f}s")


@contextlib.contextmanager
def chromium(width: int = 1280, height: int = 900, timeout: float = 60.0) -> Iterator[Page]:
    """A headless Chromium with one tab, closed (and its profile removed) on exit."""
    binary = find_chromium()
    try:
        import websocket  # websocket-client (the dev extra)
    except ImportError:
        raise BrowserUnavailable("websocket-client is missing: pip install -e '.[dev]'") from None
    profile = Path(tempfile.mkdtemp(prefix="nas-attn-chromium-"))
    command = [
        binary,
        "--headless=new",
        "--no-sandbox",  # containers and CI run as root
        "--disable-gpu",
        "--disable-dev-shm-usage",
        "--no-first-run",
        "--no-default-browser-check",
        "--disable-extensions",
        "--disable-background-networking",
        "--hide-scrollbars",
        "--remote-debugging-port=0",
        "--remote-allow-origins=*",
        f"--user-data-dir={profile}",
        f"--window-size={width},{height}",
        "about:blank",
    ]
    proc = subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    socket = None
    try:
        port = _wait_for_port(profile, proc, timeout)
        with urllib.request.urlopen(f"http://127.0.0.1:{port}/json/list", timeout=timeout) as response:
            targets = json.loads(response.read())
        page = next(t for t in targets if t.get("type") == "page")
        socket = websocket.create_connection(
            page["webSocketDebuggerUrl"], timeout=timeout, suppress_origin=True
        )
        yield Page(socket, timeout, width, height)
    finally:
        if socket is not None:
            with contextlib.suppress(Exception):
                socket.close()
        proc.terminate()
        try:
            proc.wait(timeout=15)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(timeout=15)
        shutil.rmtree(profile, ignore_errors=True)
