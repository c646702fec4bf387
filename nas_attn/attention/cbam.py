"""Convolutional Block Attention Module.

Woo, Park, Lee, Kweon, "CBAM: Convolutional Block Attention Module", ECCV 2018, arXiv:1807.06521.

Channel attention:  Mc(x) = sigmoid(MLP(AvgPool(x)) + MLP(MaxPool(x)))   one *shared* MLP C -> C//r -> C
Spatial attention:  Ms(x) = sigmoid(BN(Conv7x7([max_c(x); mean_c(x)])))  2 -> 1 channels, no conv bias
CBAM applies them in sequence: x' = x * Mc(x); y = x' * Ms(x').

The MLP keeps biases like the official release (the paper's equations omit them), so the
channel part has 2C^2/r + C/r + C parameters and the spatial part 98 + 2. Popular copies get
this wrong: a 49x49 spatial kernel, an extra ``out + residual`` inside the block (which adds the
identity twice in a residual block), or a biased spatial conv without BN. We follow the paper.
"""

from __future__ import annotations

import torch
from torch import nn

from nas_attn.attention._registry import AttentionInfo, integer, register_attention
from nas_attn.exceptions import NasAttnError

_PAPER = "Woo et al., CBAM: Convolutional Block Attention Module, ECCV 2018, arXiv:1807.06521"


@register_attention(
    AttentionInfo(
        name="cbam_channel",
        kind="channel",
        paper=_PAPER + " (channel attention only)",
        uses_reduction=True,
        defaults={"reduction": 16},
    )
)
class CbamChannelAttention(nn.Module):
    """Channel gate from average- and max-pooled descriptors through one shared MLP."""

    def __init__(self, channels: int, reduction: int = 16) -> None:
        super().__init__()
        hidden = channels // reduction
        self.mlp = nn.Sequential(
            nn.Linear(channels, hidden, bias=True),
            nn.ReLU(inplace=True),
            nn.Linear(hidden, channels, bias=True),
        )

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        avg = self.mlp(x.mean(dim=(2, 3)))
        mx = self.mlp(x.amax(dim=(2, 3)))
        return x * torch.sigmoid(avg + mx)[:, :, None, None]


@register_attention(
    AttentionInfo(
        name="cbam_spatial",
        kind="spatial",
        paper=_PAPER + " (spatial attention only)",
        uses_reduction=False,
        defaults={"kernel_size": 7},
        options={"kernel_size": integer(1, 31, odd=True)},
    )
)
class CbamSpatialAttention(nn.Module):
    """Spatial gate from channel-wise max and mean maps through a 7x7 conv and BN."""

    def __init__(self, channels: int, kernel_size: int = 7) -> None:
        super().__init__()
        if kernel_size < 1 or kernel_size % 2 == 0:
            raise NasAttnError(f"cbam: spatial kernel_size must be a positive odd integer, got {kernel_size}")
        self.conv = nn.Conv2d(2, 1, kernel_size, padding=kernel_size // 2, bias=False)
        self.bn = nn.BatchNorm2d(1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        pooled = torch.cat([x.amax(dim=1, keepdim=True), x.mean(dim=1, keepdim=True)], dim=1)
        return x * torch.sigmoid(self.bn(self.conv(pooled)))


@register_attention(
    AttentionInfo(
        name="cbam",
        kind="channel+spatial",
        paper=_PAPER,
        uses_reduction=True,
        defaults={"reduction": 16, "kernel_size": 7},
        options={"kernel_size": integer(1, 31, odd=True)},
    )
)
class Cbam(nn.Module):
    """Channel attention followed by spatial attention (the paper's sequential order)."""

    def __init__(self, channels: int, reduction: int = 16, kernel_size: int = 7) -> None:
        super().__init__()
        self.channel = CbamChannelAttention(channels, reduction)
        self.spatial = CbamSpatialAttention(channels, kernel_size)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.spatial(self.channel(x))
