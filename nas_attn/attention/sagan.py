"""SAGAN self-attention.

Zhang, Goodfellow, Metaxas, Odena, "Self-Attention Generative Adversarial Networks", ICML 2019,
arXiv:1805.08318.

    f, g, h = Conv1x1_{C -> C/8}(x)                 (C-bar = C/8, paper Sec. 3)
    beta_{j,i} = softmax_i(f(x_i)^T g(x_j))          attention of output position j over inputs i
    o_j = v(sum_i beta_{j,i} h(x_i))                 v: Conv1x1_{C/8 -> C}
    y = gamma * o + x                                gamma: a learnable scalar initialised to 0

The 1x1 convs carry no bias (the paper writes plain weight matrices W_f, W_g, W_h, W_v), so the
module has 4 C (C // 8) + 1 parameters (C^2/2 + 1 for C % 8 == 0). gamma = 0 makes it the
identity at init, as in the paper.

Where we deviate from popular copies: a popular "SelfAttention" is token multi-head attention on
(B, HW, C) with d_k = C/h, not SAGAN; the official TF code pools h and g (4x fewer keys) and uses
C/2 for h and v; we follow the paper's C/8 for all three and no pooling.
"""

from __future__ import annotations

import torch
from torch import nn

from nas_attn.attention._registry import AttentionInfo, register_attention
from nas_attn.exceptions import NasAttnError


@register_attention(
    AttentionInfo(
        name="sagan",
        kind="self",
        paper="Zhang et al., Self-Attention Generative Adversarial Networks, ICML 2019, arXiv:1805.08318",
        uses_reduction=False,
        constraints=("channels >= 8 (C/8 query/key/value width)",),
    )
)
class SelfAttention2d(nn.Module):
    """SAGAN attention layer: y = gamma * attention(x) + x with gamma = 0 at init."""

    def __init__(self, channels: int) -> None:
        super().__init__()
        if channels < 8:
            raise NasAttnError(f"sagan: needs at least 8 channels (C/8 projections), got {channels}")
        inner = channels // 8
        self.f = nn.Conv2d(channels, inner, 1, bias=False)
        self.g = nn.Conv2d(channels, inner, 1, bias=False)
        self.h = nn.Conv2d(channels, inner, 1, bias=False)
        self.v = nn.Conv2d(inner, channels, 1, bias=False)
        self.gamma = nn.Parameter(torch.zeros(1))

    def attention(self, x: torch.Tensor) -> torch.Tensor:
        """o = v(h beta^T) on (N, C, H, W)."""
        n, _, hgt, wid = x.shape
        f = self.f(x).flatten(2)  # (N, C/8, HW): inputs i
        g = self.g(x).flatten(2)  # (N, C/8, HW): outputs j
        beta = torch.softmax(g.transpose(1, 2) @ f, dim=-1)  # (N, j, i), normalised over i
        o = self.h(x).flatten(2) @ beta.transpose(1, 2)  # (N, C/8, j)
        return self.v(o.reshape(n, -1, hgt, wid))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x + self.gamma * self.attention(x)
