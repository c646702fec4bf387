"""benches/bench_interrupts.py: its summary of logged runs (the runs themselves are the
interrupt cases, tested in tests/search_tests/driver_tests/test_cli_interrupts.py)."""

from __future__ import annotations

import importlib.util
import json
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]


def _bench():  # type: ignore[no-untyped-def]
    spec = importlib.util.spec_from_file_location(
        "bench_interrupts", ROOT / "benches" / "bench_interrupts.py"
    )
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules["bench_interrupts"] = module
    spec.loader.exec_module(module)
    return module


def _write(path: Path, records: list[dict[str, object]]) -> Path:
    path.write_text("".join(json.dumps(r) + "\n" for r in records))
    return path


def test_the_summary_of_two_logs_counts_passes_hangs_and_the_slowest_exit(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    first = _write(
        tmp_path / "a.jsonl",
        [
            {"case": "trial-2x-burst", "rep": 0, "load": 0, "exit": 130, "seconds": 3.5, "problems": []},
            {"case": "spawn", "rep": 0, "load": 0, "exit": 130, "seconds": 0.3, "problems": []},
        ],
    )
    second = _write(
        tmp_path / "b.jsonl",
        [
            {
                "case": "trial-2x-burst",
                "rep": 0,
                "load": 0,
                "exit": None,
                "seconds": 120.0,
                "problems": ["hang: still running after the last press"],
            },
        ],
    )
    code = _bench().main(["--from-log", str(first), str(second), "--hang-s", "120"])
    out = capsys.readouterr().out.splitlines()
    assert code == 1
    assert out[-2] == "interrupt cases: 2/3 runs passed; slowest exit 120.0 s; hangs: 1"
    assert out[-1] == "(a hang: still running 120 s after the last press)"
    row = next(line for line in out if line.startswith("trial-2x-burst"))
    assert row.split()[1] == "1/2"
    assert any("first problem: hang" in line for line in out)


def test_an_unknown_case_is_a_usage_error(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as exit_info:
        _bench().main(["--cases", "nope"])
    assert exit_info.value.code == 2
    assert "unknown case(s) ['nope']" in capsys.readouterr().err
