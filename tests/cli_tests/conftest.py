"""Fixtures of the CLI tests: the hostile-input folder (see ``support/hostile.py``)."""

from __future__ import annotations

from pathlib import Path

import pytest
from support.hostile import build_template, copy_template


@pytest.fixture(scope="module")
def template(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The starting folder, built once per module."""
    return build_template(tmp_path_factory.mktemp("hostile"))


@pytest.fixture
def hostile_dir(template: Path, tmp_path: Path) -> Path:
    """A fresh copy of the starting folder for one test."""
    return copy_template(template, tmp_path)
