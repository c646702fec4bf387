"""Ctrl-C while the CLI starts is one line (nas_attn/_startup.py); a library import is untouched."""

from __future__ import annotations

import subprocess
import sys

import pytest

from nas_attn import _startup


@pytest.mark.parametrize(
    ("argv", "orig_argv", "cli"),
    [
        (["/venv/bin/nas-attn", "search"], ["/venv/bin/python", "/venv/bin/nas-attn", "search"], True),
        (["-m"], ["python", "-m", "nas_attn", "front"], True),
        (["-m"], ["python", "-m", "nas_attn.testing.held_cli", "--events", "x"], True),
        (["train.py"], ["python", "train.py"], False),
        (["-m"], ["python", "-m", "nas_attn_other"], False),
        (["-c"], ["python", "-c", "import nas_attn"], False),
        ([""], ["python"], False),
    ],
)
def test_only_the_command_counts_as_the_cli(
    monkeypatch: pytest.MonkeyPatch, argv: list[str], orig_argv: list[str], cli: bool
) -> None:
    monkeypatch.setattr(sys, "argv", argv)
    monkeypatch.setattr(sys, "orig_argv", orig_argv)
    assert _startup.running_the_cli() is cli


def test_a_program_importing_the_package_keeps_pythons_ctrl_c() -> None:
    code = "import signal, nas_attn; print(signal.getsignal(signal.SIGINT) is signal.default_int_handler)"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert out.strip() == "True"
