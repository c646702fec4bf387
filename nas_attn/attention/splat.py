"""Split-Attention convolution (ResNeSt).

Zhang, Wu, Zhang, Zhu, Lin, Zhang, Sun, He, Mueller, Manmatha, Li, Smola, "ResNeSt:
Split-Attention Networks", CVPRW 2022, arXiv:2004.08955.

    U   = ReLU(BN(GroupConv3x3_{C -> R C}(x)))    groups = K R (cardinality K = 1, radix R = 2)
    U_r = split(U, R) (C channels each);  s = GAP(sum_r U_r)
    a   = rSoftmax(FC2(ReLU(BN(FC1(s)))))          C -> inter -> R C, FCs grouped by K; softmax over
                                                   the R splits (sigmoid when R = 1)
    F   = sum_r a_r * U_r                          inter = max(R C // r, 32), r = 4 (the paper's factor)

Parameters: 9C^2/K + 3C * inter + 3 inter + 6C (K = 1, R = 2: conv without bias, FCs with bias).
``reduction`` is ResNeSt's reduction factor (default 4, not 16): the registry passes it.

Split attention replaces the 3x3 conv of a ResNeSt bottleneck; in an attention slot we return
``x + BN0(F(x))`` with a zero-initialised BN (our addition, the zero-init last-BN trick: the
identity at init, 2C extra parameters, see ``_common``). timm's
``SplitAttn`` has no norm layer unless given one; we keep the paper's BNs. The BN after global
pooling needs a batch of more than one sample in training mode.
"""

from __future__ import annotations

import torch
from torch import nn

from nas_attn.attention._common import divisors, require_divisible, require_positive, zero_init_bn
from nas_attn.attention._registry import AttentionInfo, integer, register_attention


@register_attention(
    AttentionInfo(
        name="splat",
        kind="conv",
        paper="Zhang et al., ResNeSt: Split-Attention Networks, CVPRW 2022, arXiv:2004.08955",
        uses_reduction=True,
        constraints=(
            "channels divisible by radix*cardinality (default 2*1)",
            "training needs batch size > 1 (BN after global pooling)",
        ),
        defaults={"reduction": 4, "radix": 2, "cardinality": 1, "min_inter": 32},
        options={"radix": integer(1, 8), "cardinality": integer(1, 64), "min_inter": integer(1, 4096)},
    )
)
class SplitAttentionConv(nn.Module):
    """Radix-split grouped 3x3 conv whose splits are mixed by a softmax over radix; residual at init."""

    def __init__(
        self, channels: int, reduction: int = 4, radix: int = 2, cardinality: int = 1, min_inter: int = 32
    ) -> None:
        super().__init__()
        require_positive(
            "splat", reduction=reduction, radix=radix, cardinality=cardinality, min_inter=min_inter
        )
        groups = radix * cardinality
        require_divisible(
            "splat",
            channels,
            groups,
            f"radix*cardinality={groups}",
            f"use a product in {divisors(channels)[:10]}",
        )
        inter = max(channels * radix // reduction, min_inter)
        inter += -inter % cardinality  # grouped FCs need inter divisible by the cardinality
        self.radix, self.cardinality = radix, cardinality
        self.conv = nn.Sequential(
            nn.Conv2d(channels, channels * radix, 3, padding=1, groups=groups, bias=False),
            nn.BatchNorm2d(channels * radix),
            nn.ReLU(inplace=True),
        )
        self.fc1 = nn.Sequential(
            nn.Conv2d(channels, inter, 1, groups=cardinality, bias=True),
            nn.BatchNorm2d(inter),
            nn.ReLU(inplace=True),
        )
        self.fc2 = nn.Conv2d(inter, channels * radix, 1, groups=cardinality, bias=True)
        self.out_bn = zero_init_bn(channels)

    def radix_weights(self, logits: torch.Tensor, channels: int) -> torch.Tensor:
        """rSoftmax: (N, R*C, 1, 1) logits laid out (K, R, C/K) -> (N, R, C, 1, 1) weights."""
        n = logits.shape[0]
        if self.radix == 1:
            return torch.sigmoid(logits).view(n, 1, channels, 1, 1)
        grouped = logits.view(n, self.cardinality, self.radix, -1).transpose(1, 2)  # (N, R, K, C/K)
        return torch.softmax(grouped, dim=1).reshape(n, self.radix, channels, 1, 1)

    def split_attention(self, x: torch.Tensor) -> torch.Tensor:
        """The split-attention conv output F(x) (before the zero-init residual BN)."""
        n, c, h, w = x.shape
        splits = self.conv(x).view(n, self.radix, c, h, w)
        logits = self.fc2(self.fc1(splits.sum(dim=1).mean(dim=(2, 3), keepdim=True)))
        return (splits * self.radix_weights(logits, c)).sum(dim=1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x + self.out_bn(self.split_attention(x))
