"""`.ci/run`: the README's test command, and a run that checked nothing is a failure.

The real script is copied into a temporary clone whose ``./run`` is a stand-in for pytest with a
chosen exit status (the Debian data and Chromium are present or the script's installs are
skipped: ``apt-get`` is shadowed by a no-op on PATH).
"""

from __future__ import annotations

import os
import shutil
import stat
import subprocess
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]


def clone_with_pytest_exiting(tmp_path: Path, status: int) -> Path:
    (tmp_path / ".ci").mkdir()
    shutil.copy2(REPO / ".ci" / "run", tmp_path / ".ci" / "run")
    fake = tmp_path / "run"
    fake.write_text(f'#!/usr/bin/env bash\necho "ran: $*"\nexit {status}\n')
    fake.chmod(fake.stat().st_mode | stat.S_IXUSR)
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    for tool in ("apt-get", "chromium"):
        stub = bin_dir / tool
        stub.write_text("#!/usr/bin/env bash\nexit 0\n")
        stub.chmod(stub.stat().st_mode | stat.S_IXUSR)
    return tmp_path


def run_ci(clone: Path) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "PATH": f"{clone / 'bin'}:{os.environ['PATH']}"}
    return subprocess.run(
        ["bash", str(clone / ".ci" / "run")], capture_output=True, text=True, env=env, timeout=60
    )


def test_ci_runs_the_readmes_test_command() -> None:
    assert "./run pytest" in (REPO / "README.md").read_text()
    assert "\n./run pytest\n" in (REPO / ".ci" / "run").read_text()


@pytest.mark.parametrize(("pytest_status", "ci_status"), [(0, 0), (1, 1), (2, 2), (5, 1)])
def test_ci_passes_pytests_status_and_fails_when_nothing_was_collected(
    tmp_path: Path, pytest_status: int, ci_status: int
) -> None:
    proc = run_ci(clone_with_pytest_exiting(tmp_path, pytest_status))
    assert "ran: pytest" in proc.stdout
    assert proc.returncode == ci_status
    if pytest_status == 5:
        assert "collected no tests" in proc.stderr and "failure" in proc.stderr
