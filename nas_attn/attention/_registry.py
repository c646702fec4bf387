"""Attention registry: name -> (factory, info), with helpful errors for unknown names.

Modules register themselves with :func:`register_attention`; the package ``__init__`` imports
every family explicitly so the registry is complete after ``import nas_attn.attention``.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import Any, Literal

from torch import nn

from nas_attn.defaults import DEFAULT_REDUCTION
from nas_attn.exceptions import NasAttnError

OptionKind = Literal["int", "number", "bool", "choice"]


@dataclass(frozen=True)
class OptionRange:
    """One constructor option a config may set (``stages.<stage>.options``) and its valid values:
    an integer or number within bounds (odd where a kernel needs a centre), a flag, or a choice."""

    kind: OptionKind
    low: float | None = None
    high: float | None = None
    choices: tuple[str, ...] = ()
    odd: bool = False
    low_open: bool = False  # low itself is not allowed (e.g. a divisor that must be > 0)

    def describe(self) -> str:
        if self.kind == "bool":
            return "true or false"
        if self.kind == "choice":
            return "one of " + ", ".join(repr(c) for c in self.choices)
        what = ("an odd integer" if self.odd else "an integer") if self.kind == "int" else "a number"
        if self.low_open:
            return f"{what} > {self.low:g} and <= {self.high:g}"
        return f"{what} in {self.low:g}..{self.high:g}"

    def accepts(self, value: Any) -> bool:
        if self.kind == "bool":
            return isinstance(value, bool)
        if self.kind == "choice":
            return value in self.choices
        kinds = (int,) if self.kind == "int" else (int, float)
        if isinstance(value, bool) or not isinstance(value, kinds) or value != value:  # NaN
            return False
        low = self.low if self.low is not None else -math.inf
        high = self.high if self.high is not None else math.inf
        if (value <= low if self.low_open else value < low) or value > high:
            return False
        return not (self.odd and value % 2 == 0)


def integer(low: int, high: int, *, odd: bool = False) -> OptionRange:
    return OptionRange("int", low, high, odd=odd)


def number(low: float, high: float, *, low_open: bool = False) -> OptionRange:
    return OptionRange("number", low, high, low_open=low_open)


def flag() -> OptionRange:
    return OptionRange("bool")


def choice(*values: str) -> OptionRange:
    return OptionRange("choice", choices=values)


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
        options: every constructor option a config may set, with its valid values (checked when
            an arch is loaded, so a bad value never reaches training).
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
    options: dict[str, OptionRange] = field(default_factory=dict)


SUPPLIED = {  # constructor arguments a config does not set as options, and where they come from
    "reduction": "the stage's reduction: field",
    "feat_size": "the stage's feature map",
    "context_channels": "the previous stage",
}


def option_problem(name: str, key: str, value: Any) -> str | None:
    """Why option ``key`` = ``value`` cannot configure module ``name`` (None: it can)."""
    info = get_attention_info(name)
    spec = info.options.get(key)
    if spec is None:
        if key in SUPPLIED:
            return f"{name}: {key} is not an option (it comes from {SUPPLIED[key]})"
        if not info.options:
            return f"{name} takes no options; remove '{key}'"
        return f"{name} has no option '{key}'; its options: {', '.join(sorted(info.options))}"
    if not spec.accepts(value):
        return f"{name} option {key}: must be {spec.describe()}, got {value!r}"
    return None


def check_options(name: str, options: dict[str, Any]) -> None:
    """Raise the first :func:`option_problem` of ``options`` for module ``name``."""
    for key, value in options.items():
        problem = option_problem(name, key, value)
        if problem is not None:
            raise NasAttnError(problem)


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
    check_options(name, {k: v for k, v in kwargs.items() if k not in SUPPLIED and v is not None})
    if info.needs_context and kwargs.get("context_channels") is None:
        raise NasAttnError(
            f"{name}: needs context_channels=<channels of the previous stage's output> at construction"
        )
    try:
        return factory(channels, **kwargs)
    except TypeError as exc:  # an unexpected keyword argument from a config
        raise NasAttnError(f"{name}: invalid arguments {sorted(kwargs)}: {exc}") from None
