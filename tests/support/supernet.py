"""Supernet test helpers: tiny spaces on the cifar-stem ResNet-18 at 8 px, seeded weights."""

from __future__ import annotations

from typing import Any

import torch
from torch.nn.modules.batchnorm import _BatchNorm

from nas_attn.search.sampling.space import SearchSpace

IMAGE_SIZE = 8


def make_space(stages: dict[str, dict[str, Any]], **proxy: Any) -> SearchSpace:
    """A search space over ``stages`` on the cifar-stem ResNet-18 at 8 px (digits)."""
    settings = {"image_size": IMAGE_SIZE, "batch_size": 16, **proxy}
    return SearchSpace(name="supernet-test", stages=stages, proxy=settings)


def randomize(module: torch.nn.Module, seed: int) -> None:
    """Give every parameter and BatchNorm buffer seeded non-trivial values (timm's zero gammas
    would otherwise make every attention module see zeros and every path compute alike)."""
    generator = torch.Generator().manual_seed(seed)
    with torch.no_grad():
        for param in module.parameters():
            param.copy_(0.5 * torch.randn(param.shape, generator=generator))
        for sub in module.modules():
            if isinstance(sub, _BatchNorm):
                assert sub.running_mean is not None and sub.running_var is not None
                sub.running_mean.copy_(0.1 * torch.randn(sub.running_mean.shape, generator=generator))
                sub.running_var.copy_(0.5 + torch.rand(sub.running_var.shape, generator=generator))
