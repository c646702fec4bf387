"""ParNet block with Skip-Squeeze-Excitation (SSE).

Goyal, Bochkovskiy, Deng, Koltun, "Non-deep Networks", NeurIPS 2022, arXiv:2110.07641.

    b = BN_s(x)
    F = SiLU(BN_3(Conv3x3(x)) + BN_1(Conv1x1(x)) + b * sigmoid(Conv1x1(GAP(b))))

The 3x3 and 1x1 convs carry no bias (a BN follows); the SSE 1x1 conv (C -> C, no reduction, as
the paper's SSE) has one. Parameters: 9C^2 + C^2 + C^2 + C + 3 * 2C = 11C^2 + 7C.

Where we deviate: a popular copy drops the BN on the skip branch; we keep it (as the paper and
the official ``repvgg.py``). The ParNet block replaces its input; in an attention slot we return
``x + F(x)`` with the three branch BNs' gamma and beta initialised to zero, so F(x) = SiLU(0) = 0
and the module is the identity at init (zero-init last BN, see ``_common``).
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

from nas_attn.attention._common import zero_init_bn
from nas_attn.attention._registry import AttentionInfo, register_attention


@register_attention(
    AttentionInfo(
        name="parnet",
        kind="conv",
        paper="Goyal et al., Non-deep Networks (ParNet SSE block), NeurIPS 2022, arXiv:2110.07641",
        uses_reduction=False,
    )
)
class ParNetAttention(nn.Module):
    """3x3 + 1x1 conv branches plus a skip branch gated by SSE, summed and SiLU'd; residual at init."""

    def __init__(self, channels: int) -> None:
        super().__init__()
        self.conv3 = nn.Conv2d(channels, channels, 3, padding=1, bias=False)
        self.bn3 = zero_init_bn(channels)
        self.conv1 = nn.Conv2d(channels, channels, 1, bias=False)
        self.bn1 = zero_init_bn(channels)
        self.bn_skip = zero_init_bn(channels)
        self.sse = nn.Conv2d(channels, channels, 1, bias=True)

    def block(self, x: torch.Tensor) -> torch.Tensor:
        """The ParNet block output F(x)."""
        skip = self.bn_skip(x)
        gate = torch.sigmoid(self.sse(skip.mean(dim=(2, 3), keepdim=True)))
        return F.silu(self.bn3(self.conv3(x)) + self.bn1(self.conv1(x)) + skip * gate)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x + self.block(x)
