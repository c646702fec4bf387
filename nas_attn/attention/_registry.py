"""Attention registry: name -> (factory, info), with helpful errors for unknown names.

Modules register themselves with :func:`register_attention`; the package ``__init__`` imports
every family explicitly so the registry is complete after ``import nas_attn.attention``.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import Any, Literal

from torch import nn

from nas_attn.defaults import DEFAULT_REDUCTION
from nas_attn.exceptions import NasAttnError

AttentionKind = Literal["identity", "channel", "spatial", "channel+spatial", "self", "cross", "conv"]
Position = Literal["block", "last_block", "stage_out"]
ALL_POSITIONS: tuple[Position, ...] = ("block", "last_block", "stage_out")


@dataclass(frozen=True)
class AttentionInfo:
    """What the search space and the placement engine need to know about a module.

    Attributes:
        name: canonical registry name.
        kind: what the module attends over.
        paper: citation (authors, venue, arXiv id).
        uses_reduction: whether the integer ``reduction`` ratio r (hidden width C // r) applies.
        positions: placements the module supports.
        constraints: human-readable construction constraints (checked at construction).
        needs_feat_size: the module must be told the (H, W) of its input at construction
            (constructor keyword ``feat_size: tuple[int, int]``).
        needs_context: the module attends from its input to a second input (the previous stage's
            output): constructor keyword ``context_channels: int``, ``forward(x, context)``.
        defaults: the module's default keyword arguments (``reduction`` included where it applies).
        min_pixels: the smallest feature map (H * W) the module can run on.
    """

    name: str
    kind: AttentionKind
    paper: str
    uses_reduction: bool
    positions: tuple[Position, ...] = ALL_POSITIONS
    constraints: tuple[str, ...] = ()
    needs_feat_size: bool = False
    needs_context: bool = False
    defaults: dict[str, Any] = field(default_factory=dict)
    min_pixels: int = 1


AttentionFactory = Callable[..., nn.Module]

_REGISTRY: dict[str, tuple[AttentionFactory, AttentionInfo]] = {}


def register_attention(info: AttentionInfo) -> Callable[[AttentionFactory], AttentionFactory]:
    """Class/function decorator registering ``factory(channels, reduction=..., **kwargs)``."""

    def decorator(factory: AttentionFactory) -> AttentionFactory:
        if info.name in _REGISTRY:
            raise NasAttnError(f"attention '{info.name}' is registered twice; pick a unique name")
        _REGISTRY[info.name] = (factory, info)
        return factory

    return decorator


def list_attentions() -> list[str]:
    """Sorted canonical names of every registered attention module."""
    return sorted(_REGISTRY)


def _lookup(name: str) -> tuple[AttentionFactory, AttentionInfo]:
    try:
        return _REGISTRY[name]
    except KeyError:
        raise NasAttnError(
            f"unknown attention module '{name}'; available: {', '.join(list_attentions())}"
        ) from None


def get_attention_info(name: str) -> AttentionInfo:
    """Kind, paper, whether reduction applies, positions and constraints of ``name``."""
    return _lookup(name)[1]


def reduction_problem(where: str, reductions: Iterable[int], channels: int) -> str | None:
    """The one "reduction exceeds channels" message, or None when every ratio fits.

    A ratio r of ``channels`` C leaves a hidden width of C // r, so r must be <= C. ``where`` names
    what holds the ratios (a key path such as ``stages.layer1.reduction``)."""
    too_big = [r for r in reductions if r > channels]
    if not too_big:
        return None
    return f"{where}: {too_big} exceed {channels} channels; use a ratio <= {channels}"


def check_reduction(name: str, channels: int, reduction: int) -> int:
    """Validate the integer ratio r against ``channels`` and return the hidden width C // r."""
    if not isinstance(reduction, int) or isinstance(reduction, bool) or reduction < 1:
        raise NasAttnError(f"{name}: reduction must be a positive integer ratio, got {reduction!r}")
    problem = reduction_problem(f"{name}.reduction", [reduction], channels)
    if problem is not None:
        raise NasAttnError(problem)
    return channels // reduction


def default_reduction(name: str) -> int | None:
    """The ratio r that ``name`` is built with when none is given (None if r does not apply):
    the module's own default, else :data:`~nas_attn.defaults.DEFAULT_REDUCTION`."""
    info = get_attention_info(name)
    return int(info.defaults.get("reduction", DEFAULT_REDUCTION)) if info.uses_reduction else None


def create_attention(name: str, channels: int, reduction: int | None = None, **kwargs: Any) -> nn.Module:
    """Build attention module ``name`` for ``channels`` input channels (shape-preserving).

    Args:
        name: canonical registry name (see :func:`list_attentions`).
        channels: input (= output) channels C.
        reduction: integer ratio r (hidden width C // r); ignored by modules that do not use it.
            When omitted, the module's default from ``AttentionInfo.defaults`` (16 for most;
            coordinate attention uses the paper's 32).
        kwargs: module-specific options, e.g. ``feat_size`` or ``context_channels``.

    Raises:
        NasAttnError: unknown name, or an argument the module cannot take.
    """
    factory, info = _lookup(name)
    if not isinstance(channels, int) or isinstance(channels, bool) or channels < 1:
        raise NasAttnError(f"{name}: channels must be a positive integer, got {channels!r}")
    default = default_reduction(name)
    if default is not None:  # the module uses a ratio
        ratio = reduction if reduction is not None else default
        check_reduction(name, channels, ratio)
        kwargs["reduction"] = ratio
    if info.needs_feat_size and kwargs.get("feat_size") is None:
        raise NasAttnError(f"{name}: needs feat_size=(H, W), the spatial size of its input, at construction")
    if info.needs_context and kwargs.get("context_channels") is None:
        raise NasAttnError(
            f"{name}: needs context_channels=<channels of the previous stage's output> at construction"
        )
    try:
        return factory(channels, **kwargs)
    except TypeError as exc:  # an unexpected keyword argument from a config
        raise NasAttnError(f"{name}: invalid arguments {sorted(kwargs)}: {exc}") from None
