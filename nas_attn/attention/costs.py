"""Static costs of a module: parameter count and multiply-accumulates of one forward pass.

The one place both are counted: the zoo table (:mod:`nas_attn.attention.catalog`) counts a module
on its example inputs, a trial (:mod:`nas_attn.worker.measure`) a whole network on an image batch.
"""

from __future__ import annotations

import torch
from torch import nn
from torch.utils.flop_counter import FlopCounterMode


def count_params(module: nn.Module) -> int:
    """Every parameter of ``module`` (trainable or not)."""
    return sum(p.numel() for p in module.parameters())


@torch.no_grad()
def forward_macs(module: nn.Module, *inputs: torch.Tensor) -> int:
    """Multiply-accumulates of one forward of ``module`` on ``inputs``, via PyTorch's flop counter
    (FLOPs / 2). It counts matmuls and convolutions (incl. attention's bmm and SDPA), not
    element-wise ops, so a purely element-wise module such as SimAM adds 0."""
    with FlopCounterMode(display=False) as counter:
        module(*inputs)
    return int(counter.get_total_flops()) // 2
