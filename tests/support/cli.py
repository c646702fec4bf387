"""``nas-attn ARGS`` in the test process (fast) or as a real subprocess, and what a rejected
command must leave as it was."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
from collections.abc import Sequence
from pathlib import Path

import optuna
import pytest


def run_cli(args: Sequence[str], cwd: Path, capsys: pytest.CaptureFixture[str]) -> tuple[int, str, str]:
    """``nas-attn ARGS`` in this process, in ``cwd``: exit code, stdout, stderr (read from
    ``capsys``); any exception but SystemExit fails. The working directory, ``sys.argv`` and the
    SIGINT handler are restored afterwards (an interrupted command ignores Ctrl-C on its way out)."""
    from nas_attn import cli

    old_cwd, old_argv, old_sigint = Path.cwd(), sys.argv, signal.getsignal(signal.SIGINT)
    os.chdir(cwd)
    sys.argv = ["nas-attn", *args]
    try:
        cli.main()
        code = 0
    except SystemExit as exc:
        code = _exit_status(exc.code)
    finally:
        os.chdir(old_cwd)
        sys.argv = old_argv
        signal.signal(signal.SIGINT, old_sigint)
    captured = capsys.readouterr()
    return code, captured.out, captured.err


def _exit_status(code: object) -> int:
    """The status a process exits with for ``SystemExit(code)``: None is 0, a message is 1."""
    if code is None:
        return 0
    return int(code) if isinstance(code, int) else 1


def nas_attn(*args: str, cwd: Path) -> subprocess.CompletedProcess[str]:
    """``python -m nas_attn ARGS`` as a real process in ``cwd`` (200 columns wide)."""
    env = {**os.environ, "COLUMNS": "200"}
    return subprocess.run(
        [sys.executable, "-m", "nas_attn", *args],
        cwd=cwd,
        capture_output=True,
        text=True,
        env=env,
        timeout=600,
    )


def assert_one_line_error(proc: subprocess.CompletedProcess[str], fragment: str, code: int = 1) -> None:
    """Exit ``code`` (1: a user error, 2: a usage error) with one ``nas-attn: error:`` line."""
    assert proc.returncode == code, (proc.returncode, proc.stderr)
    assert "Traceback" not in proc.stderr and "Traceback" not in proc.stdout
    lines = [line for line in proc.stderr.splitlines() if line.strip()]
    assert len(lines) == 1, proc.stderr
    assert lines[0].startswith("nas-attn: error: ") and fragment in lines[0], lines[0]


def snapshot(storage: str) -> list[tuple[object, ...]]:
    """Everything a rejected command must leave as it was: studies, attrs, trials."""
    out: list[tuple[object, ...]] = []
    for summary in optuna.get_all_study_summaries(storage, include_best_trial=False):
        study = optuna.load_study(study_name=summary.study_name, storage=storage)
        out.append((summary.study_name, sorted(str(summary.user_attrs).split()), len(study.trials)))
        out += [(t.number, t.state, str(t.params), t.values, str(t.user_attrs)) for t in study.trials]
    return out
