"""Triplet Attention.

Misra, Nalamada, Arasanipalai, Hou, "Rotate to Attend: Convolutional Triplet Attention Module",
WACV 2021, arXiv:2010.03045.

Three branches capture cross-dimension interaction; each rotates x so that one dimension is
pooled away, then gates the other two:

    gate(t) = t * sigmoid(BN(Conv7x7(ZPool(t))))    ZPool = concat(max, mean) over dim 1
    y1 = gate(x rotated to (N, H, C, W)) rotated back     C-W interaction (pool over H)
    y2 = gate(x rotated to (N, W, H, C)) rotated back     C-H interaction (pool over W)
    y3 = gate(x)                                          H-W interaction (pool over C)
    y  = (y1 + y2 + y3) / 3

Each gate: a 2 -> 1 conv without bias (98 weights) and BN(1) (2), so 300 parameters in total.
Popular copies match the paper.
"""

from __future__ import annotations

import torch
from torch import nn

from nas_attn.attention._common import require_positive
from nas_attn.attention._registry import AttentionInfo, integer, register_attention
from nas_attn.exceptions import NasAttnError


class AttentionGate(nn.Module):
    """t * sigmoid(BN(Conv_k([max_1 t; mean_1 t]))) on a (N, D1, D2, D3) tensor, pooling D1."""

    def __init__(self, kernel_size: int = 7) -> None:
        super().__init__()
        self.conv = nn.Conv2d(2, 1, kernel_size, padding=kernel_size // 2, bias=False)
        self.bn = nn.BatchNorm2d(1)

    def forward(self, t: torch.Tensor) -> torch.Tensor:
        pooled = torch.cat([t.amax(dim=1, keepdim=True), t.mean(dim=1, keepdim=True)], dim=1)
        return t * torch.sigmoid(self.bn(self.conv(pooled)))


@register_attention(
    AttentionInfo(
        name="triplet",
        kind="channel+spatial",
        paper=(
            "Misra et al., Rotate to Attend: Convolutional Triplet Attention Module, WACV 2021, "
            "arXiv:2010.03045"
        ),
        uses_reduction=False,
        defaults={"kernel_size": 7},
        options={"kernel_size": integer(1, 31, odd=True)},
    )
)
class TripletAttention(nn.Module):
    """Mean of three rotated Z-pool gates (C-W, C-H, H-W)."""

    def __init__(self, channels: int, kernel_size: int = 7) -> None:
        super().__init__()
        require_positive("triplet", kernel_size=kernel_size)
        if kernel_size % 2 == 0:
            raise NasAttnError(f"triplet: kernel_size must be odd, got {kernel_size}")
        self.cw = AttentionGate(kernel_size)
        self.hc = AttentionGate(kernel_size)
        self.hw = AttentionGate(kernel_size)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        y1 = self.cw(x.permute(0, 2, 1, 3)).permute(0, 2, 1, 3)
        y2 = self.hc(x.permute(0, 3, 2, 1)).permute(0, 3, 2, 1)
        y3 = self.hw(x)
        return (y1 + y2 + y3) / 3.0
