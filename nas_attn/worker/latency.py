"""Forward latency: eval mode, warm-up, then median and IQR of repeated timed passes.

On CUDA each pass is timed with CUDA events after a synchronise; on CPU with ``perf_counter``.
"""

from __future__ import annotations

import statistics
import time
from dataclasses import dataclass

import torch
from torch import nn


@dataclass(frozen=True)
class LatencyResult:
    median_ms: float
    iqr_ms: float
    repeats: int
    batch_size: int


def _quartiles(samples: list[float]) -> tuple[float, float, float]:
    q1, q2, q3 = statistics.quantiles(samples, n=4, method="inclusive")
    return q1, q2, q3


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
    was_training = model.training
    model.eval()
    x = torch.randn(batch_size, 3, image_size, image_size, device=device)
    try:
        for _ in range(warmup):
            model(x)
        samples = _time_cuda(model, x, repeats) if device.type == "cuda" else _time_cpu(model, x, repeats)
    finally:
        model.train(was_training)
    q1, median, q3 = _quartiles(samples)
    return LatencyResult(median_ms=median, iqr_ms=q3 - q1, repeats=repeats, batch_size=batch_size)


def _time_cpu(model: nn.Module, x: torch.Tensor, repeats: int) -> list[float]:
    samples = []
    for _ in range(repeats):
        start = time.perf_counter()
        model(x)
        samples.append((time.perf_counter() - start) * 1e3)
    return samples


def _time_cuda(model: nn.Module, x: torch.Tensor, repeats: int) -> list[float]:
    torch.cuda.synchronize(x.device)
    pairs = []
    for _ in range(repeats):
        start, end = torch.cuda.Event(enable_timing=True), torch.cuda.Event(enable_timing=True)
        start.record()
        model(x)
        end.record()
        pairs.append((start, end))
    torch.cuda.synchronize(x.device)
    return [start.elapsed_time(end) for start, end in pairs]
