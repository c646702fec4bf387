"""Selective Kernel convolution (SKNet).

Li, Wang, Hu, Yang, "Selective Kernel Networks", CVPR 2019, arXiv:1903.06586.

    U_1 = ReLU(BN(GConv3x3(x)))      U_2 = ReLU(BN(GConv3x3_dilation2(x)))   (groups G = 32)
    z   = ReLU(BN(W_z GAP(U_1 + U_2)))                          (C -> d, d = max(C // r, L = 32))
    a   = softmax over branches of (A_1 z, A_2 z)               (d -> C each)
    F   = a_1 * U_1 + a_2 * U_2

Parameters of the SK unit: 2 * 9C^2/G + 3Cd (+ BN terms and the per-branch biases):
18C^2/G + 3Cd + 6C + 2d. Each branch sees all input channels, as in the paper (timm splits the
input channels across the paths by default; popular copies use kernels 1/3/5/7, ungrouped convs
and an FC without BN/ReLU).

SK *replaces* the 3x3 conv of a block. Placed in an attention slot it would replace the features,
so we return ``x + BN0(F(x))`` with a zero-initialised BN (our addition, the zero-init last-BN
trick, see ``_common``): the identity at init, 2C extra parameters.
"""

from __future__ import annotations

import torch
from torch import nn

from nas_attn.attention._common import divisors, require_divisible, require_positive, zero_init_bn
from nas_attn.attention._registry import AttentionInfo, integer, register_attention


@register_attention(
    AttentionInfo(
        name="sk",
        kind="conv",
        paper="Li et al., Selective Kernel Networks, CVPR 2019, arXiv:1903.06586",
        uses_reduction=True,
        constraints=(
            "channels divisible by groups (default 32)",
            "training needs batch size > 1 (BN after global pooling)",
        ),
        defaults={"reduction": 16, "groups": 32, "min_dim": 32},
        options={"groups": integer(1, 1024), "min_dim": integer(1, 4096)},
    )
)
class SelectiveKernel(nn.Module):
    """Two grouped 3x3 paths (dilation 1 and 2) mixed by a softmax over paths, in residual form."""

    def __init__(self, channels: int, reduction: int = 16, groups: int = 32, min_dim: int = 32) -> None:
        super().__init__()
        require_positive("sk", reduction=reduction, groups=groups, min_dim=min_dim)
        require_divisible("sk", channels, groups, f"groups={groups}", f"use groups in {divisors(channels)}")
        dim = max(channels // reduction, min_dim)
        self.branches = nn.ModuleList(
            nn.Sequential(
                nn.Conv2d(channels, channels, 3, padding=d, dilation=d, groups=groups, bias=False),
                nn.BatchNorm2d(channels),
                nn.ReLU(inplace=True),
            )
            for d in (1, 2)
        )
        self.fc = nn.Sequential(
            nn.Conv2d(channels, dim, 1, bias=False), nn.BatchNorm2d(dim), nn.ReLU(inplace=True)
        )
        self.select = nn.ModuleList(nn.Conv2d(dim, channels, 1, bias=True) for _ in range(2))
        self.out_bn = zero_init_bn(channels)

    def selective_kernel(self, x: torch.Tensor) -> torch.Tensor:
        """The SK unit output F(x) (before the zero-init residual BN)."""
        paths = torch.stack([branch(x) for branch in self.branches], dim=1)  # (N, 2, C, H, W)
        z = self.fc(paths.sum(dim=1).mean(dim=(2, 3), keepdim=True))  # (N, d, 1, 1)
        logits = torch.stack([fc(z) for fc in self.select], dim=1)  # (N, 2, C, 1, 1)
        return (paths * torch.softmax(logits, dim=1)).sum(dim=1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x + self.out_bn(self.selective_kernel(x))
