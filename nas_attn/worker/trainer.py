"""Proxy trainer: a short seeded SGD run returning top-1 validation accuracy.

Nesterov SGD, linear warm-up then linear decay to zero within the budget (annealing to zero
inside the budget matters most for short runs: Li et al., "Budgeted Training", ICLR 2020),
label smoothing, weight decay on conv/linear weights only (not on norms and biases). The data
is already on the device; each batch is gathered, augmented and normalised there. On CUDA the
forward runs under bf16 autocast with channels_last tensors (see ``device.POLICIES``), and the
divergence check reads the running loss every ``check_every`` steps instead of syncing per step.

Budgets: ``epochs`` always; with ``max_seconds`` too, the schedule's position is the larger of
the step count and the elapsed fraction of the time budget, so the learning rate still reaches
zero when time runs out first, and the result records that early stop.
"""

from __future__ import annotations

import math
import time
from dataclasses import dataclass, field

import torch
import torch.nn.functional as F
from torch import nn

from nas_attn.data import ProxyData
from nas_attn.exceptions import TrialDivergedError
from nas_attn.worker.augment import BatchTransform
from nas_attn.worker.config import ProxyConfig
from nas_attn.worker.device import DevicePolicy, policy_for, synchronize
from nas_attn.worker.seeding import make_generator, seed_everything

EVAL_BATCH = 512


@dataclass
class TrainResult:
    accuracy: float
    train_seconds: float
    images_per_second: float
    epochs: int
    epochs_completed: float = 0.0
    stopped_early: bool = False
    stop_reason: str = ""
    val_accuracy_curve: list[float] = field(default_factory=list)
    train_loss_curve: list[float] = field(default_factory=list)


def parameter_groups(model: nn.Module, weight_decay: float) -> list[dict[str, object]]:
    """Decay only weights with >1 dimension (conv/linear); norms, biases and gammas are exempt."""
    decay: list[nn.Parameter] = []
    no_decay: list[nn.Parameter] = []
    for param in model.parameters():
        if param.requires_grad:
            (decay if param.ndim > 1 else no_decay).append(param)
    return [{"params": decay, "weight_decay": weight_decay}, {"params": no_decay, "weight_decay": 0.0}]


def lr_factor(step: int, total_steps: int, warmup_steps: int) -> float:
    """Linear warm-up to 1 over ``warmup_steps``, then linear decay reaching 0 at ``total_steps``."""
    if step < warmup_steps:
        return (step + 1) / warmup_steps
    return max(0.0, (total_steps - step) / max(1, total_steps - warmup_steps))


class ScheduleClock:
    """Position in the schedule, in steps: the step count, or further along when the time budget
    (``max_seconds``) has run out faster."""

    def __init__(self, total_steps: int, max_seconds: float | None) -> None:
        self.total_steps = total_steps
        self.max_seconds = max_seconds
        self.start = time.perf_counter()

    def position(self, step: int) -> int:
        if self.max_seconds is None:
            return step
        elapsed = time.perf_counter() - self.start
        return max(step, math.floor(elapsed / self.max_seconds * self.total_steps))


@torch.inference_mode()
def top1_accuracy(
    model: nn.Module,
    images: torch.Tensor,
    labels: torch.Tensor,
    transform: BatchTransform,
    policy: DevicePolicy | None = None,
) -> float:
    """Top-1 accuracy in eval mode over uint8 ``images``; restores the training mode."""
    policy = policy or policy_for(images.device)
    was_training = model.training
    model.eval()
    correct = torch.zeros((), dtype=torch.int64, device=images.device)
    try:
        for start in range(0, len(labels), EVAL_BATCH):
            x = transform.normalize(images[start : start + EVAL_BATCH])
            with policy.autocast(images.device):
                logits = model(x.contiguous(memory_format=policy.memory_format))
            correct += (logits.argmax(dim=1) == labels[start : start + EVAL_BATCH]).sum()
    finally:
        model.train(was_training)
    return int(correct) / max(1, len(labels))


def _check_finite(loss_sum: torch.Tensor, epoch: int, step: int) -> None:
    if not bool(torch.isfinite(loss_sum)):
        raise TrialDivergedError(
            f"training diverged: loss is {float(loss_sum)} by epoch {epoch + 1}, step {step + 1}; "
            "lower proxy.lr"
        )


def _set_lr(optimizer: torch.optim.Optimizer, base_lrs: list[float], factor: float) -> None:
    for group, base in zip(optimizer.param_groups, base_lrs, strict=True):
        group["lr"] = base * factor


@dataclass
class _Loop:
    """The state of one training run between epochs."""

    forward: nn.Module
    optimizer: torch.optim.Optimizer
    transform: BatchTransform
    policy: DevicePolicy
    generator: torch.Generator
    clock: ScheduleClock
    warmup_steps: int
    base_lrs: list[float] = field(default_factory=list)
    step: int = 0
    images: int = 0

    def epoch(self, data: ProxyData, cfg: ProxyConfig, epoch: int) -> tuple[torch.Tensor, int]:
        """One pass over a fresh shuffle, or less when the schedule ends; (loss sum, steps)."""
        device = data.train_images.device
        n = len(data.train_labels)
        order = torch.randperm(n, generator=self.generator, device=device)
        loss_sum = torch.zeros((), device=device)
        done = 0
        for i in range(math.ceil(n / cfg.batch_size)):
            position = self.clock.position(self.step)
            if position >= self.clock.total_steps:
                break
            _set_lr(
                self.optimizer, self.base_lrs, lr_factor(position, self.clock.total_steps, self.warmup_steps)
            )
            idx = order[i * cfg.batch_size : (i + 1) * cfg.batch_size]
            inputs = self.transform.augment(data.train_images[idx], self.generator)
            inputs = inputs.contiguous(memory_format=self.policy.memory_format)
            with self.policy.autocast(device):
                logits = self.forward(inputs)
                loss = F.cross_entropy(logits, data.train_labels[idx], label_smoothing=cfg.label_smoothing)
            self.optimizer.zero_grad(set_to_none=True)
            loss.backward()
            self.optimizer.step()
            loss_sum += loss.detach().float()
            self.step, self.images, done = self.step + 1, self.images + len(idx), done + 1
            if done % self.policy.check_every == 0:
                _check_finite(loss_sum, epoch, i)
        if done:
            _check_finite(loss_sum, epoch, done - 1)
        return loss_sum, done


def _start(model: nn.Module, data: ProxyData, cfg: ProxyConfig, device: torch.device) -> _Loop:
    """Seed, place the model for ``device``'s policy, and build the optimizer and schedule."""
    seed_everything(cfg.training_seed)
    policy = policy_for(device)
    policy.prepare()
    model.to(device).to(memory_format=policy.memory_format).train()
    optimizer = torch.optim.SGD(
        parameter_groups(model, cfg.weight_decay), lr=cfg.lr, momentum=cfg.momentum, nesterov=cfg.momentum > 0
    )
    total_steps = math.ceil(len(data.train_labels) / cfg.batch_size) * cfg.epochs
    return _Loop(
        forward=torch.compile(model) if cfg.compile else model,  # type: ignore[arg-type]
        optimizer=optimizer,
        transform=BatchTransform(data.mean, data.std, device, cfg.crop_padding, cfg.flip),
        policy=policy,
        generator=make_generator(cfg.training_seed, device),
        clock=ScheduleClock(total_steps, cfg.max_seconds),
        warmup_steps=max(1, round(cfg.warmup_fraction * total_steps)),
        base_lrs=[float(group["lr"]) for group in optimizer.param_groups],
    )


def train_proxy(model: nn.Module, data: ProxyData, cfg: ProxyConfig, device: torch.device) -> TrainResult:
    """Train ``model`` on ``data`` (already on ``device``) within the budget; return val accuracy.

    Raises:
        TrialDivergedError: the loss became NaN or infinite.
    """
    loop = _start(model, data, cfg, device)
    steps_per_epoch = math.ceil(len(data.train_labels) / cfg.batch_size)
    result = TrainResult(accuracy=0.0, train_seconds=0.0, images_per_second=0.0, epochs=cfg.epochs)
    train_time = 0.0
    for epoch in range(cfg.epochs):
        epoch_start = time.perf_counter()
        loss_sum, done = loop.epoch(data, cfg, epoch)
        synchronize(device)
        train_time += time.perf_counter() - epoch_start
        if done == 0:
            break
        result.train_loss_curve.append(float(loss_sum) / done)
        acc = top1_accuracy(model, data.val_images, data.val_labels, loop.transform, loop.policy)
        result.val_accuracy_curve.append(acc)
        if done < steps_per_epoch:
            break
    result.accuracy = result.val_accuracy_curve[-1]
    result.train_seconds = time.perf_counter() - loop.clock.start
    result.images_per_second = loop.images / max(train_time, 1e-9)
    result.epochs_completed = loop.step / steps_per_epoch
    if loop.step < loop.clock.total_steps:
        result.stopped_early = True
        result.stop_reason = (
            f"wall-clock budget of {cfg.max_seconds:g} s reached after "
            f"{result.epochs_completed:.2f} of {cfg.epochs} epochs"
        )
    return result
