"""``nas-attn train``: full training of an exported arch, with checkpoints and resume.

The same on-device data pipeline and optimiser recipe as the proxy (Nesterov SGD, warm-up then
linear decay to zero, label smoothing, no decay on norms/biases), but for a chosen number of
epochs on a chosen dataset, writing ``last.pt`` every ``checkpoint_every`` epochs (atomically)
and ``best.pt`` on improvement. Re-running the same command resumes from ``last.pt``: model,
optimiser, epoch, RNG and the history are restored, so an interrupted run finishes as if it
had never stopped. The checkpoint format is :mod:`nas_attn.deploy.checkpoint`.
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import torch
import torch.nn.functional as F

from nas_attn._types import SEED_MAX
from nas_attn.backbones import ArchConfig, build_model
from nas_attn.data import ProxyData, load_dataset
from nas_attn.deploy.checkpoint import BEST, CHECKPOINT, read_resume_state, save_atomic
from nas_attn.exceptions import NasAttnError, TrialDivergedError
from nas_attn.outputs import check_output_dir, output_target
from nas_attn.worker.augment import BatchTransform
from nas_attn.worker.device import policy_for, resolve_device
from nas_attn.worker.seeding import make_generator, seed_everything
from nas_attn.worker.trainer import lr_factor, parameter_groups, top1_accuracy


@dataclass(frozen=True)
class TrainSettings:
    """Everything that defines a full-training run (part of the checkpoint's identity)."""

    dataset: str = "digits"
    epochs: int = 30
    batch_size: int = 128
    lr: float = 0.1
    momentum: float = 0.9
    weight_decay: float = 5e-4
    label_smoothing: float = 0.1
    warmup_fraction: float = 0.05
    crop_padding: int = 4
    flip: bool = True
    seed: int = 0
    checkpoint_every: int = 1

    def __post_init__(self) -> None:
        check_settings(self)

    def identity(self) -> dict[str, Any]:
        """The fields a resumed run must share with the checkpoint."""
        keep = (
            "dataset",
            "epochs",
            "batch_size",
            "lr",
            "momentum",
            "weight_decay",
            "label_smoothing",
            "seed",
        )
        return {k: getattr(self, k) for k in keep}


MAX_EPOCHS = 100_000
MAX_BATCH = 1 << 16


def check_settings(settings: TrainSettings) -> None:
    """Finite, in-range values, so a run cannot start and then do nothing or crash later."""
    for name in ("lr", "momentum", "weight_decay", "label_smoothing", "warmup_fraction"):
        value = getattr(settings, name)
        if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value):
            raise NasAttnError(f"--{name.replace('_', '-')} must be a finite number, got {value}")
    if not settings.lr > 0:
        raise NasAttnError(f"--lr must be positive, got {settings.lr}; e.g. --lr 0.1")
    if not 0 <= settings.seed <= SEED_MAX:
        raise NasAttnError(f"--seed must be between 0 and {SEED_MAX}, got {settings.seed}")
    if not 1 <= settings.epochs <= MAX_EPOCHS:
        raise NasAttnError(f"--epochs must be between 1 and {MAX_EPOCHS}, got {settings.epochs}")
    if not 1 <= settings.batch_size <= MAX_BATCH:
        raise NasAttnError(f"--batch-size must be between 1 and {MAX_BATCH}, got {settings.batch_size}")


@dataclass
class EpochReport:
    epoch: int
    epochs: int
    train_loss: float
    val_accuracy: float
    seconds: float


@dataclass
class TrainOutcome:
    final_accuracy: float
    best_accuracy: float
    epochs: int
    resumed_from_epoch: int
    checkpoint: Path
    history: list[float] = field(default_factory=list)
    num_classes: int = 0  # of the trained network (the dataset's class count)


def _restore(
    state: dict[str, Any],
    path: Path,
    model: torch.nn.Module,
    optimizer: torch.optim.Optimizer,
    generator: torch.Generator,
) -> tuple[list[float], float, int]:
    """Load a checkpoint's model, optimiser and RNG state; a tampered one is one clear error."""
    try:
        model.load_state_dict(state["model"])
        optimizer.load_state_dict(state["optimizer"])
        generator.set_state(state["generator"].to(generator.get_state().device))
        torch.set_rng_state(state["torch_rng"])
        history, best, epoch = [float(a) for a in state["history"]], float(state["best"]), int(state["epoch"])
    except (RuntimeError, TypeError, ValueError, KeyError, AttributeError) as exc:
        raise NasAttnError(
            f"checkpoint {path} does not fit this arch ({type(exc).__name__}: "
            f"{str(exc).strip().splitlines()[0][:160] if str(exc).strip() else 'bad entry'}); "
            "delete it or use another --out directory to start over"
        ) from None
    return history, best, epoch


def train_arch(
    arch: ArchConfig,
    settings: TrainSettings,
    out_dir: str | Path,
    device: str = "auto",
    on_epoch: Callable[[EpochReport], None] | None = None,
    data: ProxyData | None = None,
) -> TrainOutcome:
    """Train ``arch`` for ``settings.epochs`` (resuming from ``out_dir/last.pt`` if present)."""
    out = check_output_dir(out_dir)
    for name in (CHECKPOINT, BEST):  # regular files only (a FIFO or device there is refused)
        output_target(
            out / name, [arch.backbone_weights] if arch.backbone_weights else [], pending_dirs=[out]
        )
    # a bad checkpoint is refused before any work
    state = read_resume_state(out / CHECKPOINT, arch, settings.identity())
    dev = resolve_device(device)
    data = (data or load_dataset(settings.dataset, arch.image_size, settings.seed)).to(dev)
    seed_everything(settings.seed)  # the initial weights are part of the run
    model = build_model(arch, num_classes=data.num_classes)
    policy = policy_for(dev)
    policy.prepare()
    model.to(dev).to(memory_format=policy.memory_format).train()
    optimizer = torch.optim.SGD(
        parameter_groups(model, settings.weight_decay),
        lr=settings.lr,
        momentum=settings.momentum,
        nesterov=settings.momentum > 0,
    )
    base_lrs = [float(g["lr"]) for g in optimizer.param_groups]
    transform = BatchTransform(data.mean, data.std, dev, settings.crop_padding, settings.flip)
    n = len(data.train_labels)
    steps_per_epoch = math.ceil(n / settings.batch_size)
    total = steps_per_epoch * settings.epochs
    warmup = max(1, round(settings.warmup_fraction * total))

    generator = make_generator(settings.seed, dev)
    history: list[float] = []
    best = -1.0
    start_epoch = 0
    if state is not None:
        history, best, start_epoch = _restore(state, out / CHECKPOINT, model, optimizer, generator)

    for epoch in range(start_epoch, settings.epochs):
        began = time.perf_counter()
        order = torch.randperm(n, generator=generator, device=dev)
        loss_sum = torch.zeros((), device=dev)
        for step in range(steps_per_epoch):
            factor = lr_factor(epoch * steps_per_epoch + step, total, warmup)
            for group, base in zip(optimizer.param_groups, base_lrs, strict=True):
                group["lr"] = base * factor
            idx = order[step * settings.batch_size : (step + 1) * settings.batch_size]
            inputs = transform.augment(data.train_images[idx], generator).contiguous(
                memory_format=policy.memory_format
            )
            with policy.autocast(dev):
                loss = F.cross_entropy(
                    model(inputs), data.train_labels[idx], label_smoothing=settings.label_smoothing
                )
            optimizer.zero_grad(set_to_none=True)
            loss.backward()
            optimizer.step()
            loss_sum += loss.detach().float()
        train_loss = float(loss_sum) / steps_per_epoch
        if not math.isfinite(train_loss):
            raise TrialDivergedError(
                f"training diverged at epoch {epoch + 1} (loss {train_loss}); lower --lr"
            )
        accuracy = top1_accuracy(model, data.val_images, data.val_labels, transform, policy)
        history.append(accuracy)
        if accuracy > best:
            best = accuracy
            save_atomic(
                {
                    "model": model.state_dict(),
                    "arch": arch.to_dict(),
                    "num_classes": data.num_classes,
                    "accuracy": accuracy,
                },
                out / BEST,
            )
        done = epoch + 1
        if done % settings.checkpoint_every == 0 or done == settings.epochs:
            save_atomic(
                {
                    "model": model.state_dict(),
                    "optimizer": optimizer.state_dict(),
                    "generator": generator.get_state(),
                    "torch_rng": torch.get_rng_state(),
                    "epoch": done,
                    "history": history,
                    "best": best,
                    "arch_digest": arch.digest(),
                    "arch": arch.to_dict(),
                    "num_classes": data.num_classes,
                    "settings": settings.identity(),
                },
                out / CHECKPOINT,
            )
        if on_epoch is not None:
            on_epoch(EpochReport(done, settings.epochs, train_loss, accuracy, time.perf_counter() - began))
    final = history[-1] if history else 0.0
    return TrainOutcome(
        final, best, settings.epochs, start_epoch, out / CHECKPOINT, history, data.num_classes
    )
