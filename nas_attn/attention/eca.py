"""Efficient Channel Attention.

Wang et al., "ECA-Net: Efficient Channel Attention for Deep Convolutional Neural Networks",
CVPR 2020, arXiv:1910.03151.

    y = x * sigmoid(Conv1d_k(GAP(x)))        (no bias, no dimensionality reduction)

The kernel size adapts to the channel count (paper Eq. 12): k = |log2(C)/gamma + b/gamma|_odd
with gamma=2, b=1, i.e. ``t = int(abs((log2 C + b) / gamma)); k = t if t odd else t + 1``.
ResNet-18 stages (64/128/256/512) get k = 3/5/5/5. The released checkpoints hand-set k per
stage instead; we follow the paper's formula (pass ``kernel_size`` to override).
"""

from __future__ import annotations

import math

import torch
from torch import nn

from nas_attn.attention._registry import AttentionInfo, integer, number, register_attention
from nas_attn.exceptions import NasAttnError


def eca_kernel_size(channels: int, gamma: int = 2, beta: int = 1) -> int:
    """Adaptive odd 1-D kernel size of ECA-Net (Eq. 12)."""
    t = int(abs((math.log2(channels) + beta) / gamma))
    return t if t % 2 else t + 1


@register_attention(
    AttentionInfo(
        name="eca",
        kind="channel",
        paper="Wang et al., ECA-Net, CVPR 2020, arXiv:1910.03151",
        uses_reduction=False,
        defaults={"gamma": 2, "beta": 1},
        options={
            "kernel_size": integer(1, 63, odd=True),
            "gamma": number(0, 64, low_open=True),
            "beta": integer(-64, 64),
        },
    )
)
class EfficientChannelAttention(nn.Module):
    """Channel gate from a 1-D convolution across globally pooled channels."""

    def __init__(self, channels: int, kernel_size: int | None = None, gamma: int = 2, beta: int = 1) -> None:
        super().__init__()
        k = eca_kernel_size(channels, gamma, beta) if kernel_size is None else kernel_size
        if k < 1 or k % 2 == 0:
            raise NasAttnError(f"eca: kernel_size must be a positive odd integer, got {k}")
        self.kernel_size = k
        self.conv = nn.Conv1d(1, 1, kernel_size=k, padding=k // 2, bias=False)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        n, c = x.shape[:2]
        pooled = x.mean(dim=(2, 3)).view(n, 1, c)
        gate = torch.sigmoid(self.conv(pooled)).view(n, c, 1, 1)
        return x * gate
