"""Shared fixtures: a tiny search space that trains in seconds on a CPU."""

from __future__ import annotations

from pathlib import Path

import pytest

TINY_SPACE = """\
name: tiny
backbone: {name: resnet18, stem: cifar}
stages:
  layer1: {module: [none, se, eca, cbam], reduction: [4, 16]}
  layer2: {module: [none, se, eca, cbam], reduction: [4, 16]}
proxy: {dataset: digits, image_size: 8, epochs: 1, batch_size: 64, crop_padding: 1}
latency: {warmup: 1, repeats: 5}
search: {sampler: nsga2, n_trials: 3, seed: 0, population_size: 4}
"""


@pytest.fixture
def tiny_space_file(tmp_path: Path) -> Path:
    path = tmp_path / "tiny.yaml"
    path.write_text(TINY_SPACE)
    return path
