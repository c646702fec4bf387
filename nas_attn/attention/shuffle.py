"""Shuffle Attention (SA-Net).

Zhang, Yang, "SA-Net: Shuffle Attention for Deep Convolutional Neural Networks", ICASSP 2021,
arXiv:2102.00240.

The C channels are split into G groups and each group in two halves of c' = C / (2G) channels:

    channel half:  x0 * sigmoid(w_c * GAP(x0) + b_c)
    spatial half:  x1 * sigmoid(w_s * GN(x1) + b_s)       GN: one group per channel (c' groups)
    y = channel_shuffle(concat over groups of [channel half, spatial half], 2)

w_c, b_c, w_s, b_s are per-channel (c' each) and shared by all groups; init w = 0, b = 1.
Parameters: 4c' + 2c' (GroupNorm affine) = 3C / G. The paper's default is G = 64.

Constraint: C % (2G) == 0. With the paper's G = 64 that excludes C = 64 (ResNet-18 layer1):
pass e.g. ``groups=8`` there; construction raises a NasAttnError listing the valid G. Popular
copies silently default to G = 8; we keep the paper's default and check it.
"""

from __future__ import annotations

import torch
from torch import nn

from nas_attn.attention._common import divisors, require_divisible, require_positive
from nas_attn.attention._registry import AttentionInfo, integer, register_attention


def channel_shuffle(x: torch.Tensor, groups: int) -> torch.Tensor:
    """ShuffleNet channel shuffle: view channels as (groups, C/groups), transpose, flatten."""
    n, c, h, w = x.shape
    return x.view(n, groups, c // groups, h, w).transpose(1, 2).reshape(n, c, h, w)


@register_attention(
    AttentionInfo(
        name="shuffle",
        kind="channel+spatial",
        paper="Zhang & Yang, SA-Net: Shuffle Attention for Deep CNNs, ICASSP 2021, arXiv:2102.00240",
        uses_reduction=False,
        constraints=("channels divisible by 2*groups (paper default groups=64; use groups=8 for C=64)",),
        defaults={"groups": 64},
        options={"groups": integer(1, 512)},
    )
)
class ShuffleAttention(nn.Module):
    """Grouped channel and spatial gates on channel halves, then a channel shuffle."""

    def __init__(self, channels: int, groups: int = 64) -> None:
        super().__init__()
        require_positive("shuffle", groups=groups)
        valid = divisors(channels // 2) if channels % 2 == 0 else []
        require_divisible("shuffle", channels, 2 * groups, f"2*groups={2 * groups}", f"use groups in {valid}")
        self.groups = groups
        half = channels // (2 * groups)
        self.c_weight = nn.Parameter(torch.zeros(1, half, 1, 1))
        self.c_bias = nn.Parameter(torch.ones(1, half, 1, 1))
        self.s_weight = nn.Parameter(torch.zeros(1, half, 1, 1))
        self.s_bias = nn.Parameter(torch.ones(1, half, 1, 1))
        self.gn = nn.GroupNorm(half, half)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        n, c, h, w = x.shape
        grouped = x.reshape(n * self.groups, c // self.groups, h, w)
        x0, x1 = grouped.chunk(2, dim=1)
        xc = x0 * torch.sigmoid(self.c_weight * x0.mean(dim=(2, 3), keepdim=True) + self.c_bias)
        xs = x1 * torch.sigmoid(self.s_weight * self.gn(x1) + self.s_bias)
        out = torch.cat([xc, xs], dim=1).reshape(n, c, h, w)
        return channel_shuffle(out, 2)
