"""A real ``nas-attn dashboard`` process on a free loopback port, for the dashboard and browser tests.

The port is free when chosen, but the server binds it only seconds later (a fresh interpreter):
meanwhile another process (a test in the other pytest-xdist worker, a Ray node) may take it.
The dashboard then exits with "Address already in use", and it is started again on another port.
"""

from __future__ import annotations

import contextlib
import http.client
import os
import subprocess
import sys
import time
import urllib.request
from collections.abc import Iterator
from pathlib import Path

from nas_attn.testing.ports import free_loopback_port

ATTEMPTS = 3
PORT_TAKEN = "Address already in use"


def _answers(port: int) -> bool:
    try:
        with urllib.request.urlopen(f"http://127.0.0.1:{port}/api/studies", timeout=2):
            return True
    except (OSError, http.client.HTTPException):  # not up yet, or not an HTTP server (a Ray port)
        return False


@contextlib.contextmanager
def live_dashboard(storage: str, log: Path, timeout: float = 90.0) -> Iterator[int]:
    """``nas-attn dashboard --storage STORAGE`` on a free loopback port, once it answers; yields
    the port. Its stdout and stderr go to ``log`` (complete once the block has ended: it is
    stopped then). AssertionError when it exits for another reason or never answers."""
    for attempt in range(1, ATTEMPTS + 1):
        port = free_loopback_port()
        with log.open("w") as out:
            proc = subprocess.Popen(
                [sys.executable, "-m", "nas_attn", "dashboard", "--storage", storage, "--port", str(port)],
                stdout=out,
                stderr=subprocess.STDOUT,
                text=True,
                env={**os.environ, "COLUMNS": "200"},
            )
        try:
            deadline = time.monotonic() + timeout
            while proc.poll() is None and not _answers(port):
                assert time.monotonic() < deadline, f"nas-attn dashboard never answered: {log.read_text()}"
                time.sleep(0.5)
            if proc.poll() is not None:  # it exited: the port was taken, or a real failure
                if PORT_TAKEN in log.read_text() and attempt < ATTEMPTS:
                    continue
                raise AssertionError(f"nas-attn dashboard exited ({proc.returncode}): {log.read_text()}")
            yield port
            return
        finally:
            proc.terminate()
            proc.wait(timeout=30)
