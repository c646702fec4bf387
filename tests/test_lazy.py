"""Lazy package exports (nas_attn/_lazy.py): names resolve to their home modules on first use."""

import subprocess
import sys

import pytest

import nas_attn
import nas_attn.search
import nas_attn.search.driver
from nas_attn.backbones import ArchConfig
from nas_attn.search.driver.loop import run_search
from nas_attn.search.sampling.space import load_space


def test_a_lazy_name_is_the_object_of_its_home_module() -> None:
    assert nas_attn.ArchConfig is ArchConfig
    assert nas_attn.search.load_space is load_space
    assert nas_attn.search.run_search is run_search
    assert nas_attn.search.driver.run_search is run_search


def test_dir_lists_every_public_name_before_it_is_read() -> None:
    for package in (nas_attn, nas_attn.search, nas_attn.search.driver):
        assert set(package.__all__) <= set(dir(package)), package.__name__


def test_an_unknown_name_is_an_attribute_error_naming_the_package() -> None:
    with pytest.raises(AttributeError, match=r"module 'nas_attn.search' has no attribute 'no_such_name'"):
        nas_attn.search.no_such_name  # noqa: B018


@pytest.mark.slow  # a fresh interpreter
def test_importing_the_search_package_imports_neither_ray_nor_the_driver() -> None:
    probe = (
        "import sys, nas_attn.search\n"
        "print('ray' in sys.modules, 'nas_attn.search.driver.loop' in sys.modules)"
    )
    proc = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True)
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.split() == ["False", "False"]
