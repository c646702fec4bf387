"""evaluate(): one trial = build the placement, time it, proxy-train it. No Ray, no Optuna here."""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import Any

import timm
import torch

from nas_attn._version import __version__
from nas_attn.backbones import ArchConfig, build_model
from nas_attn.data import ProxyData
from nas_attn.worker.config import LatencyConfig, ProxyConfig
from nas_attn.worker.device import describe_device, resolve_device
from nas_attn.worker.latency import measure_latency
from nas_attn.worker.trainer import train_proxy


@dataclass
class TrialResult:
    """Everything a worker reports for one placement (JSON-safe via :meth:`to_dict`)."""

    accuracy: float
    latency_ms: float
    latency_iqr_ms: float
    params: int
    train_seconds: float
    images_per_second: float
    epochs: int
    device: str
    val_accuracy_curve: list[float] = field(default_factory=list)
    train_loss_curve: list[float] = field(default_factory=list)
    versions: dict[str, str] = field(default_factory=dict)

    def objective(self, name: str) -> float:
        """Value of objective ``name`` (accuracy, latency_ms or params)."""
        return float(getattr(self, name))

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> TrialResult:
        return cls(**data)


OBJECTIVE_NAMES = ("accuracy", "latency_ms", "params")


def versions() -> dict[str, str]:
    return {"nas_attn": __version__, "torch": torch.__version__, "timm": timm.__version__}


def evaluate(
    arch: ArchConfig, proxy: ProxyConfig, latency: LatencyConfig, data: ProxyData, device: torch.device
) -> TrialResult:
    """Build ``arch``, measure its latency (cheap, first), then proxy-train it on ``data``."""
    model = build_model(arch, num_classes=data.num_classes)
    params = sum(p.numel() for p in model.parameters())
    latency_device = device if latency.device == "auto" else resolve_device(latency.device)
    timing = measure_latency(
        model.to(latency_device),
        arch.image_size,
        latency_device,
        latency.batch_size,
        latency.warmup,
        latency.repeats,
    )
    trained = train_proxy(model, data, proxy, device)
    return TrialResult(
        accuracy=trained.accuracy,
        latency_ms=timing.median_ms,
        latency_iqr_ms=timing.iqr_ms,
        params=params,
        train_seconds=trained.train_seconds,
        images_per_second=trained.images_per_second,
        epochs=trained.epochs,
        device=describe_device(device),
        val_accuracy_curve=trained.val_accuracy_curve,
        train_loss_curve=trained.train_loss_curve,
        versions=versions(),
    )
