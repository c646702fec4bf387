"""Backbone adapters: how a timm family exposes its stages and attention slots.

An adapter knows, for one family of timm models, how to create the network (with the chosen
stem), the geometry of each stage (channels, feature size for an input size, block count) and
how to put a module at a position. ``build_model`` only talks to this interface.
"""

from __future__ import annotations

import abc
from collections.abc import Callable
from dataclasses import dataclass

from torch import nn

from nas_attn.attention import Position
from nas_attn.exceptions import NasAttnError


@dataclass(frozen=True)
class StageGeometry:
    """One stage as the placement engine sees it."""

    name: str
    channels: int
    feat_size: tuple[int, int]
    num_blocks: int
    positions: tuple[Position, ...]


ModuleFactory = Callable[[], nn.Module]


class BackboneAdapter(abc.ABC):
    """Placement interface for one timm model family."""

    family: str
    examples: tuple[str, ...]

    @abc.abstractmethod
    def matches(self, model_name: str) -> bool:
        """Whether this adapter handles the timm model ``model_name``."""

    @abc.abstractmethod
    def create(self, model_name: str, num_classes: int, stem: str) -> nn.Module:
        """Create the bare timm network (no added attention) with the requested stem."""

    @abc.abstractmethod
    def stages(self, model: nn.Module, image_size: int) -> dict[str, StageGeometry]:
        """Stage name -> geometry, in forward order, for a square input of ``image_size``."""

    @abc.abstractmethod
    def insert(self, model: nn.Module, stage: str, position: Position, make: ModuleFactory) -> int:
        """Place modules built by ``make()`` at ``position`` in ``stage``; return how many."""


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
