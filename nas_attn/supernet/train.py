"""Supernet training: G sampled paths per batch, gradients accumulated, one optimizer step.

Per batch, each path of the sampler's step is activated, forwarded, and its loss back-propagated
(gradients accumulate: FairNAS, Chu et al., ICCV 2021); then ONE optimizer step. Gradients are
cleared with ``set_to_none=True``, so a candidate no path of the step used has no gradient and
SGD skips it entirely: no momentum, no weight decay (as SPOS, Guo et al., ECCV 2020, does).
With ``loss_reduction: sum`` (FairNAS) each candidate gets its own path's gradient and the
shared weights the sum over the G paths; ``mean`` divides every loss by G.

The optimizer and schedule are the proxy's (:mod:`nas_attn.worker.trainer`: Nesterov SGD,
weight decay on conv/linear weights, linear warm-up then linear decay to zero), stretched over
the supernet's steps. Batch order and augmentation derive from the training seed and the step
number alone, so a run resumed from a checkpoint continues exactly as an uninterrupted one.
Forward passes run in float32 (no autocast).
"""

from __future__ import annotations

import hashlib
import math
from dataclasses import dataclass, field
from pathlib import Path
from typing import Literal

import torch
import torch.nn.functional as F
from pydantic import BaseModel, ConfigDict, Field, field_validator

from nas_attn._types import Float, Int
from nas_attn.data import ProxyData
from nas_attn.exceptions import NasAttnError, TrialDivergedError
from nas_attn.supernet.checkpoint import SupernetCheckpoint, load_checkpoint, save_checkpoint
from nas_attn.supernet.net import Supernet
from nas_attn.supernet.sampling import PathSampler, SamplerKind, make_sampler
from nas_attn.worker.augment import BatchTransform
from nas_attn.worker.config import ProxyConfig
from nas_attn.worker.trainer import lr_factor, parameter_groups

RESUME_NAME = "resume.pt"


class SupernetTrainConfig(BaseModel):
    """How to train a supernet: the proxy's data and optimizer settings, the epoch budget, the
    sampler, and the budget fractions to keep snapshots at (e.g. ``[0.25, 0.5, 1, 2]``: the run
    then lasts ``max(1, max(milestones)) * epochs`` epochs, its schedule stretched over them)."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    proxy: ProxyConfig = Field(default_factory=ProxyConfig)
    epochs: Int = Field(default=10, ge=1, le=100_000)
    sampler: SamplerKind = "fair"
    paths_per_step: Int | None = Field(default=None, ge=1, le=10_000)
    loss_reduction: Literal["sum", "mean"] = "sum"
    milestones: tuple[Float, ...] = ()
    checkpoint_every: Int | None = Field(default=None, ge=1)  # steps; None: once per epoch

    @field_validator("milestones")
    @classmethod
    def _positive(cls, milestones: tuple[float, ...]) -> tuple[float, ...]:
        if any(m <= 0 for m in milestones) or len(set(milestones)) != len(milestones):
            raise ValueError(f"milestones must be distinct fractions of epochs > 0, got {list(milestones)}")
        return tuple(sorted(milestones))

    def steps_per_epoch(self, n_images: int) -> int:
        return math.ceil(n_images / self.proxy.batch_size)

    def total_steps(self, n_images: int) -> int:
        return round(self.steps_per_epoch(n_images) * self.epochs * max((1.0, *self.milestones)))

    def milestone_steps(self, n_images: int) -> dict[float, int]:
        per_run = self.steps_per_epoch(n_images) * self.epochs
        return {m: max(1, round(per_run * m)) for m in self.milestones}


@dataclass
class SupernetTrainResult:
    """What a (possibly resumed or stopped) run did; ``milestones``: budget fraction -> snapshot."""

    steps: int
    total_steps: int
    loss_curve: list[float] = field(default_factory=list)
    milestones: dict[float, Path] = field(default_factory=dict)
    checkpoint: Path | None = None

    @property
    def finished(self) -> bool:
        return self.steps >= self.total_steps


def derived_seed(seed: int, purpose: str, index: int) -> int:
    """A seed for ``purpose`` number ``index`` of a run with training seed ``seed``."""
    digest = hashlib.sha256(f"nas-attn/supernet/{seed}/{purpose}/{index}".encode()).digest()
    return int.from_bytes(digest[:8], "big") % 2**63


class _Run:
    """One training run's state between steps."""

    def __init__(
        self, supernet: Supernet, data: ProxyData, config: SupernetTrainConfig, sampler: PathSampler
    ) -> None:
        proxy = config.proxy
        self.supernet, self.data, self.config, self.sampler = supernet, data, config, sampler
        self.optimizer = torch.optim.SGD(
            parameter_groups(supernet, proxy.weight_decay),
            lr=proxy.lr,
            momentum=proxy.momentum,
            nesterov=proxy.momentum > 0,
        )
        self.base_lrs = [float(group["lr"]) for group in self.optimizer.param_groups]
        n = len(data.train_labels)
        self.per_epoch = config.steps_per_epoch(n)
        self.total = config.total_steps(n)
        self.warmup = max(1, round(proxy.warmup_fraction * self.total))
        self.transform = BatchTransform(data.mean, data.std, data.device, proxy.crop_padding, proxy.flip)
        self.step = 0
        self.loss_curve: list[float] = []
        self._order: tuple[int, torch.Tensor] | None = None

    def _batch(self) -> tuple[torch.Tensor, torch.Tensor]:
        epoch, i = divmod(self.step, self.per_epoch)
        seed = self.config.proxy.training_seed
        if self._order is None or self._order[0] != epoch:
            generator = torch.Generator().manual_seed(derived_seed(seed, "order", epoch))
            self._order = (epoch, torch.randperm(len(self.data.train_labels), generator=generator))
        batch = self.config.proxy.batch_size
        idx = self._order[1][i * batch : (i + 1) * batch].to(self.data.device)
        augment = torch.Generator(device=self.data.device)
        augment.manual_seed(derived_seed(seed, "augment", self.step))
        return self.transform.augment(self.data.train_images[idx], augment), self.data.train_labels[idx]

    def train_step(self) -> None:
        for group, base in zip(self.optimizer.param_groups, self.base_lrs, strict=True):
            group["lr"] = base * lr_factor(self.step, self.total, self.warmup)
        inputs, labels = self._batch()
        paths = self.sampler.step()
        scale = 1.0 / len(paths) if self.config.loss_reduction == "mean" else 1.0
        self.optimizer.zero_grad(set_to_none=True)
        total = 0.0
        for path in paths:
            self.supernet.activate(path)
            logits = self.supernet(inputs)
            loss = F.cross_entropy(logits, labels, label_smoothing=self.config.proxy.label_smoothing)
            (loss * scale).backward()
            total += float(loss.detach())
        if not math.isfinite(total):
            raise TrialDivergedError(f"supernet training diverged: loss is {total} at step {self.step + 1}")
        self.optimizer.step()
        self.loss_curve.append(total / len(paths))
        self.step += 1

    def checkpoint(self) -> SupernetCheckpoint:
        return SupernetCheckpoint(
            step=self.step,
            model={k: v.detach().cpu().clone() for k, v in self.supernet.state_dict().items()},
            optimizer=self.optimizer.state_dict(),
            sampler=self.sampler.state(),
            config=self.config.model_dump(mode="json"),
            seed=self.supernet.seed,
            slots=_slot_labels(self.supernet),
            loss_curve=list(self.loss_curve),
        )

    def restore(self, checkpoint: SupernetCheckpoint, where: Path) -> None:
        if (
            checkpoint.config != self.config.model_dump(mode="json")
            or checkpoint.seed != self.supernet.seed
            or checkpoint.slots != _slot_labels(self.supernet)
        ):
            raise NasAttnError(f"{where} belongs to another supernet run (config, seed or candidates differ)")
        self.supernet.load_state_dict(checkpoint.model)
        self.optimizer.load_state_dict(checkpoint.optimizer)
        self.sampler.restore(checkpoint.sampler)
        self.step = checkpoint.step
        self.loss_curve = list(checkpoint.loss_curve)


def _slot_labels(supernet: Supernet) -> list[list[str]]:
    return [[choices.stage, *(c.label() for c in choices.candidates)] for choices in supernet.slot_choices]


def milestone_path(directory: Path, fraction: float) -> Path:
    """Where the snapshot at ``fraction`` of the configured epochs is written."""
    return directory / f"supernet-{fraction:g}x.pt"


def train_supernet(
    supernet: Supernet,
    data: ProxyData,
    config: SupernetTrainConfig,
    *,
    sampler: PathSampler | None = None,
    checkpoint_dir: str | Path | None = None,
    resume: bool = False,
    stop_after: int | None = None,
) -> SupernetTrainResult:
    """Train ``supernet`` (on ``data``'s device) per ``config``.

    Args:
        sampler: the path sampler (default: ``config.sampler`` seeded with the training seed).
        checkpoint_dir: where ``resume.pt`` (every ``checkpoint_every`` steps and at the end) and
            the milestone snapshots go; none written without it.
        resume: continue from ``checkpoint_dir/resume.pt`` when it exists.
        stop_after: stop once this many steps are done in all (an interruption; resumable).

    Raises:
        TrialDivergedError: the loss became NaN or infinite.
        NasAttnError: a resume file of another run.
    """
    seed = config.proxy.training_seed
    sampler = sampler or make_sampler(config.sampler, supernet.slot_sizes, config.paths_per_step, seed)
    supernet.to(data.device).train()
    run = _Run(supernet, data, config, sampler)
    directory = None if checkpoint_dir is None else Path(checkpoint_dir)
    result = SupernetTrainResult(steps=0, total_steps=run.total)
    if resume:
        if directory is None:
            raise NasAttnError("resuming a supernet run needs its checkpoint_dir")
        if (directory / RESUME_NAME).is_file():
            run.restore(load_checkpoint(directory / RESUME_NAME), directory / RESUME_NAME)
            result.checkpoint = directory / RESUME_NAME
    milestones = config.milestone_steps(len(data.train_labels))
    every = config.checkpoint_every or run.per_epoch
    end = run.total if stop_after is None else min(run.total, stop_after)
    if directory is not None:
        done = {m: milestone_path(directory, m) for m, s in milestones.items() if s <= run.step}
        result.milestones = {m: p for m, p in done.items() if p.is_file()}
    while run.step < end:
        run.train_step()
        if directory is None:
            continue
        for fraction, step in milestones.items():
            if step == run.step:
                path = milestone_path(directory, fraction)
                result.milestones[fraction] = save_checkpoint(run.checkpoint(), path)
        if run.step % every == 0 or run.step == end:
            result.checkpoint = save_checkpoint(run.checkpoint(), directory / RESUME_NAME)
    result.steps, result.loss_curve = run.step, run.loss_curve
    return result
