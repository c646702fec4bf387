"""Enumerating placements: size, distinctness, and the baselines a search starts with."""

from __future__ import annotations

from pathlib import Path

import pytest
from support.search import write_space
from support.spaces import space_yaml

from nas_attn import NasAttnError, load_space
from nas_attn.search import baseline_params, enumerate_params, space_size
from nas_attn.search.sampling.placements import arch_of


def test_tiny_space_size_and_distinct_digests(tiny_space_file: Path) -> None:
    space = load_space(tiny_space_file)
    every = list(enumerate_params(space))
    # per stage: none, se/4, se/16, eca, cbam/4, cbam/16
    assert space_size(space) == len(every) == 36
    assert len({arch_of(space, p).digest() for p in every}) == 36


def test_positions_multiply_only_modules_that_take_them(tmp_path: Path) -> None:
    stages = "  layer1: {module: [none, se, eca], reduction: [4, 8, 16], position: [block, last_block]}\n"
    space = load_space(write_space(tmp_path, space_yaml(stages)))
    assert space_size(space) == 1 + 3 * 2 + 2  # none; se x r x pos; eca x pos


def test_baselines_none_and_se_everywhere(tiny_space_file: Path) -> None:
    baselines = baseline_params(load_space(tiny_space_file))
    assert baselines["none"] == {"layer1.module": "none", "layer2.module": "none"}
    assert baselines["se"] == {
        "layer1.module": "se",
        "layer1.reduction": 16,
        "layer1.position": "block",
        "layer2.module": "se",
        "layer2.reduction": 16,
        "layer2.position": "block",
    }


def test_baselines_adapt_to_what_the_space_offers(tmp_path: Path) -> None:
    stages = (
        "  layer1: {module: [se, eca], reduction: [4, 8, 32], position: [last_block]}\n"
        "  layer2: {module: [none, eca]}\n"
    )
    baselines = baseline_params(load_space(write_space(tmp_path, space_yaml(stages))))
    assert "none" not in baselines  # layer1 cannot go without attention
    assert baselines["se"] == {
        "layer1.module": "se",
        "layer1.reduction": 8,  # the ratio nearest SE's 16 (ties: the smaller)
        "layer1.position": "last_block",
        "layer2.module": "none",
    }
    no_se = "  layer1: {module: [none, eca]}\n"
    assert list(baseline_params(load_space(write_space(tmp_path, space_yaml(no_se))))) == ["none"]


def test_a_reduction_no_module_uses_is_rejected(tmp_path: Path) -> None:
    stages = "  layer1: {module: [none, eca], reduction: [4]}\n"
    with pytest.raises(NasAttnError, match=r"stages\.layer1: reduction \[4\] cannot apply: none of"):
        load_space(write_space(tmp_path, space_yaml(stages)))
