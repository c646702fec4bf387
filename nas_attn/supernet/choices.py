"""The candidates of each supernet slot: every choice a search space allows for a stage.

A slot is one stage of the space. Its candidates are every module x reduction x position the
stage's ``StageChoices`` allow (reduction only for modules that use one; ``none`` once), in the
space's order. A choice the stage's geometry cannot take (e.g. SimAM on a 1x1 map) is masked:
kept out of the candidates, with the builder's own reason (:func:`stage_problems`).
"""

from __future__ import annotations

import itertools
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

from nas_attn.attention import get_attention_info
from nas_attn.backbones import ArchConfig, StageGeometry, StagePlacement
from nas_attn.backbones.builder import stage_problems
from nas_attn.exceptions import NasAttnError
from nas_attn.search.sampling.space import StageChoices

#: One candidate index per slot, in slot order: a path through the supernet.
PathIndices = tuple[int, ...]


@dataclass(frozen=True)
class MaskedChoice:
    """A choice the space lists but the stage cannot take, and why."""

    placement: StagePlacement
    reason: str


@dataclass(frozen=True)
class SlotChoices:
    """The candidates of one slot (stage ``stage``) and the choices masked out of it."""

    stage: str
    candidates: tuple[StagePlacement, ...]
    masked: tuple[MaskedChoice, ...] = ()

    def index(self, placement: StagePlacement) -> int:
        """The candidate index of ``placement`` (compared by what it builds), or a NasAttnError."""
        wanted = placement.canonical()
        for i, candidate in enumerate(self.candidates):
            if candidate.canonical() == wanted:
                return i
        labels = ", ".join(c.label() for c in self.candidates)
        raise NasAttnError(
            f"stages.{self.stage}: '{placement.label()}' is not a candidate of this supernet slot; "
            f"candidates: {labels}"
        )


def _listed(choices: StageChoices) -> list[StagePlacement]:
    """Every placement ``choices`` lists, ``none`` once, without duplicates."""
    out: list[StagePlacement] = []
    seen: set[str] = set()
    for module in choices.module:
        if module == "none":
            options = [StagePlacement()]
        else:
            reductions = choices.reduction if get_attention_info(module).uses_reduction else [None]
            options = [
                StagePlacement(module=module, reduction=r, position=p)
                for p, r in itertools.product(choices.position, reductions)
            ]
        for option in options:
            key = repr(sorted(option.canonical().items()))
            if key not in seen:
                seen.add(key)
                out.append(option)
    return out


def slot_choices(base: ArchConfig, stage: str, choices: StageChoices, geometry: StageGeometry) -> SlotChoices:
    """The candidates of ``stage`` on ``base`` (the backbone without attention), invalid ones masked."""
    candidates: list[StagePlacement] = []
    masked: list[MaskedChoice] = []
    for option in _listed(choices):
        problems = [] if option.module == "none" else stage_problems(base, stage, option, geometry)
        if problems:
            masked.append(MaskedChoice(option, "; ".join(problems)))
        else:
            candidates.append(option)
    if not candidates:
        reasons = "; ".join(m.reason for m in masked)
        raise NasAttnError(f"stages.{stage}: no choice of the space fits this stage ({reasons})")
    return SlotChoices(stage=stage, candidates=tuple(candidates), masked=tuple(masked))


def placement_of(base: ArchConfig, slots: Sequence[SlotChoices], path: PathIndices) -> ArchConfig:
    """The ArchConfig that takes candidate ``path[i]`` in slot ``i``."""
    if len(path) != len(slots):
        raise NasAttnError(f"a path needs one candidate per slot ({len(slots)}), got {len(path)}")
    stages: dict[str, StagePlacement] = {}
    for slot, index in zip(slots, path, strict=True):
        if not 0 <= index < len(slot.candidates):
            raise NasAttnError(
                f"stages.{slot.stage}: candidate {index} out of range (0..{len(slot.candidates) - 1})"
            )
        stages[slot.stage] = slot.candidates[index]
    return base.model_copy(update={"stages": stages})


def path_of(slots: Sequence[SlotChoices], arch: ArchConfig | Mapping[str, StagePlacement]) -> PathIndices:
    """The candidate indices of a placement; stages the supernet has no slot for must be ``none``."""
    stages = arch.stages if isinstance(arch, ArchConfig) else arch
    names = {slot.stage for slot in slots}
    extra = [name for name, stage in stages.items() if name not in names and stage.module != "none"]
    if extra:
        raise NasAttnError(f"stages {', '.join(extra)} have no supernet slot; the space does not search them")
    return tuple(slot.index(stages.get(slot.stage, StagePlacement())) for slot in slots)
