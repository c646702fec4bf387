"""Shared by the proxy benches: train placements of a space through the worker's own code path.

Each run is :func:`nas_attn.worker.evaluate` (paired initial weights, the trainer, the same data
pipeline) with a minimal latency measurement, so a bench measures exactly what a trial would.
Runs go to a pool of processes (``--jobs``); each process loads a budget's data once and keeps it.
"""

from __future__ import annotations

import os
import random
from collections.abc import Iterable, Iterator
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass, replace
from multiprocessing import get_context
from pathlib import Path

import torch

from nas_attn.backbones import ArchConfig
from nas_attn.data import ProxyData
from nas_attn.outputs import write_atomic
from nas_attn.search.sampling.placements import arch_of, stage_options
from nas_attn.search.sampling.space import SearchSpace
from nas_attn.worker import LatencyConfig, ProxyConfig, evaluate, load_proxy_data
from nas_attn.worker.config import WarmStart
from nas_attn.worker.device import resolve_device
from nas_attn.worker.warm_start import WarmBackbone, pretrain_backbone, warm_start_key

FASHION_SPACE = Path(__file__).resolve().parent.parent / "search_spaces" / "resnet18_fashion.yaml"
QUICK_LATENCY = LatencyConfig(device="auto", batch_size=1, warmup=1, repeats=3)


@dataclass(frozen=True)
class Budget:
    """A proxy budget: image size, training images, epochs (and optionally batch size and lr),
    and optionally a warm start (``warm_epochs``: the plain backbone's pretraining epochs)."""

    image_size: int
    train_subset: int
    epochs: int
    batch_size: int | None = None
    lr: float | None = None
    warm_epochs: int | None = None

    @classmethod
    def parse(cls, text: str) -> Budget:
        """``SIZE:IMAGES:EPOCHS[:BATCH[:LR]][+warmK]``, e.g. ``16:2500:2``, ``28:20000:8:128:0.1``
        or ``16:5000:1+warm8`` (each placement starts from the plain backbone trained 8 epochs)."""
        body, _, warm = text.partition("+warm")
        parts = body.split(":")
        if not 3 <= len(parts) <= 5 or (warm and not warm.isdigit()):
            raise SystemExit(f"budget '{text}': expected SIZE:IMAGES:EPOCHS[:BATCH[:LR]][+warmK]")
        batch = int(parts[3]) if len(parts) > 3 else None
        lr = float(parts[4]) if len(parts) > 4 else None
        return cls(int(parts[0]), int(parts[1]), int(parts[2]), batch, lr, int(warm) if warm else None)

    @classmethod
    def of(cls, proxy: ProxyConfig) -> Budget:
        """The budget ``proxy`` trains with (its warm start included)."""
        warm = proxy.warm_start.epochs if proxy.warm_start is not None else None
        return cls(proxy.image_size, proxy.train_subset or 0, proxy.epochs, warm_epochs=warm)

    def proxy(self, base: ProxyConfig, seed: int) -> ProxyConfig:
        """``base`` at this budget, trained with ``seed`` (the data subset stays ``base.seed``'s)."""
        update: dict[str, object] = {
            "image_size": self.image_size,
            "train_subset": self.train_subset,
            "epochs": self.epochs,
            "train_seed": seed,
        }
        if self.batch_size is not None:
            update["batch_size"] = self.batch_size
        if self.lr is not None:
            update["lr"] = self.lr
        update["warm_start"] = None if self.warm_epochs is None else WarmStart(epochs=self.warm_epochs)
        return base.model_copy(update=update)

    def from_scratch(self) -> Budget:
        """This budget without its warm start."""
        return replace(self, warm_epochs=None)

    def work(self) -> int:
        """Pixels seen in training: the CPU cost is close to proportional to it."""
        return self.image_size**2 * self.train_subset * self.epochs

    def __str__(self) -> str:
        text = f"{self.image_size}px x {self.train_subset} img x {self.epochs} ep"
        if self.batch_size is not None:
            text += f" (batch {self.batch_size}"
            text += f", lr {self.lr})" if self.lr is not None else ")"
        if self.warm_epochs is not None:
            text += f" + warm start {self.warm_epochs} ep"
        return text


@dataclass(frozen=True)
class Run:
    """One training: a placement at a budget and seed; ``pretrain``: the budget's warm-start
    backbone for that seed instead (the placement only says which backbone)."""

    placement: int
    budget: Budget
    seed: int
    pretrain: bool = False


@dataclass(frozen=True)
class RunResult:
    run: Run
    accuracy: float
    train_seconds: float


def sample_placements(space: SearchSpace, count: int, seed: int) -> list[ArchConfig]:
    """The plain backbone, each module in every stage (first reduction), then random mixes."""
    stages = list(space.stages)
    per_stage = {name: stage_options(name, space.stages[name]) for name in stages}
    chosen: list[dict[str, object]] = [{f"{name}.module": "none" for name in stages}]
    for index in range(1, len(per_stage[stages[0]])):
        uniform: dict[str, object] = {}
        for name in stages:
            uniform.update(per_stage[name][index])
        if uniform[f"{stages[0]}.module"] not in {p[f"{stages[0]}.module"] for p in chosen}:
            chosen.append(uniform)
    draw = random.Random(seed)
    while len(chosen) < count:
        mix: dict[str, object] = {}
        for name in stages:
            mix.update(draw.choice(per_stage[name]))
        if mix not in chosen:
            chosen.append(mix)
    return [arch_of(space, params) for params in chosen[:count]]


def describe(arch: ArchConfig) -> str:
    parts = []
    for name, stage in arch.stages.items():
        short = name.replace("layer", "L")
        label = stage.module if stage.reduction is None else f"{stage.module}/{stage.reduction}"
        parts.append(f"{short}:{label}")
    return " ".join(parts) or "plain"


_DATA: dict[tuple[object, ...], ProxyData] = {}


def _data_for(proxy: ProxyConfig, device: torch.device) -> ProxyData:
    key = (proxy.dataset, proxy.image_size, proxy.train_subset, proxy.val_subset, proxy.seed)
    if key not in _DATA:
        _DATA[key] = load_proxy_data(proxy).to(device)
    return _DATA[key]


WARM_CACHE = Path(__file__).resolve().parent / "results" / "warm_backbones"


def _warm_backbone(
    arch: ArchConfig, proxy: ProxyConfig, data: ProxyData, device: torch.device
) -> WarmBackbone:
    """The warm-start backbone of ``proxy`` (seed included): from the bench's cache, else trained
    now (through the worker's own :func:`pretrain_backbone`) and cached."""
    path = WARM_CACHE / f"{warm_start_key(arch, proxy)}.safetensors"
    if path.is_file():
        return WarmBackbone.from_bytes(path.read_bytes(), str(path))
    backbone = pretrain_backbone(arch, proxy, data, device)
    WARM_CACHE.mkdir(parents=True, exist_ok=True)
    write_atomic(path, backbone.to_bytes(), flag="warm-start cache")
    return backbone


def _train(arch: ArchConfig, run: Run, base: ProxyConfig, device_name: str, threads: int) -> RunResult:
    torch.set_num_threads(threads)
    device = resolve_device(device_name)
    proxy = run.budget.proxy(base, run.seed)
    arch = arch.model_copy(update={"image_size": proxy.image_size})
    data = _data_for(proxy, device)
    if run.pretrain:
        backbone = _warm_backbone(arch, proxy, data, device)
        return RunResult(run, backbone.accuracy, backbone.train_seconds)
    warm = _warm_backbone(arch, proxy, data, device) if proxy.warm_start is not None else None
    result = evaluate(arch, proxy, QUICK_LATENCY, data, device, warm=warm)
    return RunResult(run, result.accuracy, result.train_seconds)


def warm_caches(base: ProxyConfig, budgets: Iterable[Budget]) -> None:
    """Decode each budget's data once here, so the worker processes only read the cache."""
    for budget in set(budgets):
        load_proxy_data(budget.proxy(base, 0))


def run_all(
    archs: list[ArchConfig], runs: list[Run], base: ProxyConfig, device: str, jobs: int
) -> Iterator[RunResult]:
    """Every run, ``jobs`` processes at a time (results in submission order)."""
    threads = max(1, (os.cpu_count() or 1) // jobs) if device == "cpu" else 1
    with ProcessPoolExecutor(max_workers=jobs, mp_context=get_context("spawn")) as pool:
        futures = [pool.submit(_train, archs[r.placement], r, base, device, threads) for r in runs]
        for future in futures:
            yield future.result()
