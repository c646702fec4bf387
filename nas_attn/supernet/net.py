"""The weight-sharing supernet: one seeded backbone, one slot of candidates per searched stage.

Single-path one-shot (SPOS: Guo et al., "Single Path One-Shot Neural Architecture Search with
Uniform Sampling", ECCV 2020): each forward runs one candidate per slot, chosen by
:meth:`Supernet.activate`; the choice applies to every block of the stage, each block with
its own instances.

What is shared and what is private:

* Shared: the stem, every convolution, ``bn1`` and the downsample BatchNorms, the head: the
  very backbone ``build_model(arch, seed=...)`` creates for every placement (its backbone
  initialisation never depends on the placement).
* Private per candidate: its attention modules AND its own copy of each block's last
  BatchNorm (``bn2`` of a BasicBlock, ``bn3`` of a Bottleneck), the BatchNorm that feeds the gate
  (switchable BatchNorm, as in slimmable networks and Shadow BN). At initialisation the gates
  scale the residual branch very differently (mean gate: SE, ECA, Triplet ~0.5; CBAM, Coord
  ~0.25; GC and ``none`` the identity), so one shared gamma/beta and one set of running
  statistics in front of the gate cannot serve them all; each candidate learns its own residual
  scale. The copies start as timm initialises the original: gamma 0 where timm zero-inits the
  last BN (``zero_init_last``).

Each candidate's attention modules draw from the same seeded generator ``build_model`` uses for
that stage (:func:`stage_seed`), so at initialisation the path of a placement holds exactly the
weights ``build_model(placement, seed=seed)`` starts from.
"""

from __future__ import annotations

import copy
from collections import OrderedDict
from typing import cast

import torch
from torch import nn

from nas_attn.attention import create_attention, get_attention_info
from nas_attn.backbones import ArchConfig, BackboneAdapter, StageGeometry, StagePlacement, get_adapter
from nas_attn.backbones.builder import build_model, module_channels, module_kwargs, stage_geometry, stage_seed
from nas_attn.exceptions import NasAttnError
from nas_attn.search.sampling.space import SearchSpace
from nas_attn.supernet.choices import PathIndices, SlotChoices, path_of, placement_of, slot_choices


def norm_name(block: nn.Module) -> str:
    """The block's last BatchNorm, the one in front of the attention slot."""
    return "bn3" if hasattr(block, "bn3") else "bn2"


class Candidate(nn.Module):
    """One choice of a slot: a private last-BN per block, its block attention modules (by block
    index, as strings) and, for ``stage_out``, one module on the stage output."""

    def __init__(
        self, norms: list[nn.Module], block_attn: dict[str, nn.Module], stage_attn: nn.Module | None
    ) -> None:
        super().__init__()
        self.norms = nn.ModuleList(norms)
        self.block_attn = nn.ModuleDict(block_attn)
        self.stage_attn = stage_attn


class Slot(nn.Module):
    """The candidates of one stage and which of them is active."""

    def __init__(self, choices: SlotChoices, candidates: list[Candidate], needs_context: list[bool]) -> None:
        super().__init__()
        self.choices = choices
        self.candidates = nn.ModuleList(candidates)
        self.needs_context = needs_context
        self.active = 0

    def candidate(self, index: int | None = None) -> Candidate:
        return cast(Candidate, self.candidates[self.active if index is None else index])


def _link(module: nn.Module, slot: Slot) -> None:
    """Give ``module`` a ``slot`` attribute that is not a submodule."""
    object.__setattr__(module, "slot", slot)


class _BlockTap(nn.Module):
    """Stands in a block for its last BatchNorm: the active candidate's BN, then its attention.

    Holds no weights; the slot is referenced outside the module tree (not registered twice, and
    ``copy.deepcopy`` of the supernet points the copy at the copied slot).
    """

    slot: Slot

    def __init__(self, slot: Slot, block: int) -> None:
        super().__init__()
        _link(self, slot)
        self.block = block

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        candidate = self.slot.candidate()
        x = candidate.norms[self.block](x)
        key = str(self.block)
        return candidate.block_attn[key](x) if key in candidate.block_attn else x


class _SwitchedStage(nn.Sequential):
    """A stage followed by the active candidate's ``stage_out`` module, if it has one (the stage's
    children keep their state-dict keys, as in the builder's ``AttendedStage``)."""

    slot: Slot

    def __init__(self, children: OrderedDict[str, nn.Module], slot: Slot) -> None:
        super().__init__(children)
        _link(self, slot)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        stage_input = x
        for module in self:
            x = module(x)
        slot = self.slot
        attn = slot.candidate().stage_attn
        if attn is None:
            return x
        return attn(x, stage_input) if slot.needs_context[slot.active] else attn(x)


def _make_candidate(
    option: StagePlacement, stage: str, geo: StageGeometry, norms: list[nn.Module], seed: int
) -> tuple[Candidate, bool]:
    """A candidate with fresh copies of ``norms`` and its modules drawn as ``build_model`` draws them."""
    private = [copy.deepcopy(norm) for norm in norms]
    if option.module == "none":
        return Candidate(private, {}, None), False
    info = get_attention_info(option.module)
    kwargs = module_kwargs(option, geo)
    channels = module_channels(option, geo)
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(stage_seed(seed, stage))
        if option.position == "stage_out":
            stage_attn = create_attention(option.module, channels, **kwargs)
            return Candidate(private, {}, stage_attn), info.needs_context
        targets = range(len(norms)) if option.position == "block" else [len(norms) - 1]
        block_attn = {str(i): create_attention(option.module, channels, **kwargs) for i in targets}
    return Candidate(private, block_attn, None), info.needs_context


class Supernet(nn.Module):
    """The supernet of ``space``: ``build_model``'s seeded backbone with one :class:`Slot` per
    searched stage. ``net`` holds the shared weights; ``slots`` the private ones."""

    def __init__(self, space: SearchSpace, seed: int) -> None:
        super().__init__()
        self.base: ArchConfig = space.base_arch()
        self.seed = seed
        self.adapter: BackboneAdapter = get_adapter(self.base.backbone)
        geometry = stage_geometry(self.base)
        self.net = build_model(self.base, seed=seed)
        self.slots = nn.ModuleDict()
        for stage in space.stages:
            if stage not in geometry:
                raise NasAttnError(f"stages.{stage}: unknown stage for {self.base.backbone}")
            self.slots[stage] = self._build_slot(stage, space, geometry[stage])

    def _build_slot(self, stage: str, space: SearchSpace, geo: StageGeometry) -> Slot:
        choices = slot_choices(self.base, stage, space.stages[stage], geo)
        blocks = self.adapter.blocks(self.adapter.stage(self.net, stage))
        if not blocks:
            raise NasAttnError(f"stages.{stage}: {self.base.backbone} has no block BatchNorm to switch")
        if not all(isinstance(getattr(b, norm_name(b), None), nn.BatchNorm2d) for b in blocks):
            raise NasAttnError(
                f"stages.{stage}: supernets need timm ResNet blocks (a bn2/bn3 in front of the attention "
                f"slot); {self.base.backbone} has none"
            )
        norms = [block.get_submodule(norm_name(block)) for block in blocks]
        made = [_make_candidate(option, stage, geo, norms, self.seed) for option in choices.candidates]
        slot = Slot(choices, [m[0] for m in made], [m[1] for m in made])
        for i, block in enumerate(blocks):
            setattr(block, norm_name(block), _BlockTap(slot, i))
        parent, attr = self.adapter.stage_parents(self.net)[stage]
        setattr(parent, attr, _SwitchedStage(OrderedDict(getattr(parent, attr).named_children()), slot))
        return slot

    # -- paths ----------------------------------------------------------------------------------
    @property
    def slot_choices(self) -> list[SlotChoices]:
        return [cast(Slot, slot).choices for slot in self.slots.values()]

    @property
    def slot_sizes(self) -> tuple[int, ...]:
        return tuple(len(choices.candidates) for choices in self.slot_choices)

    def path(self, placement: ArchConfig | PathIndices) -> PathIndices:
        """The candidate indices of ``placement`` (an ArchConfig of this backbone, or indices)."""
        if isinstance(placement, ArchConfig):
            if placement.plain().canonical() != self.base.canonical():
                raise NasAttnError(
                    "the placement's backbone, stem, image size or classes differ from the supernet's "
                    f"({self.base.label() or self.base.backbone})"
                )
            return path_of(self.slot_choices, placement)
        placement_of(self.base, self.slot_choices, tuple(placement))  # range check
        return tuple(placement)

    def placement(self, path: PathIndices | None = None) -> ArchConfig:
        """The ArchConfig of ``path`` (default: the active one)."""
        return placement_of(self.base, self.slot_choices, self.active_path() if path is None else path)

    def activate(self, placement: ArchConfig | PathIndices) -> PathIndices:
        """Make ``placement`` the path every forward runs; return its indices."""
        path = self.path(placement)
        for slot, index in zip(self.slots.values(), path, strict=True):
            cast(Slot, slot).active = index
        return path

    def active_path(self) -> PathIndices:
        return tuple(cast(Slot, slot).active for slot in self.slots.values())

    def active_modules(self) -> list[nn.Module]:
        """What the active path runs: the shared network and the active candidates."""
        return [self.net, *(cast(Slot, slot).candidate() for slot in self.slots.values())]

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return cast(torch.Tensor, self.net(x))
