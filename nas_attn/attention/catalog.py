"""The zoo at a glance: extra parameters, MACs and latency of every module at one shape.

:func:`describe_zoo` is a pure function (it builds modules on CPU under a forked RNG and restores
torch's thread count after timing) that the ``nas-attn modules`` command renders. Each module is measured on a
(1, C, size, size) input: ``feat_size`` modules get (size, size); ``cross`` gets a context with
C // 2 channels at 2 * size (the previous stage of a ResNet). A module whose constraints fail at
that shape is reported as n/a with the reason from its NasAttnError.
"""

from __future__ import annotations

import math
import statistics
import time
from dataclasses import dataclass, field, replace
from typing import Any

import torch
from torch import nn

from nas_attn.attention._registry import (
    create_attention,
    default_reduction,
    get_attention_info,
    list_attentions,
)
from nas_attn.attention.costs import count_params, forward_macs
from nas_attn.exceptions import NasAttnError


@dataclass(frozen=True)
class ZooRow:
    """One module's cost at a shape. Cost fields are None when ``note`` says why it is n/a.

    Attributes:
        reduction: the ratio r used (the module's default unless one was given); None if unused.
        params: extra parameters the module adds.
        macs: extra multiply-accumulates of one forward (FlopCounterMode flops / 2; matmuls and
            convolutions only, element-wise work is not counted).
        latency_ratio: median forward time of the module over that of ``nn.Identity`` on the
            same input (interleaved timings, CPU, eval mode).
        latency_ms: calibrated forward time in milliseconds: ``latency_ratio`` times the
            lowest-noise ``nn.Identity`` timing of the whole table (the rule a search applies
            with the plain backbone), so rows timed under different load compare.
        latency_raw_ms: the module's own median forward time in milliseconds.
        note: empty, or why the module cannot be built or run at this shape.
    """

    name: str
    kind: str
    paper: str
    uses_reduction: bool
    reduction: int | None
    params: int | None
    macs: int | None
    latency_ratio: float | None
    latency_ms: float | None
    note: str = ""
    latency_raw_ms: float | None = None
    reference_ms: float | None = field(default=None, repr=False)  # this row's identity median
    reference_noise: float = field(default=math.inf, repr=False)  # its IQR / median


def example_inputs(name: str, channels: int, size: int) -> tuple[dict[str, Any], tuple[torch.Tensor, ...]]:
    """Construction kwargs and forward inputs for ``name`` at (1, C, size, size)."""
    info = get_attention_info(name)
    kwargs: dict[str, Any] = {}
    inputs: tuple[torch.Tensor, ...] = (torch.randn(1, channels, size, size),)
    if info.needs_feat_size:
        kwargs["feat_size"] = (size, size)
    if info.needs_context:
        context_channels = max(1, channels // 2)
        kwargs["context_channels"] = context_channels
        inputs += (torch.randn(1, context_channels, 2 * size, 2 * size),)
    return kwargs, inputs


def _timings(module: nn.Module, inputs: tuple[torch.Tensor, ...], repeats: int) -> tuple[float, float, float]:
    """(median module seconds, median identity seconds, identity IQR / median), interleaved
    after one warm-up each."""
    identity = nn.Identity()
    own: list[float] = []
    base: list[float] = []
    with torch.no_grad():
        for i in range(repeats + 1):
            start = time.perf_counter()
            identity(inputs[0])
            mid = time.perf_counter()
            module(*inputs)
            end = time.perf_counter()
            if i:  # the first round is the warm-up
                base.append(mid - start)
                own.append(end - mid)
    base_median = statistics.median(base)
    if len(base) < 2:
        return statistics.median(own), base_median, math.inf
    q1, _, q3 = statistics.quantiles(base, n=4, method="inclusive")
    return statistics.median(own), base_median, (q3 - q1) / max(base_median, 1e-12)


def describe_zoo(
    channels: int, size: int, reduction: int | None = None, repeats: int = 5, threads: int | None = 1
) -> list[ZooRow]:
    """Cost of every registered module on a (1, channels, size, size) input, sorted by name.

    Args:
        channels: input channels C.
        size: spatial size H = W.
        reduction: ratio r for modules that use one; None uses each module's default (16 for most,
            32 for ``coord`` as in its paper, 4 for ``splat``).
        repeats: timed rounds per module (after one warm-up round).
        threads: intra-op threads while timing (restored afterwards). One thread keeps the
            ratio about the module's own work: on a busy machine, thread hand-offs between
            cores add milliseconds of jitter to sub-millisecond calls. None keeps torch's setting.
    """
    if channels < 1 or size < 1 or repeats < 1:
        raise NasAttnError(
            f"describe_zoo: channels, size and repeats must be >= 1, got {channels}, {size}, {repeats}"
        )
    rows: list[ZooRow] = []
    saved_threads = torch.get_num_threads()
    try:
        if threads is not None:
            torch.set_num_threads(threads)
        with torch.random.fork_rng(devices=[]):
            torch.manual_seed(0)
            rows = calibrated(
                [_describe(name, channels, size, reduction, repeats) for name in list_attentions()]
            )
    finally:
        torch.set_num_threads(saved_threads)
    return rows


def _describe(name: str, channels: int, size: int, reduction: int | None, repeats: int) -> ZooRow:
    info = get_attention_info(name)
    default = default_reduction(name)
    used = (reduction or default) if default is not None else None
    head: dict[str, Any] = {
        "name": name,
        "kind": info.kind,
        "paper": info.paper,
        "uses_reduction": info.uses_reduction,
        "reduction": used,
    }
    kwargs, inputs = example_inputs(name, channels, size)
    try:
        module = create_attention(name, channels, used, **kwargs).eval()
        with torch.no_grad():
            module(*inputs)
    except NasAttnError as exc:
        return ZooRow(**head, params=None, macs=None, latency_ratio=None, latency_ms=None, note=str(exc))
    own, base, noise = _timings(module, inputs, repeats)
    return ZooRow(
        **head,
        params=count_params(module),
        macs=forward_macs(module, *inputs),
        latency_ratio=own / max(base, 1e-9),
        latency_ms=own * 1e3,
        latency_raw_ms=own * 1e3,
        reference_ms=base * 1e3,
        reference_noise=noise,
    )


def calibrated(rows: list[ZooRow]) -> list[ZooRow]:
    """``rows`` with ``latency_ms`` = ratio x the lowest-noise identity timing among them."""
    timed = [r for r in rows if r.reference_ms is not None]
    if not timed:
        return rows
    best = min(timed, key=lambda r: (round(r.reference_noise, 9), r.reference_ms))
    assert best.reference_ms is not None
    return [
        replace(r, latency_ms=r.latency_ratio * best.reference_ms) if r.latency_ratio is not None else r
        for r in rows
    ]
