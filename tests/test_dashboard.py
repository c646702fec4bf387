"""`nas-attn dashboard` serves optuna-dashboard on the study's storage, on loopback by default."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

from finished_study import make_finished_study


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def test_dashboard_serves_the_study_on_loopback(tmp_path: Path) -> None:
    make_finished_study(tmp_path)
    port = free_port()
    proc = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "nas_attn",
            "dashboard",
            "--storage",
            f"sqlite:///{tmp_path}/s.db",
            "--port",
            str(port),
        ],
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        env={**os.environ, "COLUMNS": "200"},
    )
    try:
        body = ""
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline and not body:
            try:
                with urllib.request.urlopen(f"http://127.0.0.1:{port}/api/studies", timeout=2) as response:
                    assert response.status == 200
                    body = response.read().decode()
            except OSError:
                time.sleep(0.5)
        assert '"study_name": "s"' in body.replace('":"', '": "')
    finally:
        proc.terminate()
        out, _ = proc.communicate(timeout=30)
    assert f"at http://127.0.0.1:{port}/" in out
