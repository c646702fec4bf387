"""Squeeze-and-Excitation.

Hu, Shen, Sun, "Squeeze-and-Excitation Networks", CVPR 2018, arXiv:1709.01507.

    y = x * sigmoid(W2 ReLU(W1 GAP(x)))

W1: C -> C // r, W2: C // r -> C, both with bias (the released Caffe models use biases), so the
module has 2C^2/r + C/r + C parameters. Unlike timm's ``SEModule`` the hidden width is exactly
C // r (no rounding up to a multiple of 8), as in the paper.
"""

from __future__ import annotations

import torch
from torch import nn

from nas_attn.attention._registry import AttentionInfo, register_attention


@register_attention(
    AttentionInfo(
        name="se",
        kind="channel",
        paper="Hu et al., Squeeze-and-Excitation Networks, CVPR 2018, arXiv:1709.01507",
        uses_reduction=True,
        defaults={"reduction": 16},
    )
)
class SqueezeExcite(nn.Module):
    """Channel gate from globally pooled features through a bottleneck MLP."""

    def __init__(self, channels: int, reduction: int = 16) -> None:
        super().__init__()
        hidden = channels // reduction
        self.fc1 = nn.Conv2d(channels, hidden, kernel_size=1, bias=True)
        self.act = nn.ReLU(inplace=True)
        self.fc2 = nn.Conv2d(hidden, channels, kernel_size=1, bias=True)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        squeezed = x.mean(dim=(2, 3), keepdim=True)
        gate = torch.sigmoid(self.fc2(self.act(self.fc1(squeezed))))
        return x * gate
