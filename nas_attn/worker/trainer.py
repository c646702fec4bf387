"""Proxy trainer: a short seeded SGD run returning top-1 validation accuracy.

Nesterov SGD, linear warm-up then linear decay to zero within the epoch budget (annealing to
zero inside the budget matters most for short runs: Li et al., "Budgeted Training", ICLR 2020),
label smoothing, weight decay on conv/linear weights only (not on norms and biases).
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

EVAL_BATCH = 512


@dataclass
class TrainResult:
    accuracy: float
    train_seconds: float
    images_per_second: float
    epochs: int
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


@torch.inference_mode()
def top1_accuracy(
    model: nn.Module, images: torch.Tensor, labels: torch.Tensor, transform: BatchTransform
) -> float:
    """Top-1 accuracy in eval mode over uint8 ``images``; restores the training mode."""
    was_training = model.training
    model.eval()
    correct = 0
    for start in range(0, len(labels), EVAL_BATCH):
        logits = model(transform.normalize(images[start : start + EVAL_BATCH]))
        correct += int((logits.argmax(dim=1) == labels[start : start + EVAL_BATCH]).sum())
    model.train(was_training)
    return correct / max(1, len(labels))


def train_proxy(model: nn.Module, data: ProxyData, cfg: ProxyConfig, device: torch.device) -> TrainResult:
    """Train ``model`` on ``data`` (already on ``device``) for ``cfg.epochs``; return val accuracy.

    Raises:
        TrialDivergedError: the loss became NaN or infinite.
    """
    torch.manual_seed(cfg.seed)
    generator = torch.Generator(device=device)
    generator.manual_seed(cfg.seed)
    model.to(device).train()
    optimizer = torch.optim.SGD(
        parameter_groups(model, cfg.weight_decay), lr=cfg.lr, momentum=cfg.momentum, nesterov=cfg.momentum > 0
    )
    transform = BatchTransform(data.mean, data.std, device, cfg.crop_padding, cfg.flip)
    n = len(data.train_labels)
    steps_per_epoch = math.ceil(n / cfg.batch_size)
    total_steps = steps_per_epoch * cfg.epochs
    warmup_steps = max(1, round(cfg.warmup_fraction * total_steps))
    scheduler = torch.optim.lr_scheduler.LambdaLR(
        optimizer, lambda step: lr_factor(step, total_steps, warmup_steps)
    )
    result = TrainResult(accuracy=0.0, train_seconds=0.0, images_per_second=0.0, epochs=cfg.epochs)
    start = time.perf_counter()
    train_time = 0.0
    for epoch in range(cfg.epochs):
        epoch_start = time.perf_counter()
        order = torch.randperm(n, generator=generator, device=device)
        loss_sum = torch.zeros((), device=device)
        for step in range(steps_per_epoch):
            idx = order[step * cfg.batch_size : (step + 1) * cfg.batch_size]
            inputs = transform.augment(data.train_images[idx], generator)
            loss = F.cross_entropy(model(inputs), data.train_labels[idx], label_smoothing=cfg.label_smoothing)
            if not torch.isfinite(loss):
                raise TrialDivergedError(
                    f"training diverged: loss is {loss.item()} at epoch {epoch + 1}, step {step + 1}; "
                    "lower proxy.lr"
                )
            optimizer.zero_grad(set_to_none=True)
            loss.backward()
            optimizer.step()
            scheduler.step()
            loss_sum += loss.detach()
        train_time += time.perf_counter() - epoch_start
        result.train_loss_curve.append(float(loss_sum) / steps_per_epoch)
        result.val_accuracy_curve.append(top1_accuracy(model, data.val_images, data.val_labels, transform))
    result.accuracy = result.val_accuracy_curve[-1]
    result.train_seconds = time.perf_counter() - start
    result.images_per_second = n * cfg.epochs / max(train_time, 1e-9)
    return result
