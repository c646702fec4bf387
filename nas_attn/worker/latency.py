"""Forward latency: eval mode, warm-up, then median and IQR of repeated timed passes.

On CUDA each pass is bracketed by CUDA events and the device is synchronised before and after
the timed loop; on a CPU each pass is timed with ``perf_counter``. ``measure_latency_ratio``
alternates the timed passes of a model and a baseline (A B, B A, A B, ...) so that drift and
background load hit both alike, and reports the median of the paired per-round ratios.
"""

from __future__ import annotations

import contextlib
import statistics
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Protocol

import torch
from torch import nn

from nas_attn.worker.device import synchronize


@dataclass(frozen=True)
class LatencyResult:
    median_ms: float
    iqr_ms: float
    repeats: int
    batch_size: int


@dataclass(frozen=True)
class LatencyComparison:
    """A model timed interleaved with a baseline; ``ratio`` = model / baseline (paired median)."""

    model: LatencyResult
    baseline: LatencyResult
    ratio: float
    ratio_iqr: float


class PassTimer(Protocol):
    def time(self, fn: Callable[[], object]) -> None: ...

    def samples_ms(self) -> list[float]: ...


class CpuTimer:
    """Wall-clock time of each pass."""

    def __init__(self, device: torch.device) -> None:
        self._samples: list[float] = []

    def time(self, fn: Callable[[], object]) -> None:
        start = time.perf_counter()
        fn()
        self._samples.append((time.perf_counter() - start) * 1e3)

    def samples_ms(self) -> list[float]:
        return list(self._samples)


class CudaTimer:
    """A CUDA event pair around each pass; resolved with one synchronise at the end."""

    def __init__(self, device: torch.device) -> None:
        self.device = device
        self._events: list[tuple[torch.cuda.Event, torch.cuda.Event]] = []

    def time(self, fn: Callable[[], object]) -> None:
        start, end = torch.cuda.Event(enable_timing=True), torch.cuda.Event(enable_timing=True)
        start.record()
        fn()
        end.record()
        self._events.append((start, end))

    def samples_ms(self) -> list[float]:
        torch.cuda.synchronize(self.device)
        return [start.elapsed_time(end) for start, end in self._events]


TIMERS: dict[str, Callable[[torch.device], PassTimer]] = {"cpu": CpuTimer, "cuda": CudaTimer}


def make_timer(device: torch.device) -> PassTimer:
    return TIMERS.get(device.type, CpuTimer)(device)


def quartiles(samples: list[float]) -> tuple[float, float, float]:
    q1, q2, q3 = statistics.quantiles(samples, n=4, method="inclusive")
    return q1, q2, q3


def summarize(samples: list[float], batch_size: int) -> LatencyResult:
    q1, median, q3 = quartiles(samples)
    return LatencyResult(median_ms=median, iqr_ms=q3 - q1, repeats=len(samples), batch_size=batch_size)


def calibrated_latency_ms(ratio: float, plain_backbone_ms: float) -> float:
    """A placement's calibrated latency: its latency ``ratio`` over the plain backbone times a
    reference latency of that plain backbone (``plain_backbone_ms``). The same rule moves the
    ratio's IQR to milliseconds. Trials timed under different load compare on this scale."""
    return ratio * plain_backbone_ms


def paired_ratio(model_ms: list[float], baseline_ms: list[float]) -> tuple[float, float]:
    """Median and IQR of the per-round ratios ``model / baseline``."""
    ratios = [a / max(b, 1e-12) for a, b in zip(model_ms, baseline_ms, strict=True)]
    q1, median, q3 = quartiles(ratios)
    return median, q3 - q1


@contextlib.contextmanager
def _eval_mode(*models: nn.Module) -> Iterator[None]:
    modes = [m.training for m in models]
    for m in models:
        m.eval()
    try:
        yield
    finally:
        for m, mode in zip(models, modes, strict=True):
            m.train(mode)


def _input(batch_size: int, image_size: int, device: torch.device) -> torch.Tensor:
    generator = torch.Generator().manual_seed(0)  # private: the global RNG is left alone
    return torch.randn(batch_size, 3, image_size, image_size, generator=generator).to(device)


@torch.inference_mode()
def measure_latency(
    model: nn.Module,
    image_size: int,
    device: torch.device,
    batch_size: int = 1,
    warmup: int = 10,
    repeats: int = 50,
) -> LatencyResult:
    """Median forward time in milliseconds of ``model`` on a (batch, 3, size, size) input."""
    x = _input(batch_size, image_size, device)
    timer = make_timer(device)
    with _eval_mode(model):
        for _ in range(warmup):
            model(x)
        synchronize(device)
        for _ in range(repeats):
            timer.time(lambda: model(x))
        samples = timer.samples_ms()
    return summarize(samples, batch_size)


@torch.inference_mode()
def measure_latency_ratio(
    model: nn.Module,
    baseline: nn.Module,
    image_size: int,
    device: torch.device,
    batch_size: int = 1,
    warmup: int = 10,
    repeats: int = 50,
) -> LatencyComparison:
    """Time ``model`` and ``baseline`` interleaved (ABBA order) on the same input and device."""
    x = _input(batch_size, image_size, device)
    timers = {"model": make_timer(device), "baseline": make_timer(device)}
    passes: dict[str, Callable[[], object]] = {"model": lambda: model(x), "baseline": lambda: baseline(x)}
    with _eval_mode(model, baseline):
        for _ in range(warmup):
            model(x)
            baseline(x)
        synchronize(device)
        for i in range(repeats):
            order = ("model", "baseline") if i % 2 == 0 else ("baseline", "model")
            for name in order:
                timers[name].time(passes[name])
        model_ms, baseline_ms = timers["model"].samples_ms(), timers["baseline"].samples_ms()
    ratio, ratio_iqr = paired_ratio(model_ms, baseline_ms)
    return LatencyComparison(
        model=summarize(model_ms, batch_size),
        baseline=summarize(baseline_ms, batch_size),
        ratio=ratio,
        ratio_iqr=ratio_iqr,
    )
