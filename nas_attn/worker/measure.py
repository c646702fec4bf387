"""Static costs of a model: parameter count and multiply-accumulates of one forward pass."""

from __future__ import annotations

import torch
from torch import nn
from torch.utils.flop_counter import FlopCounterMode


def count_params(model: nn.Module) -> int:
    return sum(p.numel() for p in model.parameters())


@torch.no_grad()
def count_macs(model: nn.Module, image_size: int, batch_size: int = 1) -> int:
    """Multiply-accumulates of one eval-mode forward on (batch, 3, size, size), via PyTorch's
    flop counter (FLOPs / 2). It counts matmuls and convolutions (incl. attention's bmm and
    SDPA), not element-wise ops, so a purely element-wise module such as SimAM adds 0."""
    was_training = model.training
    device = next(model.parameters(), torch.empty(0)).device
    model.eval()
    try:
        with FlopCounterMode(display=False) as counter:
            model(torch.zeros(batch_size, 3, image_size, image_size, device=device))
    finally:
        model.train(was_training)
    return int(counter.get_total_flops()) // 2
