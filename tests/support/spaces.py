"""The tiny search space: two ResNet-18 stages, a proxy that trains in seconds on a CPU."""

from __future__ import annotations

from typing import Any

_TINY_CHOICES = "{module: [none, se, eca, cbam], reduction: [4, 16]}"
TINY_LAYER1 = f"layer1: {_TINY_CHOICES}"
TINY_STAGES = f"  {TINY_LAYER1}\n  layer2: {_TINY_CHOICES}\n"  # 36 placements
SMALL_STAGES = "  layer1: {module: [none, se, eca], reduction: [4, 16]}\n"  # 4 placements


def space_yaml(stages: str = TINY_STAGES, name: str = "tiny", **search: Any) -> str:
    """The space's YAML text: ``stages`` lines, the tiny proxy, and a ``search`` section of the
    random sampler (3 trials, seed 0, population 4) with ``search`` overriding or adding keys."""
    settings = {"sampler": "random", "n_trials": 3, "seed": 0, "population_size": 4, **search}
    flat = ", ".join(f"{k}: {str(v).lower() if isinstance(v, bool) else v}" for k, v in settings.items())
    return (
        f"name: {name}\nbackbone: {{name: resnet18, stem: cifar}}\nstages:\n{stages}"
        "proxy: {dataset: digits, image_size: 8, epochs: 1, batch_size: 64, crop_padding: 1}\n"
        "latency: {warmup: 1, repeats: 5}\n"
        f"search: {{{flat}}}\n"
    )


TINY_SPACE = space_yaml(sampler="nsga2")  # the CLI tests' space (conftest's tiny_space_file)
