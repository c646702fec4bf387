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
from dataclasses import dataclass
from multiprocessing import get_context
from pathlib import Path

import torch

from nas_attn.backbones import ArchConfig
from nas_attn.data import ProxyData
from nas_attn.search.sampling.placements import arch_of, stage_options
from nas_attn.search.sampling.space import SearchSpace
from nas_attn.worker import LatencyConfig, ProxyConfig, evaluate, load_proxy_data
from nas_attn.worker.device import resolve_device

FASHION_SPACE = Path(__file__).resolve().parent.parent / "search_spaces" / "resnet18_fashion.yaml"
QUICK_LATENCY = LatencyConfig(device="auto", batch_size=1, warmup=1, repeats=3)


@dataclass(frozen=True)
class Budget:
    """A proxy budget: image size, training images, epochs (and optionally batch size and lr)."""

    image_size: int
    train_subset: int
    epochs: int
    batch_size: int | None = None
    lr: float | None = None

    @classmethod
    def parse(cls, text: str) -> Budget:
        """``SIZE:IMAGES:EPOCHS[:BATCH[:LR]]``, e.g. ``16:2500:2`` or ``28:20000:8:128:0.1``."""
        parts = text.split(":")
        if not 3 <= len(parts) <= 5:
            raise SystemExit(f"budget '{text}': expected SIZE:IMAGES:EPOCHS[:BATCH[:LR]]")
        batch = int(parts[3]) if len(parts) > 3 else None
        lr = float(parts[4]) if len(parts) > 4 else None
        return cls(int(parts[0]), int(parts[1]), int(parts[2]), batch, lr)

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
        return base.model_copy(update=update)

    def work(self) -> int:
        """Pixels seen in training: the CPU cost is close to proportional to it."""
        return self.image_size**2 * self.train_subset * self.epochs

    def __str__(self) -> str:
        text = f"{self.image_size}px x {self.train_subset} img x {self.epochs} ep"
        if self.batch_size is not None:
            text += f" (batch {self.batch_size}"
            text += f", lr {self.lr})" if self.lr is not None else ")"
        return text


@dataclass(frozen=True)
class Run:
    placement: int
    budget: Budget
    seed: int


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


def _train(arch: ArchConfig, run: Run, base: ProxyConfig, device_name: str, threads: int) -> RunResult:
    torch.set_num_threads(threads)
    device = resolve_device(device_name)
    proxy = run.budget.proxy(base, run.seed)
    arch = arch.model_copy(update={"image_size": proxy.image_size})
    data = _data_for(proxy, device)
    result = evaluate(arch, proxy, QUICK_LATENCY, data, device)
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
