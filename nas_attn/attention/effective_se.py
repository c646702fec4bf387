"""Effective Squeeze-and-Excitation (eSE).

Lee, Park, "CenterMask: Real-Time Anchor-Free Instance Segmentation", CVPR 2020,
arXiv:1911.06667 (VoVNetV2, Sec. 3.2).

    y = x * hsigmoid(FC_{C -> C}(GAP(x)))      hsigmoid(t) = ReLU6(t + 3) / 6

eSE keeps SE's squeeze but uses *one* FC layer without the C/r bottleneck, which the paper argues
loses channel information. The FC is a 1x1 conv with bias: C^2 + C parameters. Popular copies
(timm ``EffectiveSEModule``) match the paper.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

from nas_attn.attention._registry import AttentionInfo, register_attention


@register_attention(
    AttentionInfo(
        name="ese",
        kind="channel",
        paper="Lee & Park, CenterMask (VoVNetV2 effective SE), CVPR 2020, arXiv:1911.06667",
        uses_reduction=False,
    )
)
class EffectiveSqueezeExcite(nn.Module):
    """Channel gate from one full-width FC and a hard sigmoid."""

    def __init__(self, channels: int) -> None:
        super().__init__()
        self.fc = nn.Conv2d(channels, channels, 1, bias=True)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x * F.hardsigmoid(self.fc(x.mean(dim=(2, 3), keepdim=True)))
