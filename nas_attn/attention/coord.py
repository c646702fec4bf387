"""Coordinate Attention.

Hou, Zhou, Feng, "Coordinate Attention for Efficient Mobile Network Design", CVPR 2021,
arXiv:2103.02907.

    z_h = mean over W  -> (C, H, 1);   z_w = mean over H -> (C, 1, W), laid out as (C, W, 1)
    f   = h_swish(BN(Conv1x1_{C -> mip}([z_h; z_w])))       concatenated along the spatial axis
    f_h, f_w = split(f, [H, W])
    a_h = sigmoid(Conv1x1_{mip -> C}(f_h));  a_w = sigmoid(Conv1x1_{mip -> C}(f_w))
    y   = x * a_h * a_w

mip = max(8, C // r) with the paper's r = 32 (``AttentionInfo.defaults`` carries it, so
``create_attention("coord", C)`` uses 32). Convs carry biases, as the official release:
3C * mip + 3 mip + 2C parameters.

Where we deviate from popular copies: timm's ``CoordAttn`` uses a different hidden width
(C/16 * 2/3 rounded to a multiple of 8) and no biases; we follow the paper.
"""

from __future__ import annotations

import torch
from torch import nn

from nas_attn.attention._registry import AttentionInfo, register_attention


def coord_mip(channels: int, reduction: int = 32) -> int:
    """The paper's hidden width: max(8, C // r)."""
    return max(8, channels // reduction)


@register_attention(
    AttentionInfo(
        name="coord",
        kind="channel+spatial",
        paper=(
            "Hou et al., Coordinate Attention for Efficient Mobile Network Design, CVPR 2021, "
            "arXiv:2103.02907"
        ),
        uses_reduction=True,
        defaults={"reduction": 32},
    )
)
class CoordinateAttention(nn.Module):
    """Direction-aware gates from pooling along H and along W."""

    def __init__(self, channels: int, reduction: int = 32) -> None:
        super().__init__()
        mip = coord_mip(channels, reduction)
        self.conv1 = nn.Conv2d(channels, mip, 1, bias=True)
        self.bn1 = nn.BatchNorm2d(mip)
        self.act = nn.Hardswish()
        self.conv_h = nn.Conv2d(mip, channels, 1, bias=True)
        self.conv_w = nn.Conv2d(mip, channels, 1, bias=True)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        h, w = x.shape[-2:]
        z_h = x.mean(dim=3, keepdim=True)  # (N, C, H, 1)
        z_w = x.mean(dim=2, keepdim=True).transpose(2, 3)  # (N, C, W, 1)
        f = self.act(self.bn1(self.conv1(torch.cat([z_h, z_w], dim=2))))
        f_h, f_w = torch.split(f, [h, w], dim=2)
        a_h = torch.sigmoid(self.conv_h(f_h))  # (N, C, H, 1)
        a_w = torch.sigmoid(self.conv_w(f_w.transpose(2, 3)))  # (N, C, 1, W)
        return x * a_h * a_w
