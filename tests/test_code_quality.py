"""ruff and mypy are part of the suite, so CI keeps the code clean (config in pyproject.toml)."""

import shutil
import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
SOURCES = [d for d in ("nas_attn", "tests", "benches") if (REPO / d).is_dir()]


def tool(name: str) -> str:
    path = shutil.which(name, path=str(Path(sys.executable).parent)) or shutil.which(name)
    if path is None:
        pytest.fail(f"{name} is not installed; install the dev extra: pip install -e '.[dev]'")
    return path


def test_ruff_check_is_clean() -> None:
    proc = subprocess.run([tool("ruff"), "check", *SOURCES], cwd=REPO, capture_output=True, text=True)
    assert proc.returncode == 0, proc.stdout + proc.stderr


def test_ruff_format_is_clean() -> None:
    proc = subprocess.run(
        [tool("ruff"), "format", "--check", *SOURCES],
        cwd=REPO,
        capture_output=True,
        text=True,
    )
    assert proc.returncode == 0, proc.stdout + proc.stderr


@pytest.mark.slow  # about a minute on 2 cores: the fast tier leaves it to the full suite
def test_mypy_is_clean() -> None:
    proc = subprocess.run([tool("mypy")], cwd=REPO, capture_output=True, text=True)
    assert proc.returncode == 0, proc.stdout + proc.stderr


MAX_MODULE_LINES = 450  # issue 14: a module that grows past this is split by job


def test_no_module_is_longer_than_the_limit() -> None:
    lengths = {
        p.relative_to(REPO): len(p.read_text().splitlines()) for p in (REPO / "nas_attn").rglob("*.py")
    }
    too_long = {str(path): n for path, n in lengths.items() if n > MAX_MODULE_LINES}
    assert len(lengths) > 50, "the package's modules were not found"
    assert not too_long, f"split these modules by job (limit {MAX_MODULE_LINES} lines): {too_long}"


@pytest.mark.slow  # a fresh interpreter importing torch, timm and matplotlib
def test_reading_results_never_imports_ray() -> None:
    """The report, trial selection, tables and progress bars only read a study: importing them
    must not start pulling in Ray."""
    modules = "nas_attn.report, nas_attn.deploy.select, nas_attn.cli.tables, nas_attn.cli.progress"
    probe = f"import sys, {modules}; print('ray' in sys.modules)"
    proc = subprocess.run([sys.executable, "-c", probe], cwd=REPO, capture_output=True, text=True)
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.strip() == "False", f"importing {modules} imported ray"


MAX_LOOSE_MODULES = 12  # the rest of nas_attn/ lives in packages with one job each


def test_few_modules_lie_loose_in_the_package_root() -> None:
    loose = sorted(p.name for p in (REPO / "nas_attn").glob("*.py"))
    assert "__init__.py" in loose, "the package root was not found"
    assert len(loose) <= MAX_LOOSE_MODULES, (
        f"{len(loose)} modules directly in nas_attn/ (limit {MAX_LOOSE_MODULES}): {', '.join(loose)}; "
        "move them into a package"
    )
