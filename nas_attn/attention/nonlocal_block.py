"""Non-local block (embedded Gaussian).

Wang, Girshick, Gupta, He, "Non-local Neural Networks", CVPR 2018, arXiv:1711.07971.

    theta, phi, g = Conv1x1_{C -> C/2}(x)             (with bias, as the released Caffe2 models)
    y = softmax_j(theta_i^T phi_j) g_j                 (embedded Gaussian, no 1/sqrt(d) scaling)
    z = BN(W_z y) + x                                  W_z: Conv1x1_{C/2 -> C}, BN gamma = 0 at init

Parameters: 3(C^2/2 + C/2) + (C^2/2 + C) + 2C = 2C^2 + 4.5C (C even; the bottleneck is C // 2).
The zero-initialised BN on W_z is the paper's own recipe, so the block is the identity at init.
The optional subsampling trick (max-pool after phi and g) is ``sub_sample=True``.

Where we deviate from popular copies: timm's ``NonLocalAttn`` uses a C/8 bottleneck and scales the
logits by C^-0.5; we follow the paper (C/2, unscaled softmax). Memory grows as (HW)^2.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

from nas_attn.attention._common import zero_init_bn
from nas_attn.attention._registry import AttentionInfo, flag, register_attention
from nas_attn.exceptions import NasAttnError


@register_attention(
    AttentionInfo(
        name="nonlocal",
        kind="self",
        paper="Wang et al., Non-local Neural Networks, CVPR 2018, arXiv:1711.07971",
        uses_reduction=False,
        constraints=("channels >= 2 (C/2 bottleneck)", "with sub_sample=True: H, W >= 2"),
        defaults={"sub_sample": False},
        options={"sub_sample": flag()},
    )
)
class NonLocalBlock(nn.Module):
    """Embedded-Gaussian non-local operation with a zero-initialised BN on W_z (residual)."""

    def __init__(self, channels: int, sub_sample: bool = False) -> None:
        super().__init__()
        if channels < 2:
            raise NasAttnError(f"nonlocal: needs at least 2 channels for its C/2 bottleneck, got {channels}")
        inter = channels // 2
        self.sub_sample = sub_sample
        self.theta = nn.Conv2d(channels, inter, 1, bias=True)
        self.phi = nn.Conv2d(channels, inter, 1, bias=True)
        self.g = nn.Conv2d(channels, inter, 1, bias=True)
        self.w_z = nn.Conv2d(inter, channels, 1, bias=True)
        self.bn = zero_init_bn(channels)

    def non_local(self, x: torch.Tensor) -> torch.Tensor:
        """y = softmax(theta^T phi) g, projected by W_z (before the zero-init BN)."""
        n, _, h, w = x.shape
        phi, g = self.phi(x), self.g(x)
        if self.sub_sample:
            phi, g = F.max_pool2d(phi, 2), F.max_pool2d(g, 2)
        theta = self.theta(x).flatten(2).transpose(1, 2)  # (N, HW, C/2)
        attn = torch.softmax(theta @ phi.flatten(2), dim=-1)  # (N, HW, HW')
        y = (attn @ g.flatten(2).transpose(1, 2)).transpose(1, 2)  # (N, C/2, HW)
        return self.w_z(y.reshape(n, -1, h, w))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x + self.bn(self.non_local(x))
