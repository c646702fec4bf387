"""Bottleneck Attention Module.

Park, Woo, Lee, Kweon, "BAM: Bottleneck Attention Module", BMVC 2018, arXiv:1807.06514.

    Mc(x) = BN(W1 ReLU(W0 GAP(x) + b0) + b1)                    (paper Eq. 3, C -> C//r -> C)
    Ms(x) = BN(f3_1x1(f2_3x3(f1_3x3(f0_1x1(x)))))               (paper Eq. 4, C -> C//r -> 1)
    y     = x * (1 + sigmoid(Mc(x) + Ms(x)))   i.e.  y = x + x * M(x)   (Eq. 1-2, broadcast)

f1, f2 are 3x3 convs with dilation 4 and padding 4 (size-preserving at any H, W); f0, f1, f2 are
each followed by BN + ReLU as in the official release. Parameters (convs before a BN carry no
bias): 3C^2/r + 18(C/r)^2 + 8C/r + 3C + 2.

Where we deviate from popular copies (we follow the paper):
- the two maps are **added** before the sigmoid; the official ``MODELS/bam.py`` multiplies them
  (issue #52) and cannot even be constructed (undefined ``gate_activation``);
- each branch ends in the BN the paper's equations put there (the official code has a hidden BN
  in the channel MLP instead and no final BN);
- dilated convs keep the map size (pad 4 for dilation 4), unlike copies with pad 1 / dilation 2
  that only work at 7x7; the channel MLP has one hidden layer, not three.

Init: the paper's residual form ``x + x * sigmoid(.)`` keeps the identity path, so gradients reach
the input at init; the output is x scaled per element by a factor in (1, 2) (about 1.5 at init).
We do not add a zero-init the paper does not have. The BN after global pooling needs a batch of
more than one sample in training mode. The paper places BAM between stages (``stage_out``).
"""

from __future__ import annotations

import torch
from torch import nn

from nas_attn.attention._common import require_positive
from nas_attn.attention._registry import AttentionInfo, integer, register_attention


def _conv_bn_relu(cin: int, cout: int, kernel: int, dilation: int = 1) -> list[nn.Module]:
    pad = dilation * (kernel // 2)
    return [
        nn.Conv2d(cin, cout, kernel, padding=pad, dilation=dilation, bias=False),
        nn.BatchNorm2d(cout),
        nn.ReLU(inplace=True),
    ]


@register_attention(
    AttentionInfo(
        name="bam",
        kind="channel+spatial",
        paper="Park et al., BAM: Bottleneck Attention Module, BMVC 2018, arXiv:1807.06514",
        uses_reduction=True,
        constraints=("training needs batch size > 1 (BN after global pooling)",),
        defaults={"reduction": 16, "dilation": 4},
        options={"dilation": integer(1, 16)},
    )
)
class BottleneckAttention(nn.Module):
    """Channel and spatial maps added, squashed, and applied in residual form."""

    def __init__(self, channels: int, reduction: int = 16, dilation: int = 4) -> None:
        super().__init__()
        require_positive("bam", reduction=reduction, dilation=dilation)
        hidden = max(1, channels // reduction)
        self.channel_gate = nn.Sequential(
            nn.Conv2d(channels, hidden, 1, bias=True),
            nn.ReLU(inplace=True),
            nn.Conv2d(hidden, channels, 1, bias=True),
            nn.BatchNorm2d(channels),
        )
        self.spatial_gate = nn.Sequential(
            *_conv_bn_relu(channels, hidden, 1),
            *_conv_bn_relu(hidden, hidden, 3, dilation),
            *_conv_bn_relu(hidden, hidden, 3, dilation),
            nn.Conv2d(hidden, 1, 1, bias=False),
            nn.BatchNorm2d(1),
        )

    def attention_map(self, x: torch.Tensor) -> torch.Tensor:
        """M(x) = sigmoid(Mc(x) + Ms(x)), broadcast to (N, C, H, W)."""
        mc = self.channel_gate(x.mean(dim=(2, 3), keepdim=True))  # (N, C, 1, 1)
        ms = self.spatial_gate(x)  # (N, 1, H, W)
        return torch.sigmoid(mc + ms)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x * (1.0 + self.attention_map(x))
