"""evaluate(): one trial = build the placement, measure it, proxy-train it. No Ray, no Optuna here."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import asdict, dataclass, field, fields, replace
from typing import Any

import timm
import torch
from torch import nn

from nas_attn._version import __version__
from nas_attn.backbones import ArchConfig, build_model
from nas_attn.data import ProxyData
from nas_attn.exceptions import NasAttnError
from nas_attn.worker.config import Constraint, LatencyConfig, ProxyConfig
from nas_attn.worker.device import describe_device, resolve_device
from nas_attn.worker.latency import (
    LatencyComparison,
    calibrated_latency_ms,
    measure_latency,
    measure_latency_ratio,
)
from nas_attn.worker.measure import count_macs, count_params
from nas_attn.worker.memory import PeakMemory
from nas_attn.worker.seeding import seed_everything
from nas_attn.worker.trainer import train_proxy
from nas_attn.worker.warm_start import WarmBackbone, start_from, warm_start_key


@dataclass
class TrialResult:
    """Everything a worker reports for one placement (JSON-safe via :meth:`to_dict`).

    ``latency_ratio`` is this placement's latency over the plain backbone's
    (``baseline_latency_ms``), timed interleaved in the same worker. ``latency_ms`` is calibrated
    (:func:`~nas_attn.worker.latency.calibrated_latency_ms`): that ratio times a reference latency
    of the plain backbone (``latency_reference_ms``: this worker's own measurement here; the search
    replaces it with the study's lowest-noise one, see ``search.studydb.latency_reference``), so it
    compares across trials measured under different load; the raw median is ``latency_raw_ms``.
    ``macs`` counts one forward at batch 1. ``peak_memory_mb`` is the training's peak: the CUDA
    allocator on a GPU, the process's resident set on a CPU (``peak_memory_source`` says which).
    A placement that breaks a screening constraint is not trained: ``trained`` is False,
    ``violations`` names the broken limits and ``accuracy`` is 0 (it is recorded infeasible and
    never ranked). ``input_mean`` / ``input_std`` are the proxy data's normalisation, which export
    writes into the arch YAML. ``warm_start_key`` names the trained plain backbone the placement
    started from (``proxy.warm_start``; empty when it trained from scratch).
    """

    accuracy: float
    latency_ms: float
    latency_iqr_ms: float
    params: int
    train_seconds: float
    images_per_second: float
    epochs: int
    device: str
    latency_ratio: float = float("nan")
    latency_ratio_iqr: float = float("nan")
    baseline_latency_ms: float = float("nan")
    baseline_latency_iqr_ms: float = float("nan")
    latency_raw_ms: float = float("nan")
    latency_raw_iqr_ms: float = float("nan")
    latency_reference_ms: float = float("nan")
    macs: int = 0
    peak_memory_mb: float = 0.0
    peak_memory_source: str = ""
    epochs_completed: float = 0.0
    stopped_early: bool = False
    stop_reason: str = ""
    trained: bool = True
    violations: list[str] = field(default_factory=list)
    val_accuracy_curve: list[float] = field(default_factory=list)
    train_loss_curve: list[float] = field(default_factory=list)
    versions: dict[str, str] = field(default_factory=dict)
    input_mean: list[float] = field(default_factory=list)
    input_std: list[float] = field(default_factory=list)
    warm_start_key: str = ""

    def objective(self, name: str) -> float:
        """Value of objective ``name`` (one of :data:`OBJECTIVE_NAMES`)."""
        return float(getattr(self, name))

    def objective_values(self, names: list[str]) -> list[float]:
        """Values of the objectives ``names``, in that order (what a trial is told)."""
        return [self.objective(name) for name in names]

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> TrialResult:
        """The TrialResult in ``data``; keys that are not fields (e.g. where it ran) are ignored."""
        return cls(**{k: v for k, v in data.items() if k in _FIELD_NAMES})


_FIELD_NAMES = frozenset(f.name for f in fields(TrialResult))
OBJECTIVE_NAMES = ("accuracy", "latency_ms", "latency_ratio", "params", "macs")


def versions() -> dict[str, str]:
    return {"nas_attn": __version__, "torch": torch.__version__, "timm": timm.__version__}


def time_against_baseline(
    model: nn.Module, arch: ArchConfig, num_classes: int, latency: LatencyConfig, device: torch.device
) -> LatencyComparison:
    """Latency of ``model`` timed interleaved with the plain backbone; the plain backbone itself
    is its own baseline, so its ratio is exactly 1 rather than a noisy reading of 1."""
    protocol = (arch.image_size, device, latency.batch_size, latency.warmup, latency.repeats)
    if arch.plain().digest() == arch.digest():
        alone = measure_latency(model, *protocol)
        return LatencyComparison(model=alone, baseline=alone, ratio=1.0, ratio_iqr=0.0)
    baseline = build_model(arch.plain(), num_classes=num_classes).to(device)
    return measure_latency_ratio(model, baseline, *protocol)


def violations(constraints: Sequence[Constraint], measured: TrialResult) -> list[str]:
    """The constraints ``measured`` breaks, each with the measured value."""
    return [
        f"{c} (measured {measured.objective(c.metric):.6g})"
        for c in constraints
        if c.violation(measured.objective(c.metric)) > 0
    ]


def evaluate(
    arch: ArchConfig,
    proxy: ProxyConfig,
    latency: LatencyConfig,
    data: ProxyData,
    device: torch.device,
    constraints: Sequence[Constraint] = (),
    warm: WarmBackbone | None = None,
) -> TrialResult:
    """Build ``arch`` (initialised from ``proxy.training_seed``), measure it (cheap, first), then proxy-train
    it unless a measured value breaks one of ``constraints`` (latency-first screening).

    With ``proxy.warm_start`` the backbone's tensors come from ``warm`` (the plain backbone
    trained first, see :mod:`~nas_attn.worker.warm_start`) before training; only the attention
    modules start fresh."""
    seed_everything(proxy.training_seed)
    model = build_model(
        arch, num_classes=data.num_classes, seed=proxy.training_seed
    )  # paired across placements
    params = count_params(model)
    macs = count_macs(model, arch.image_size)
    latency_device = device if latency.device == "auto" else resolve_device(latency.device)
    timing = time_against_baseline(model.to(latency_device), arch, data.num_classes, latency, latency_device)
    reference_ms = timing.baseline.median_ms
    measured = TrialResult(  # everything known before training
        accuracy=0.0,
        latency_ms=calibrated_latency_ms(timing.ratio, reference_ms),
        latency_iqr_ms=calibrated_latency_ms(timing.ratio_iqr, reference_ms),
        params=params,
        train_seconds=0.0,
        images_per_second=0.0,
        epochs=0,
        device=describe_device(device),
        latency_ratio=timing.ratio,
        latency_ratio_iqr=timing.ratio_iqr,
        baseline_latency_ms=reference_ms,
        baseline_latency_iqr_ms=timing.baseline.iqr_ms,
        latency_raw_ms=timing.model.median_ms,
        latency_raw_iqr_ms=timing.model.iqr_ms,
        latency_reference_ms=reference_ms,
        macs=macs,
        versions=versions(),
        input_mean=list(data.mean),
        input_std=list(data.std),
    )
    broken = violations(constraints, measured)
    if broken:
        return replace(measured, trained=False, violations=broken)
    if proxy.warm_start is not None:
        start_from(model, _backbone_for(arch, proxy, warm))
    with PeakMemory(device) as peak:
        trained = train_proxy(model, data, proxy, device)
    return replace(
        measured,
        accuracy=trained.accuracy,
        train_seconds=trained.train_seconds,
        images_per_second=trained.images_per_second,
        epochs=trained.epochs,
        peak_memory_mb=peak.megabytes,
        peak_memory_source=peak.source,
        epochs_completed=trained.epochs_completed,
        stopped_early=trained.stopped_early,
        stop_reason=trained.stop_reason,
        val_accuracy_curve=trained.val_accuracy_curve,
        train_loss_curve=trained.train_loss_curve,
        warm_start_key="" if warm is None or proxy.warm_start is None else warm.key,
    )


def _backbone_for(arch: ArchConfig, proxy: ProxyConfig, warm: WarmBackbone | None) -> WarmBackbone:
    """``warm`` if it is the backbone ``arch`` starts from under ``proxy``, else a NasAttnError."""
    key = warm_start_key(arch, proxy)
    if warm is None:
        raise NasAttnError(f"proxy.warm_start is set but no warm-start backbone was given (wanted {key})")
    if warm.key != key:
        raise NasAttnError(f"warm-start backbone {warm.key} is not the one this trial starts from ({key})")
    return warm
