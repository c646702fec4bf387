"""Backbone adapters: how a timm family exposes its stages and attention slots.

An adapter knows, for one family of timm models, how to create the network with the chosen
stem, which modules are its stages and blocks, and where a block's attention slot is. The
generic placement logic (feature sizes, ``block`` / ``last_block`` / ``stage_out`` insertion,
built-in attention handling) lives here once; families only answer those questions.
"""

from __future__ import annotations

import abc
import functools
from collections import OrderedDict
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import timm
import torch
from torch import nn

from nas_attn.attention import Position
from nas_attn.exceptions import NasAttnError


@dataclass(frozen=True)
class StageGeometry:
    """One stage as the placement engine sees it.

    Attributes:
        channels: channels of the stage output (what ``stage_out`` modules see).
        slot_channels: channels at the block attention slot (None: the family has no slot).
        in_channels: channels of the stage input = the previous stage's output (cross context).
        feat_size: (H, W) of the stage output for the configured input size.
        in_feat_size: (H, W) of the stage input.
        builtin: number of blocks whose slot already holds attention (e.g. SE in seresnet18).
    """

    name: str
    channels: int
    slot_channels: int | None
    in_channels: int
    feat_size: tuple[int, int]
    in_feat_size: tuple[int, int]
    num_blocks: int
    positions: tuple[Position, ...]
    builtin: int = 0


ModuleFactory = Callable[[], nn.Module]


class AttendedStage(nn.Sequential):
    """A stage whose children run in order, followed by one attention module ``attn``.

    Built from the original stage's children, so state-dict keys of the backbone are unchanged
    and the new parameters appear under ``<stage>.attn.*``. Cross-stage modules receive the
    stage input (the previous stage's output) as their context.
    """

    attn: nn.Module

    def __init__(self, children: OrderedDict[str, nn.Module], attn: nn.Module, needs_context: bool) -> None:
        super().__init__(children)
        self.add_module("attn", attn)
        self.needs_context = needs_context

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        stage_input = x
        for name, module in self.named_children():
            if name != "attn":
                x = module(x)
        return self.attn(x, stage_input) if self.needs_context else self.attn(x)


class BackboneAdapter(abc.ABC):
    """Placement interface for one timm model family."""

    family: str
    examples: tuple[str, ...]
    timm_module: str  # the timm.models submodule whose models this adapter handles

    def matches(self, model_name: str) -> bool:
        """Whether this adapter handles the timm model ``model_name`` (by timm's own model list)."""
        return model_name in _timm_models(self.timm_module)

    # -- family-specific ------------------------------------------------------------------------

    @abc.abstractmethod
    def create(self, model_name: str, num_classes: int, stem: str, **timm_kwargs: Any) -> nn.Module:
        """Create the bare timm network (no added attention) with the requested stem."""

    @abc.abstractmethod
    def stage_parents(self, model: nn.Module) -> OrderedDict[str, tuple[nn.Module, str]]:
        """Stage name -> (parent module, attribute name), in forward order."""

    def blocks(self, stage: nn.Module) -> list[nn.Module]:
        """Blocks of a stage that carry an attention slot (none by default)."""
        return []

    def slot_channels(self, block: nn.Module) -> int:
        """Channels at the block's attention slot."""
        raise NasAttnError(f"{self.family} blocks have no attention slot; use position stage_out")

    slot_attr = "se"

    def empty_slot(self) -> nn.Module | None:
        """What an empty slot holds in this family (None for ResNet, Identity for RegNet)."""
        return None

    # -- generic --------------------------------------------------------------------------------
    def stage(self, model: nn.Module, name: str) -> nn.Module:
        parent, attr = self.stage_parents(model)[name]
        return getattr(parent, attr)

    def _slot_is_empty(self, block: nn.Module) -> bool:
        slot = getattr(block, self.slot_attr, None)
        return slot is None or isinstance(slot, nn.Identity)

    def stages(self, model: nn.Module, image_size: int) -> dict[str, StageGeometry]:
        """Stage geometry for a square input of ``image_size``, read from one dummy forward."""
        shapes: dict[str, tuple[torch.Size, torch.Size]] = {}
        parents = self.stage_parents(model)
        hooks = []
        for name in parents:
            stage = self.stage(model, name)

            def record(
                _m: nn.Module, inp: tuple[torch.Tensor, ...], out: torch.Tensor, name: str = name
            ) -> None:
                shapes[name] = (inp[0].shape, out.shape)

            hooks.append(stage.register_forward_hook(record))
        was_training = model.training
        try:
            model.eval()
            with torch.no_grad():
                model(torch.zeros(1, 3, image_size, image_size))
        except RuntimeError as exc:
            raise NasAttnError(
                f"image_size {image_size} is too small for this backbone ({str(exc).splitlines()[0]}); "
                "use a larger image_size"
            ) from None
        finally:
            model.train(was_training)
            for hook in hooks:
                hook.remove()
        out: dict[str, StageGeometry] = {}
        for name in parents:
            (in_shape, out_shape) = shapes[name]
            blocks = self.blocks(self.stage(model, name))
            positions: tuple[Position, ...] = (
                ("block", "last_block", "stage_out") if blocks else ("stage_out",)
            )
            out[name] = StageGeometry(
                name=name,
                channels=int(out_shape[1]),
                slot_channels=self.slot_channels(blocks[-1]) if blocks else None,
                in_channels=int(in_shape[1]),
                feat_size=(int(out_shape[2]), int(out_shape[3])),
                in_feat_size=(int(in_shape[2]), int(in_shape[3])),
                num_blocks=len(blocks),
                positions=positions,
                builtin=sum(not self._slot_is_empty(b) for b in blocks),
            )
        return out

    def clear_builtin(self, model: nn.Module, stage: str) -> int:
        """Empty every block slot of ``stage``; return how many held attention."""
        cleared = 0
        for block in self.blocks(self.stage(model, stage)):
            if not self._slot_is_empty(block):
                setattr(block, self.slot_attr, self.empty_slot())
                cleared += 1
        return cleared

    def insert(
        self,
        model: nn.Module,
        stage: str,
        position: Position,
        make: ModuleFactory,
        needs_context: bool = False,
    ) -> int:
        """Place modules built by ``make()`` at ``position`` in ``stage``; return how many."""
        parent, attr = self.stage_parents(model)[stage]
        module = getattr(parent, attr)
        if position == "stage_out":
            setattr(parent, attr, AttendedStage(OrderedDict(module.named_children()), make(), needs_context))
            return 1
        blocks = self.blocks(module)
        targets = blocks if position == "block" else blocks[-1:]
        for block in targets:
            setattr(block, self.slot_attr, make())
        return len(targets)


@functools.cache
def _timm_models(module: str) -> frozenset[str]:
    return frozenset(timm.list_models(module=module))


_ADAPTERS: list[BackboneAdapter] = []


def register_adapter(adapter: BackboneAdapter) -> BackboneAdapter:
    """Add an adapter instance to the registry (first match wins)."""
    _ADAPTERS.append(adapter)
    return adapter


def get_adapter(model_name: str) -> BackboneAdapter:
    """The adapter for ``model_name``, or a NasAttnError listing the supported families."""
    for adapter in _ADAPTERS:
        if adapter.matches(model_name):
            return adapter
    supported = "; ".join(f"{a.family} (e.g. {', '.join(a.examples)})" for a in _ADAPTERS)
    raise NasAttnError(f"unsupported backbone '{model_name}'; supported families: {supported}")


def list_adapters() -> list[BackboneAdapter]:
    """Registered adapters in lookup order."""
    return list(_ADAPTERS)
