"""Hand-written building blocks for the attention tests (eval-mode maths from raw weights)."""

from __future__ import annotations

import torch
from torch import nn


def n_params(module: nn.Module) -> int:
    return sum(p.numel() for p in module.parameters())


def randomize(module: nn.Module, seed: int = 0, scale: float = 0.5) -> nn.Module:
    """Random parameters and BN running stats (so zero-inits and identities cannot hide bugs)."""
    gen = torch.Generator().manual_seed(seed)
    with torch.no_grad():
        for p in module.parameters():
            p.copy_(torch.randn(p.shape, generator=gen) * scale)
        for m in module.modules():
            if isinstance(m, nn.modules.batchnorm._BatchNorm) and m.running_mean is not None:
                m.running_mean.copy_(torch.randn(m.running_mean.shape, generator=gen) * 0.1)
                assert m.running_var is not None
                m.running_var.copy_(torch.rand(m.running_var.shape, generator=gen) + 0.5)
    return module.eval()


def bn(t: torch.Tensor, layer: nn.Module) -> torch.Tensor:
    """Eval-mode BatchNorm2d on (N, C, H, W) from its buffers and affine parameters."""
    assert isinstance(layer, nn.BatchNorm2d)
    assert layer.running_mean is not None and layer.running_var is not None
    shape = (1, -1, 1, 1)
    norm = (t - layer.running_mean.view(shape)) / torch.sqrt(layer.running_var.view(shape) + layer.eps)
    return norm * layer.weight.view(shape) + layer.bias.view(shape)


def conv1x1(t: torch.Tensor, layer: nn.Module) -> torch.Tensor:
    """A 1x1 (ungrouped) Conv2d as a matrix product over channels."""
    assert isinstance(layer, nn.Conv2d) and layer.kernel_size == (1, 1) and layer.groups == 1
    out = torch.einsum("oc,nchw->nohw", layer.weight.flatten(1), t)
    return out if layer.bias is None else out + layer.bias.view(1, -1, 1, 1)
