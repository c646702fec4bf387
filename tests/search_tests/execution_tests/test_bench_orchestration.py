"""Smoke test of benches/bench_orchestration.py: tiny settings, its table has the right rows.

No timing is asserted (the figures depend on the machine); only that the bench runs the real
driver end to end and reports an efficiency for each configuration.
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

pytestmark = [pytest.mark.ray, pytest.mark.slow]
BENCH = Path(__file__).resolve().parents[3] / "benches" / "bench_orchestration.py"


def test_bench_prints_a_row_with_an_efficiency_per_configuration() -> None:
    args = ["--workers", "1,2", "--trial-seconds", "0.05", "--trials-per-worker", "2", "--storage", "sqlite"]
    proc = subprocess.run(
        [sys.executable, str(BENCH), *args], capture_output=True, text=True, timeout=300, check=False
    )
    assert proc.returncode == 0, proc.stderr[-3000:]
    lines = proc.stdout.splitlines()
    header = next(line for line in lines if line.split()[:2] == ["workers", "storage"])
    columns = header.split()
    rows = [line.split() for line in lines if line.split()[:2] in (["1", "sqlite"], ["2", "sqlite"])]
    assert [row[0] for row in rows] == ["1", "2"], proc.stdout
    for row in rows:
        values = dict(zip(columns, row, strict=False))
        assert int(values["trials"]) == 2 * int(values["workers"])
        assert float(values["effic"]) > 0
    assert "WARNING: sqlite" not in proc.stdout, proc.stdout  # every run reached its target
