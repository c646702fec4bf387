"""`./run` on a fresh clone: concurrent first runs set up once; a half-made .venv is rebuilt.

The real `run` script is copied into a temporary "clone" whose pyproject.toml is a tiny package
with an in-tree build backend and no dependencies, so the setup is the real one (a venv, pip
upgrade, editable install with the dev extra) but needs no network: pip runs with
PIP_NO_INDEX=1 and no user pip config. ``NAS_ATTN_PYTHON`` is a wrapper that logs each venv
it creates, which counts the installations.
"""

from __future__ import annotations

import os
import shutil
import stat
import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]

pytestmark = pytest.mark.slow

BACKEND = '''\
"""A minimal PEP 517/660 build backend (no setuptools, so the build needs no index)."""
import base64, hashlib, os, zipfile

NAME, VERSION = "tinyclone", "0.0.1"


def _wheel(directory, files):
    dist = f"{NAME}-{VERSION}.dist-info"
    metadata = f"Metadata-Version: 2.1\\nName: {NAME}\\nVersion: {VERSION}\\nProvides-Extra: dev\\n"
    wheel_info = "Wheel-Version: 1.0\\nGenerator: tiny\\nRoot-Is-Purelib: true\\nTag: py3-none-any\\n"
    files = files + [(f"{dist}/METADATA", metadata), (f"{dist}/WHEEL", wheel_info)]
    name = f"{NAME}-{VERSION}-py3-none-any.whl"
    records = []
    with zipfile.ZipFile(os.path.join(directory, name), "w") as wheel:
        for path, text in files:
            data = text.encode()
            wheel.writestr(path, data)
            digest = base64.urlsafe_b64encode(hashlib.sha256(data).digest()).rstrip(b"=").decode()
            records.append(f"{path},sha256={digest},{len(data)}")
        wheel.writestr(f"{dist}/RECORD", "\\n".join(records + [f"{dist}/RECORD,,"]) + "\\n")
    return name


def build_wheel(wheel_directory, config_settings=None, metadata_directory=None):
    return _wheel(wheel_directory, [("tinyclone.py", "VALUE = 1\\n")])


def build_editable(wheel_directory, config_settings=None, metadata_directory=None):
    here = os.path.dirname(os.path.abspath(__file__))
    return _wheel(wheel_directory, [("tinyclone.pth", here + "\\n")])


def get_requires_for_build_wheel(config_settings=None):
    return []


def get_requires_for_build_editable(config_settings=None):
    return []
'''

PYPROJECT = """\
[build-system]
requires = []
build-backend = "backend"
backend-path = ["."]

[project]
name = "tinyclone"
version = "0.0.1"
"""


@pytest.fixture
def clone(tmp_path: Path) -> Path:
    """A fresh clone: the real ./run, a tiny package, no .venv yet."""
    root = tmp_path / "clone"
    root.mkdir()
    shutil.copy2(REPO / "run", root / "run")
    (root / "pyproject.toml").write_text(PYPROJECT)
    (root / "constraints.txt").write_text("")
    (root / "backend.py").write_text(BACKEND)
    (root / "tinyclone.py").write_text("VALUE = 1\n")
    return root


@pytest.fixture
def env(tmp_path: Path) -> dict[str, str]:
    """Offline pip, and a Python that logs every venv it creates to venvs.log."""
    wrapper = tmp_path / "python-logging-venvs"
    log = tmp_path / "venvs.log"
    wrapper.write_text(
        "#!/usr/bin/env bash\n"
        f'if [ "${{1:-}}" = "-m" ] && [ "${{2:-}}" = "venv" ]; then echo "$3" >> "{log}"; fi\n'
        f'exec "{sys.executable}" "$@"\n'
    )
    wrapper.chmod(wrapper.stat().st_mode | stat.S_IXUSR)
    keep = {k: v for k, v in os.environ.items() if not k.startswith(("PIP_", "VIRTUAL_ENV", "PYTHON"))}
    return {**keep, "NAS_ATTN_PYTHON": str(wrapper), "PIP_NO_INDEX": "1", "PIP_CONFIG_FILE": os.devnull}


def venvs_created(tmp_path: Path) -> list[str]:
    log = tmp_path / "venvs.log"
    return log.read_text().splitlines() if log.exists() else []


def run(clone: Path, env: dict[str, str], *command: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [str(clone / "run"), *command], capture_output=True, text=True, env=env, timeout=600
    )


def test_two_concurrent_first_runs_install_once_and_both_succeed(
    clone: Path, env: dict[str, str], tmp_path: Path
) -> None:
    check = ["python", "-c", "import tinyclone, sys; print(tinyclone.VALUE, sys.prefix)"]
    procs = [
        subprocess.Popen(
            [str(clone / "run"), *check], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env
        )
        for _ in range(2)
    ]
    results = [(p.wait(timeout=600), *p.communicate(timeout=60)) for p in procs]
    for code, out, err in results:
        assert code == 0, err
        assert out.split() == ["1", str(clone / ".venv")]  # the command ran in the clone's venv
    errs = "".join(err for _, _, err in results)
    assert errs.count("nas-attn: setting up") == 1, errs
    assert errs.count("environment ready") == 1, errs
    assert errs.count("waiting for it") == 1, errs  # the second run found the first one at work
    assert venvs_created(tmp_path) == [str(clone / ".venv")]
    again = run(clone, env, "true")
    assert again.returncode == 0 and again.stderr == ""  # ready: nothing set up, nothing said
    assert len(venvs_created(tmp_path)) == 1


@pytest.mark.parametrize("damage", ["no-stamp", "broken-python"])
def test_a_half_made_venv_is_rebuilt_with_a_clear_message(
    damage: str, clone: Path, env: dict[str, str], tmp_path: Path
) -> None:
    assert run(clone, env, "true").returncode == 0
    venv = clone / ".venv"
    if damage == "no-stamp":  # as an interrupted install leaves it
        (venv / ".nas-attn-installed").unlink()
    else:
        for name in ("python", "python3"):
            (venv / "bin" / name).unlink()
            (venv / "bin" / name).symlink_to(tmp_path / "gone")
    proc = run(clone, env, "python", "-c", "import tinyclone; print(tinyclone.VALUE)")
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.strip() == "1"
    assert "is incomplete or broken (an interrupted setup?); removing it and setting up again" in proc.stderr
    assert "environment ready" in proc.stderr
    assert len(venvs_created(tmp_path)) == 2
