"""YOLOv4's modified spatial attention module (point-wise SAM).

Bochkovskiy, Wang, Liao, "YOLOv4: Optimal Speed and Accuracy of Object Detection",
arXiv:2004.10934, Sec. 3.4 and Fig. 5.

YOLOv4 changes CBAM's SAM "from spatial-wise attention to point-wise attention": no pooling,
a 1x1 convolution produces one gate per position *and* channel:

    y = x * sigmoid(BN(Conv1x1_{C -> C}(x)))

The conv carries no bias (darknet's ``batch_normalize=1`` puts the bias in the BN), so the module
has C^2 + 2C parameters. The BN follows the darknet config (AlexeyAB/darknet#6499); some Python
ports drop it.
"""

from __future__ import annotations

import torch
from torch import nn

from nas_attn.attention._registry import AttentionInfo, register_attention


@register_attention(
    AttentionInfo(
        name="sam",
        kind="spatial",
        paper="Bochkovskiy et al., YOLOv4 (modified SAM, Sec. 3.4), arXiv 2020, arXiv:2004.10934",
        uses_reduction=False,
    )
)
class PointwiseSpatialAttention(nn.Module):
    """Point-wise gate from a 1x1 conv + BN + sigmoid."""

    def __init__(self, channels: int) -> None:
        super().__init__()
        self.conv = nn.Conv2d(channels, channels, 1, bias=False)
        self.bn = nn.BatchNorm2d(channels)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x * torch.sigmoid(self.bn(self.conv(x)))
