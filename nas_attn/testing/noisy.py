"""A simulated world whose truth is known: placements' true accuracies and the seed noise of the
trainer, for tests and benches of the claims a study makes (``benches/bench_false_discoveries.py``).

A training of placement ``p`` at seed ``s`` reports ``base + effect(p) + shared(s) + own(p, s)``
(in accuracy points, returned as a fraction): ``shared(s)`` is the luck of the seed every
placement shares (same backbone weights, batches and augmentation: what pairing cancels) and
``own(p, s)`` the placement's own noise. Given the per-placement seed standard deviation
``noise`` and the paired difference's ``paired_noise`` (both measured on the Fashion space),
``own`` has variance ``paired_noise**2 / 2`` and ``shared`` the rest of ``noise**2``. Every draw
is seeded by the world's seed, the placement and the training seed, so a rerun is identical.
Latency is a fixed function of the placement (the plain backbone is the cheapest).
"""

from __future__ import annotations

import hashlib
import math
import random
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import optuna

from nas_attn.backbones import ArchConfig
from nas_attn.search.execution.protocol import Outcome
from nas_attn.testing.fakes import FakePool, fake_result, ok_outcome

Effect = Callable[[ArchConfig], float]  # a placement's true difference to the plain backbone, points


def no_effect(arch: ArchConfig) -> float:
    return 0.0


def is_plain(arch: ArchConfig) -> bool:
    return all(stage.module == "none" for stage in arch.stages.values())


def uniform_module(arch: ArchConfig) -> str | None:
    """The module every stage holds, when it is one module everywhere (None otherwise)."""
    modules = {stage.module for stage in arch.stages.values()}
    return modules.pop() if len(modules) == 1 else None


@dataclass(frozen=True)
class NoisyWorld:
    """The truth (``effect`` per placement) and the noise model of one simulated study."""

    noise: float  # seed standard deviation of one placement's accuracy, points
    paired_noise: float  # standard deviation of a paired difference, points
    seed: int = 0
    base: float = 80.0  # the plain backbone's true accuracy, points
    effect: Effect = no_effect

    def __post_init__(self) -> None:
        if self.paired_noise**2 / 2 > self.noise**2:
            raise ValueError("paired_noise**2 / 2 cannot exceed noise**2 (the shared part would be negative)")

    @property
    def own_std(self) -> float:
        return self.paired_noise / math.sqrt(2)

    @property
    def shared_std(self) -> float:
        return math.sqrt(self.noise**2 - self.own_std**2)

    def _draw(self, *parts: object) -> random.Random:
        return random.Random(hashlib.sha256(repr((self.seed, *parts)).encode()).hexdigest())

    def accuracy(self, arch: ArchConfig, training_seed: int) -> float:
        """The accuracy (a fraction) this placement reports when trained with ``training_seed``."""
        shared = self._draw("shared", training_seed).gauss(0.0, self.shared_std)
        own = self._draw("own", arch.digest(), training_seed).gauss(0.0, self.own_std)
        return (self.base + self.effect(arch) + shared + own) / 100

    def latency_ms(self, arch: ArchConfig) -> float:
        """A fixed latency per placement: 1.0 for the plain backbone, 1.05-2.0 for the others."""
        if is_plain(arch):
            return 1.0
        return 1.05 + 0.95 * self._draw("latency", arch.digest()).random()


def measured_outcome(arch: ArchConfig, accuracy: float, latency_ms: float) -> Outcome:
    """A worker's successful reply for ``arch`` with this accuracy and latency (the plain
    backbone's reference latency 1 ms, so ``latency_ms`` is also the latency ratio)."""
    out = fake_result(arch)
    out.update(
        accuracy=accuracy,
        latency_ms=latency_ms,
        latency_ratio=latency_ms,
        latency_raw_ms=latency_ms,
        baseline_latency_ms=1.0,
        latency_reference_ms=1.0,
        baseline_latency_iqr_ms=0.01,
    )
    return ok_outcome(out)


class NoisyPool(FakePool):
    """A FakePool whose trainings report what ``world`` says for the request's training seed."""

    def __init__(self, world: NoisyWorld, workers: int = 4) -> None:
        super().__init__(workers=workers)
        self.world = world
        self.script = self._result

    def training_seed(self, index: int) -> int:
        proxy = self.payloads[index]["proxy"]
        return int(proxy["train_seed"] if proxy.get("train_seed") is not None else proxy["seed"])

    def _result(self, index: int, arch: ArchConfig) -> Outcome:
        return measured_outcome(
            arch, self.world.accuracy(arch, self.training_seed(index)), self.world.latency_ms(arch)
        )

    def seeds_trained(self) -> dict[str, list[int]]:
        """Each placement's label and the training seeds it was sent with, in order."""
        out: dict[str, list[int]] = {}
        for index, arch in enumerate(self.submitted):
            out.setdefault(arch.label(), []).append(self.training_seed(index))
        return out


STAGE = "{module: [none, se, eca, cbam, gc, simam, coord], reduction: [8, 16], position: [block]}"
SPACE = """name: claims
backbone: {{name: resnet18, stem: cifar}}
stages:
  layer1: {stage}
  layer2: {stage}
  layer3: {stage}
proxy: {{dataset: digits, image_size: 8, epochs: 1, batch_size: 64, crop_padding: 1}}
latency: {{warmup: 1, repeats: 5}}
search: {{sampler: random, n_trials: {n_trials}, seed: {seed}, population_size: 8, {seeds}}}
"""


def simulated_study(
    world: NoisyWorld,
    placements: int,
    folder: Path,
    *,
    max_seeds: int | None = 3,
    final_seeds: int | None = None,
    sampler_seed: int = 0,
    workers: int = 4,
) -> tuple[optuna.Study, NoisyPool]:
    """A search of ``placements`` placements besides the plain backbone (and SE everywhere, the
    space's baselines) in a 3-stage space of 1,728, through the real driver, racing (``max_seeds``)
    or fixed extra seeds (``final_seeds``) and SQLite storage in ``folder``, as ``search`` runs
    it; ``world`` answers every training."""
    from nas_attn.search import open_storage, open_study, run_search
    from nas_attn.search.results import first_seed
    from nas_attn.search.sampling.space import load_space
    from nas_attn.search.seeds.runner import run_seed_policy
    from nas_attn.search.usecases._claims import record_claims
    from nas_attn.search.usecases.service import seed_policy_for

    seeds = f"racing: {{max_seeds: {max_seeds}}}" if final_seeds is None else f"final_seeds: {final_seeds}"
    path = folder / f"space{sampler_seed}.yaml"
    path.write_text(SPACE.format(stage=STAGE, n_trials=placements + 1, seed=sampler_seed, seeds=seeds))
    space = load_space(path)
    storage = open_storage(f"sqlite:///{folder / f'study{sampler_seed}.db'}")
    study = open_study(storage, space.name, space, space.search.sampler)
    pool = NoisyPool(world, workers=workers)
    run_search(study, space, space.search.n_trials, pool)
    policy = seed_policy_for(space, first_seed(study.user_attrs))
    if policy is not None:
        run_seed_policy(study, space, pool, policy)
    record_claims(study)
    return study, pool
