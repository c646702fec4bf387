"""Enumerating a space's placements: its size, every parameter set, and the baseline placements.

Parameters use the names :func:`~nas_attn.search.sampling.space.sample_arch` suggests, from
:func:`~nas_attn.search.sampling.space.param_name` (``layer1.module``, ``layer1.reduction``,
``layer1.position``); ``reduction`` appears only for modules that use it and
``reduction``/``position`` never for ``none``, so distinct parameter sets are distinct networks
(distinct ``ArchConfig.digest()``).
"""

from __future__ import annotations

import itertools
import math
from collections.abc import Iterator
from typing import Any

import optuna

from nas_attn.attention import get_attention_info
from nas_attn.backbones import ArchConfig
from nas_attn.defaults import DEFAULT_REDUCTION
from nas_attn.search.sampling.space import SearchSpace, StageChoices, param_name, sample_arch

Params = dict[str, Any]
BASELINE_POSITION = "block"  # the SE-ResNet position


def stage_options(name: str, choices: StageChoices) -> list[Params]:
    """Every distinct placement of one stage, in the order the choices are listed."""
    options: list[Params] = []
    for module in choices.module:
        if module == "none":
            options.append({param_name(name, "module"): "none"})
            continue
        reductions: list[int | None] = (
            list(choices.reduction) if get_attention_info(module).uses_reduction else [None]
        )
        for reduction in reductions:
            for position in choices.position:
                option: Params = {param_name(name, "module"): module}
                if reduction is not None:
                    option[param_name(name, "reduction")] = reduction
                option[param_name(name, "position")] = position
                options.append(option)
    return options


def space_size(space: SearchSpace) -> int:
    """How many distinct placements the space holds (stages are independent: a product)."""
    return math.prod(len(stage_options(name, c)) for name, c in space.stages.items())


def enumerate_params(space: SearchSpace) -> Iterator[Params]:
    """Every placement of the space as a parameter set (first stage varies slowest)."""
    per_stage = [stage_options(name, c) for name, c in space.stages.items()]
    for combo in itertools.product(*per_stage):
        params: Params = {}
        for option in combo:
            params.update(option)
        yield params


def arch_of(space: SearchSpace, params: Params) -> ArchConfig:
    """The ArchConfig a parameter set stands for (the same code path as a sampled trial)."""
    return sample_arch(optuna.trial.FixedTrial(params), space)


def _nearest_reduction(choices: list[int]) -> int:
    return min(choices, key=lambda r: (abs(math.log(r / DEFAULT_REDUCTION)), r))


def _se_stage(name: str, choices: StageChoices) -> Params | None:
    if "se" not in choices.module:
        return {param_name(name, "module"): "none"} if "none" in choices.module else None
    position = BASELINE_POSITION if BASELINE_POSITION in choices.position else choices.position[0]
    return {
        param_name(name, "module"): "se",
        param_name(name, "reduction"): _nearest_reduction(list(choices.reduction)),
        param_name(name, "position"): position,
    }


def baseline_params(space: SearchSpace) -> dict[str, Params]:
    """The reference placements a search evaluates first, where the space can express them:
    ``none`` (no attention anywhere) and ``se`` (SE in every stage that offers it, else none)."""
    baselines: dict[str, Params] = {}
    if all("none" in c.module for c in space.stages.values()):
        baselines["none"] = {param_name(name, "module"): "none" for name in space.stages}
    stages = [_se_stage(name, c) for name, c in space.stages.items()]
    if all(s is not None for s in stages) and any(s and "se" in s.values() for s in stages):
        se: Params = {}
        for stage in stages:
            se.update(stage or {})
        baselines["se"] = se
    return baselines
